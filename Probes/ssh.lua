-- SSH: the server speaks first with "SSH-protoversion-software comments" (RFC 4253, 4.2).
-- The software field: Lua pattern (the capture is the version), product, CPE prefix, OS, device.
local products = {
  { "^OpenSSH_for_Windows_([%w%.]+)$", "OpenSSH for Windows", "cpe:/a:openbsd:openssh", "Windows" },
  { "^OpenSSH_([%w%.%-]+)$", "OpenSSH", "cpe:/a:openbsd:openssh" },
  { "^dropbear_([%w%.%-]+)$", "Dropbear sshd", "cpe:/a:matt_johnston:dropbear_ssh_server" },
  { "^dropbear$", "Dropbear sshd", "cpe:/a:matt_johnston:dropbear_ssh_server" },
  { "^tinyssh_([%w%.%-]+)$", "TinySSH", "cpe:/a:tinyssh:tinyssh" },
  { "^libssh[_%-]([%w%.%-]+)$", "libssh", "cpe:/a:libssh:libssh" },
  { "^libssh2_([%w%.%-]+)$", "libssh2", "cpe:/a:libssh2:libssh2" },
  { "^ROSSSH$", "MikroTik RouterOS sshd", "cpe:/o:mikrotik:routeros", "RouterOS", "router" },
  { "^Cisco%-([%d%.]+)$", "Cisco SSH", "cpe:/o:cisco:ios", "IOS", "router" },
  { "^HUAWEI%-([%d%.]+)$", "Huawei VRP sshd", "cpe:/o:huawei:vrp", "VRP", "router" },
  { "^Comware%-([%d%.]+)$", "HPE Comware sshd", "cpe:/o:hp:comware", "Comware", "switch" },
  { "^NetScreen$", "NetScreen sshd", "cpe:/o:juniper:netscreen_screenos", "ScreenOS", "firewall" },
  { "^RomSShell_([%w%.]+)$", "Allegro RomSShell", "cpe:/a:allegrosoft:romsshell" },
  { "^mpSSH_([%w%.]+)$", "HP Integrated Lights-Out mpSSH", "cpe:/h:hp:integrated_lights-out", nil, "remote management" },
  { "^mod_sftp$", "ProFTPD mod_sftp", "cpe:/a:proftpd:proftpd" },
  { "^mod_sftp/([%w%.]+)$", "ProFTPD mod_sftp", "cpe:/a:proftpd:proftpd" },
  { "^APACHE%-SSHD%-([%w%.]+)$", "Apache MINA sshd", "cpe:/a:apache:sshd" },
  { "^SSHD%-CORE%-([%w%.%-]+)$", "Apache MINA sshd", "cpe:/a:apache:sshd" },
  { "^paramiko_([%w%.]+)$", "Paramiko", "cpe:/a:paramiko:paramiko" },
  { "^AsyncSSH_([%w%.]+)$", "AsyncSSH", "cpe:/a:asyncssh_project:asyncssh" },
  { "^Twisted_([%w%.]+)$", "Twisted Conch sshd", "cpe:/a:twistedmatrix:twisted" },
  { "^Twisted$", "Twisted Conch sshd", "cpe:/a:twistedmatrix:twisted" },
  { "^Go$", "Go x/crypto/ssh server", "cpe:/a:golang:crypto" },
  { "^JSCH%-([%w%.]+)$", "JSch", "cpe:/a:jcraft:jsch" },
  { "^Erlang/([%w%.]+)$", "Erlang/OTP ssh", "cpe:/a:erlang:erlang%2fotp" },
  { "^russh_([%w%.]+)$", "russh", "cpe:/a:russh_project:russh" },
  { "^WeOnlyDo", "WeOnlyDo sshd" },
  { "^Serv%-U_([%w%.]+)$", "Serv-U SSH Server", "cpe:/a:solarwinds:serv-u", "Windows" },
  { "^Sun_SSH_([%w%.]+)$", "SunSSH", "cpe:/a:sun:sunssh", "Solaris" },
  { "^CrushFTPSSHD$", "CrushFTP sftpd", "cpe:/a:crushftp:crushftp" },
  { "^ConfD%-([%w%.]+)$", "Tail-f ConfD sshd", "cpe:/a:tail-f:confd" },
  { "^billsSSH_([%w%.]+)$", "billsSSH" },
  { "^([%d%.]+) FlowSsh:", "Bitvise SSH Server", "cpe:/a:bitvise:winsshd", "Windows" },
  { "^([%d%.]+) SSH Secure Shell", "SSH Communications Security sshd", "cpe:/a:ssh:ssh2" },
}

return {
  name = "ssh",
  description = "SSH servers: protocol, product and version from the identification string",
  categories = { "default", "safe", "version" },
  ports = { 22 },
  rarity = 1,

  run = function(host, port)
    if port.silent then return nil end
    local banner = port.banner
    if not banner then
      local sock = socket.connect(host, port)
      if not sock then return nil end
      banner = sock:receive_line(5000)
      sock:close()
      if not banner then return nil end
    end
    local line = banner:match("^(SSH%-[^\r\n]*)")
    if not line then return nil end
    local protocol, software, comments = line:match("^SSH%-([%d%.]+)%-(%S+)%s*(.*)$")
    if not protocol then return nil end

    software, comments = software:sub(1, 256), comments:sub(1, 256)
    local result = { name = "ssh", extra = "protocol " .. protocol }
    for _, p in ipairs(products) do
      -- A pattern with a space reads on into the comments ("7.45 FlowSsh: Bitvise ...").
      local subject = p[1]:find(" ", 1, true) and (software .. " " .. comments) or software
      local found, _, version = subject:find(p[1])
      if found then
        result.product, result.version = p[2], version
        if p[3] then result.cpe = version and (p[3] .. ":" .. version) or p[3] end
        result.os, result.device_type = p[4], p[5]
        break
      end
    end
    if not result.product then result.product = software:sub(1, 60) end
    if comments ~= "" then
      result.extra = comments .. "; " .. result.extra
      local distro = comments:match("^(%a+)")
      if distro == "Debian" or distro == "Ubuntu" or distro == "FreeBSD" then result.os = distro end
    end
    return result
  end,
}
