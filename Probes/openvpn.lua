-- OpenVPN over UDP: a client hard reset; a server without tls-auth/tls-crypt answers with its
-- own reset naming our session.
local openvpn = require("openvpn")

return {
  name = "openvpn",
  description = "OpenVPN servers (UDP) without tls-auth: the server's hard reset",
  categories = { "default", "safe" },
  protocol = "udp",
  ports = { 1194 },
  rarity = 6,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local packet, session = openvpn.reset()
    for _ = 1, 2 do
      sock:send(packet)
      local data, reason = sock:receive(2000)
      local result = openvpn.parse(data, session)
      if result then sock:close() return result end
      if not data and reason ~= "timeout" then break end
    end
    sock:close()
    return nil
  end,
}
