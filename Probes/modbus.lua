-- Modbus/TCP: Read Device Identification (function 43, MEI type 14, basic objects; Modbus
-- Application Protocol 1.1b3, 6.21), a read-only request. The answer gives vendor, product
-- code and revision; an exception answer (e.g. illegal function) still proves Modbus.
local objects = { [0] = "vendor", [1] = "product code", [2] = "revision", [4] = "product name",
                  [5] = "model" }

return {
  name = "modbus",
  description = "Modbus/TCP devices: vendor, product and revision from Read Device Identification",
  categories = { "default", "safe", "version" },
  ports = { 502 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- a Modbus server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local tid = math.random(1, 0xffff)
    sock:send(string.pack(">I2I2I2BBBBB", tid, 0, 5, 0, 0x2b, 0x0e, 1, 0))
    local head = sock:receive_bytes(7, 2000)
    if not head then sock:close() return nil end
    local answer_tid, protocol, length = string.unpack(">I2I2I2", head)
    if answer_tid ~= tid or protocol ~= 0 or length < 2 or length > 260 then sock:close() return nil end
    local pdu = sock:receive_bytes(length - 1, 2000)
    sock:close()
    if not pdu then return nil end
    local fc = pdu:byte(1)
    if fc == 0xab then
      return { name = "modbus", extra = string.format("exception %d to Read Device Identification", pdu:byte(2) or 0) }
    end
    if fc ~= 0x2b or pdu:byte(2) ~= 0x0e or #pdu < 7 then return nil end
    local count, pos, values = pdu:byte(7), 8, {}
    for _ = 1, math.min(count, 16) do
      local id, size = pdu:byte(pos, pos + 1)
      if not size then break end
      values[id] = pdu:sub(pos + 2, pos + 1 + size):gsub("[^%g ]", ""):sub(1, 80)
      pos = pos + 2 + size
    end
    local result = { name = "modbus", product = values[4] or values[1], version = values[2] }
    local notes = {}
    for id = 0, 5 do
      if values[id] then notes[#notes + 1] = objects[id] .. " " .. values[id] end
    end
    if #notes > 0 then result.extra = table.concat(notes, "; ") end
    if values[0] and result.product and not result.product:find(values[0], 1, true) then
      result.product = values[0] .. " " .. result.product
    end
    return result
  end,
}
