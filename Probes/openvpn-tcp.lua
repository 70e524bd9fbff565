-- OpenVPN over TCP: the client hard reset after a 2-byte length; a server without
-- tls-auth/tls-crypt answers with its own reset naming our session.
local openvpn = require("openvpn")

return {
  name = "openvpn-tcp",
  description = "OpenVPN servers (TCP) without tls-auth: the server's hard reset",
  categories = { "default", "safe" },
  ports = { 1194 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- an OpenVPN server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local packet, session = openvpn.reset()
    sock:send(string.pack(">s2", packet))
    local head = sock:receive_bytes(2, 2000)
    local size = head and string.unpack(">I2", head)
    local data = size and size >= 26 and size <= 1500 and sock:receive_bytes(size, 2000)
    sock:close()
    return data and openvpn.parse(data, session)
  end,
}
