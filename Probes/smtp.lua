-- SMTP: the "220" greeting (RFC 5321), which names the host and usually the product
-- ("220 mx.example ESMTP Postfix (Debian/GNU)"). A 220 greeting that does not tell SMTP from FTP
-- (it mentions both or neither) is settled with EHLO, which only an SMTP server answers with "250".
local greeting = require("greeting")

-- Lua pattern (an optional capture is the version), product, CPE prefix, OS.
local products = {
  { "Postfix", "Postfix", "cpe:/a:postfix:postfix" },
  { "Exim ([%d%.]+)", "Exim", "cpe:/a:exim:exim" },
  { "Sendmail ([%d%.]+)", "Sendmail", "cpe:/a:sendmail:sendmail" },
  { "Sendmail", "Sendmail", "cpe:/a:sendmail:sendmail" },
  { "OpenSMTPD", "OpenSMTPD", "cpe:/a:openbsd:opensmtpd" },
  { "Microsoft ESMTP MAIL Service, Version: ([%d%.]+)", "Microsoft ESMTP",
    "cpe:/a:microsoft:internet_information_services", "Windows" },
  { "Microsoft ESMTP MAIL Service", "Microsoft Exchange smtpd", "cpe:/a:microsoft:exchange_server", "Windows" },
  { "Haraka/([%d%.]+)", "Haraka", "cpe:/a:haraka_project:haraka" },
  { "hMailServer", "hMailServer", "cpe:/a:hmailserver:hmailserver", "Windows" },
  { "MailEnable", "MailEnable smtpd", "cpe:/a:mailenable:mailenable", "Windows" },
  { "MDaemon ([%d%.]+)", "MDaemon", "cpe:/a:alt-n:mdaemon", "Windows" },
  { "Kerio Connect ([%d%.]+)", "Kerio Connect", "cpe:/a:kerio:connect" },
  { "IceWarp ([%d%.]+)", "IceWarp", "cpe:/a:icewarp:mail_server" },
  { "ZMailer Server ([%d%.]+)", "ZMailer", "cpe:/a:zmailer:zmailer" },
  { "Python SMTP ([%d%.]+)", "aiosmtpd", "cpe:/a:aiosmtpd_project:aiosmtpd" },
  { "Zimbra", "Zimbra smtpd", "cpe:/a:zimbra:collaboration_server" },
}

return {
  name = "smtp",
  description = "SMTP servers: product, version and host name from the greeting",
  categories = { "default", "safe", "version" },
  ports = { 25, 587 },
  rarity = 2,
  tls = true, -- SMTP submission over implicit TLS (port 465)

  run = function(host, port)
    local text, sock = greeting.read(host, port, true)
    local smtp_like = text and text:match("SMTP")
    local ftp_like = text and text:upper():match("FTP")
    if not text or not text:match("^220") or (ftp_like and not smtp_like) then
      if sock then sock:close() end
      return nil
    end

    local result = { name = "smtp" }
    if not smtp_like or ftp_like then
      local reply
      reply, sock = greeting.ask(host, port, sock, "EHLO cartograph.invalid\r\n", "^250")
      if not reply then return nil end
      -- Read the rest of the multi-line 250 reply before QUIT.
      while reply and reply:match("^250%-") do reply = sock:receive_line(2000) end
    end
    greeting.close(sock, "QUIT\r\n")

    greeting.identify(text, products, result)
    result.os = result.os or greeting.distro(text)
    -- The first word after the code is the server's name for itself.
    local name = text:match("^220[ %-]([%w%-]+%.[%w%.%-]+)")
    if name and name:match("%a") then result.hostnames = { name } end
    if not result.product then result.extra = greeting.first_line(text) end
    return result
  end,
}
