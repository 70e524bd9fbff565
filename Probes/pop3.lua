-- POP3: the "+OK" greeting (RFC 1939); Dovecot, Cyrus and Qpopper name themselves in it
-- ("+OK Dovecot (Debian) ready.").
local greeting = require("greeting")

-- Lua pattern (an optional capture is the version), product, CPE prefix.
local products = {
  { "Dovecot", "Dovecot", "cpe:/a:dovecot:dovecot" },
  { "Cyrus POP3 v?([%d%.]+)", "Cyrus pop3d", "cpe:/a:cmu:cyrus_imap_server" },
  { "Qpopper %(version ([%d%.]+)%)", "Qpopper", "cpe:/a:qualcomm:qpopper" },
  { "^%+OK Hello there", "Courier pop3d", "cpe:/a:courier-mta:courier" },
  { "The Microsoft Exchange POP3 service is ready", "Microsoft Exchange pop3d", "cpe:/a:microsoft:exchange_server",
    "Windows" },
  { "Zimbra POP3", "Zimbra pop3d", "cpe:/a:zimbra:collaboration_server" },
  { "POP3 server %(Version ([%d%.]+)", "UW ipop3d", "cpe:/a:university_of_washington:imap_toolkit" },
}

return {
  name = "pop3",
  description = "POP3 servers: product and version from the greeting",
  categories = { "default", "safe", "version" },
  ports = { 110 },
  rarity = 2,
  tls = true, -- POP3S (port 995)

  run = function(host, port)
    local text, sock = greeting.read(host, port, false)
    if not text or not text:match("^%+OK") then
      if sock then sock:close() end
      return nil
    end
    greeting.close(sock, "QUIT\r\n")

    local result = { name = "pop3", os = greeting.distro(text) }
    greeting.identify(text, products, result)
    if not result.product then result.extra = greeting.first_line(text) end
    return result
  end,
}
