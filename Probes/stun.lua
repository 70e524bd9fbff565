-- STUN and TURN servers over UDP: a Binding request (RFC 8489); the response's SOFTWARE
-- attribute names the server (coturn, ...).
local stun = require("stun")
local udp = require("udp")

return {
  name = "stun",
  description = "STUN/TURN servers (UDP): product and version from the Binding response's SOFTWARE",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 3478, 19302 },
  rarity = 5,

  run = function(host, port)
    local request, id = stun.request()
    local data = udp.exchange(host, port, request, function(d) return stun.parse(d, id) ~= nil end, 1500)
    return data and stun.parse(data, id)
  end,
}
