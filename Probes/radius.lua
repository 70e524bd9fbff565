-- RADIUS (RFC 2865): an Access-Request for a user nobody has, with no password; a server that
-- knows our address as a client answers Access-Reject (or Access-Challenge) with our
-- identifier. Servers stay silent to unknown clients (RFC 2865 3): no answer proves nothing.
local udp = require("udp")

local codes = { [2] = "Access-Accept", [3] = "Access-Reject", [11] = "Access-Challenge" }

return {
  name = "radius",
  description = "RADIUS servers: the answer to an Access-Request for a nonexistent user",
  categories = { "default", "safe" },
  protocol = "udp",
  ports = { 1812, 1645 },
  rarity = 6,

  run = function(host, port)
    local id = math.random(0, 255)
    local authenticator = string.pack(">I4I4I4I4", math.random(0, 0xffffffff), math.random(0, 0xffffffff),
                                      math.random(0, 0xffffffff), math.random(0, 0xffffffff))
    local user = "cartograph-probe-nobody"
    local attributes = string.pack(">BBc" .. #user, 1, 2 + #user, user) -- User-Name
      .. string.pack(">BBI4", 61, 6, 5) -- NAS-Port-Type: Virtual
    local packet = string.pack(">BBI2", 1, id, 20 + #attributes) .. authenticator .. attributes
    local data = udp.exchange(host, port, packet, function(d)
      if #d < 20 then return false end
      local code, answer_id, length = string.unpack(">BBI2", d)
      return codes[code] ~= nil and answer_id == id and length == #d
    end, 2500)
    if not data then return nil end
    local result = { name = "radius", extra = codes[data:byte(1)] }
    local pos = 21 -- Reply-Message (18), when the server sends one
    for _ = 1, 32 do
      if pos + 1 > #data then break end
      local kind, size = data:byte(pos, pos + 1)
      if size < 2 then break end
      if kind == 18 then
        result.extra = result.extra .. "; " .. data:sub(pos + 2, pos + size - 1):gsub("[^%g ]", ""):sub(1, 80)
      end
      pos = pos + size
    end
    return result
  end,
}
