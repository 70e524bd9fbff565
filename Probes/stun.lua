-- STUN and TURN servers over UDP: a Binding request (RFC 8489); the response's SOFTWARE
-- attribute names the server (coturn, ...).
local stun = require("stun")

return {
  name = "stun",
  description = "STUN/TURN servers (UDP): product and version from the Binding response's SOFTWARE",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 3478, 19302 },
  rarity = 5,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local request, id = stun.request()
    for _ = 1, 2 do
      sock:send(request)
      local data, reason = sock:receive(1500)
      local result = stun.parse(data, id)
      if result then sock:close() return result end
      if not data and reason ~= "timeout" then break end
    end
    sock:close()
    return nil
  end,
}
