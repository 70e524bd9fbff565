-- OpenVPN over UDP: a client hard reset; a server without tls-auth/tls-crypt answers with its
-- own reset naming our session.
local openvpn = require("openvpn")
local udp = require("udp")

return {
  name = "openvpn",
  description = "OpenVPN servers (UDP) without tls-auth: the server's hard reset",
  categories = { "default", "safe" },
  protocol = "udp",
  ports = { 1194 },
  rarity = 6,

  run = function(host, port)
    local packet, session = openvpn.reset()
    local data = udp.exchange(host, port, packet, function(d) return openvpn.parse(d, session) ~= nil end)
    return data and openvpn.parse(data, session)
  end,
}
