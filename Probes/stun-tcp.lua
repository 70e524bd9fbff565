-- STUN and TURN servers over TCP: the same Binding request, unframed (RFC 8489 7.2.2).
local stun = require("stun")

return {
  name = "stun-tcp",
  description = "STUN/TURN servers (TCP): product and version from the Binding response's SOFTWARE",
  categories = { "default", "safe", "version" },
  ports = { 3478 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- a STUN server never speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    local request, id = stun.request()
    sock:send(request)
    local head = sock:receive_bytes(20, 2000)
    local length = head and string.unpack(">I2", head, 3)
    local body = length and length <= 2048 and (length == 0 and "" or sock:receive_bytes(length, 2000))
    sock:close()
    return body and stun.parse(head .. body, id)
  end,
  tls = true,
}
