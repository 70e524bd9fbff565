-- SSH: the server speaks first with "SSH-protoversion-software comments" (RFC 4253, 4.2).
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

    local result = { name = "ssh", extra = "protocol " .. protocol }
    local product, version = software:match("^([%a][%w]-)_([%w%.%-]+)$")
    if product == "OpenSSH" then
      result.product, result.version = "OpenSSH", version
      result.cpe = "cpe:/a:openbsd:openssh:" .. version
    elseif product == "dropbear" then
      result.product, result.version = "Dropbear sshd", version
      result.cpe = "cpe:/a:matt_johnston:dropbear_ssh_server:" .. version
    else
      result.product = software
    end
    if comments ~= "" then
      result.extra = comments .. "; " .. result.extra
      local distro = comments:match("^(%a+)")
      if distro == "Debian" or distro == "Ubuntu" or distro == "FreeBSD" then result.os = distro end
    end
    return result
  end,
}
