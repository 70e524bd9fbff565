-- FTP: the "220" greeting (RFC 959), with product and version where it names them
-- ("220 (vsFTPd 3.0.3)"). A 220 greeting that does not tell FTP from SMTP (it mentions both or
-- neither) is settled with SYST, which an FTP server answers with "215" and an SMTP server rejects.
local greeting = require("greeting")

-- Lua pattern (an optional capture is the version), product, CPE prefix, OS.
local products = {
  { "vsFTPd ([%d%.]+)", "vsftpd", "cpe:/a:beasts:vsftpd" },
  { "ProFTPD ([%d%.]+%a*%d*)", "ProFTPD", "cpe:/a:proftpd:proftpd" },
  -- Since 1.3.6 ProFTPD keeps its version out of the greeting: "220 ProFTPD Server (Debian) [addr]".
  { "ProFTPD Server", "ProFTPD", "cpe:/a:proftpd:proftpd" },
  { "Pure%-FTPd", "Pure-FTPd", "cpe:/a:pureftpd:pure-ftpd" },
  { "FileZilla Server v?([%d%.]+)", "FileZilla Server", "cpe:/a:filezilla-project:filezilla_server", "Windows" },
  { "Microsoft FTP Service", "Microsoft ftpd", "cpe:/a:microsoft:internet_information_services",
    "Windows" },
  { "Serv%-U FTP Server v([%d%.]+)", "Serv-U ftpd", "cpe:/a:solarwinds:serv-u", "Windows" },
  { "pyftpdlib ([%d%.]+)", "pyftpdlib", "cpe:/a:giampaolo_rodola:pyftpdlib" },
  { "Twisted ([%d%.]+) FTP Server", "Twisted ftpd", "cpe:/a:twistedmatrix:twisted" },
  { "bftpd ([%d%.]+)", "bftpd", "cpe:/a:bftpd_project:bftpd" },
  { "FTP server %(Version wu%-([%d%.]+)", "WU-FTPD", "cpe:/a:washington_university:wu-ftpd" },
  { "wu%-([%d%.]+%(%d+%))", "WU-FTPD", "cpe:/a:washington_university:wu-ftpd" },
  { "CrushFTP Server", "CrushFTP", "cpe:/a:crushftp:crushftp" },
  { "Gene6 FTP Server v([%d%.]+)", "Gene6 ftpd", "cpe:/a:gene6:g6_ftp_server", "Windows" },
  { "WarFTPd ([%d%.]+)", "WarFTPd", "cpe:/a:jgaa:warftpd", "Windows" },
  { "Xlight FTP Server ([%d%.]+)", "Xlight ftpd", "cpe:/a:xlightftpd:xlight_ftp_server", "Windows" },
  { "glFTPd ([%d%.]+)", "glFTPd", "cpe:/a:glftpd:glftpd" },
  { "MikroTik FTP server %(MikroTik ([%d%.]+)%)", "MikroTik router ftpd", "cpe:/o:mikrotik:routeros", "RouterOS" },
  { "FTP server %(Version (6%.%d+LS)%)", "FreeBSD ftpd", "cpe:/o:freebsd:freebsd", "FreeBSD" },
  { "Welcome to the DrFTPD", "DrFTPD", "cpe:/a:drftpd:drftpd" },
}

return {
  name = "ftp",
  description = "FTP servers: product and version from the greeting",
  categories = { "default", "safe", "version" },
  ports = { 21 },
  rarity = 2,
  tls = true, -- FTPS (implicit TLS, port 990)

  run = function(host, port)
    local text, sock = greeting.read(host, port, true)
    local ftp_like = text and text:upper():match("FTP")
    local smtp_like = text and text:match("SMTP")
    if not text or not text:match("^220") or (smtp_like and not ftp_like) then
      if sock then sock:close() end
      return nil
    end

    local result = { name = "ftp" }
    if not ftp_like or smtp_like then
      local reply
      reply, sock = greeting.ask(host, port, sock, "SYST\r\n", "^215")
      if not reply then return nil end
      result.extra = "SYST: " .. reply:sub(5, 80)
    end
    greeting.close(sock, "QUIT\r\n")

    greeting.identify(text, products, result)
    if not result.product then
      local line = greeting.first_line(text)
      result.extra = result.extra and (line .. "; " .. result.extra) or line
    end
    result.os = result.os or greeting.distro(text)
    return result
  end,
}
