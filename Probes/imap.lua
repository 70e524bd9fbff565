-- IMAP: the "* OK" / "* PREAUTH" greeting (RFC 9051), often with the server's capabilities;
-- Dovecot, Cyrus, Courier, UW and Exchange name themselves in it
-- ("* OK [CAPABILITY IMAP4rev1 ... STARTTLS] Dovecot (Debian) ready.").
local greeting = require("greeting")

-- Lua pattern (an optional capture is the version), product, CPE prefix, OS.
local products = {
  { "Dovecot", "Dovecot", "cpe:/a:dovecot:dovecot" },
  { "Cyrus IMAP v?([%d%.]+)", "Cyrus imapd", "cpe:/a:cmu:cyrus_imap_server" },
  { "Courier%-IMAP", "Courier imapd", "cpe:/a:courier-mta:courier-imap" },
  { "IMAP4rev1 (20%d%d%a*%.?%d*) at", "UW imapd", "cpe:/a:university_of_washington:imap_toolkit" },
  { "Microsoft Exchange", "Microsoft Exchange imapd", "cpe:/a:microsoft:exchange_server", "Windows" },
  { "The Microsoft Exchange IMAP4 service is ready", "Microsoft Exchange imapd", "cpe:/a:microsoft:exchange_server",
    "Windows" },
  { "Zimbra IMAP4rev1", "Zimbra imapd", "cpe:/a:zimbra:collaboration_server" },
  { "Gimap ready", "Google Gmail imapd" },
  { "hMailServer", "hMailServer imapd", "cpe:/a:hmailserver:hmailserver", "Windows" },
  { "IceWarp", "IceWarp imapd", "cpe:/a:icewarp:mail_server" },
}

return {
  name = "imap",
  description = "IMAP servers: product, version and capabilities from the greeting",
  categories = { "default", "safe", "version" },
  ports = { 143 },
  rarity = 2,
  tls = true, -- IMAPS (port 993)

  run = function(host, port)
    local text, sock = greeting.read(host, port, false)
    if not text or not (text:match("^%* OK") or text:match("^%* PREAUTH")) then
      if sock then sock:close() end
      return nil
    end
    greeting.close(sock, "a1 LOGOUT\r\n")

    local result = { name = "imap", os = greeting.distro(text) }
    greeting.identify(text, products, result)
    local capabilities = text:match("%[CAPABILITY ([^%]]*)%]")
    if capabilities then
      result.extra = "capabilities: " .. capabilities:sub(1, 150)
    elseif not result.product then
      result.extra = greeting.first_line(text)
    end
    return result
  end,
}
