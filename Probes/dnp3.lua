-- DNP3 (IEEE 1815) outstations over TCP: a data-link REQUEST LINK STATUS (function 9) from
-- master address 3 to the broadcast-free "any" destination 0xFFFC is answered by LINK STATUS
-- (function 11) with the outstation's own address. Link layer only: nothing is read from or
-- written to the application.
local function crc(data) -- CRC-16/DNP: reflected polynomial 0xA6BC, result inverted
  local value = 0
  for i = 1, #data do
    value = value ~ data:byte(i)
    for _ = 1, 8 do
      if value & 1 ~= 0 then value = (value >> 1) ~ 0xA6BC else value = value >> 1 end
    end
  end
  return (~value) & 0xffff
end

return {
  name = "dnp3",
  description = "DNP3 outstations: the link status answer and the outstation's address",
  categories = { "default", "safe" },
  ports = { 20000 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- an outstation never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local header = string.pack("<BBBBI2I2", 0x05, 0x64, 5, 0xC9, 0xFFFC, 3) -- DIR, PRM, FC 9
    sock:send(header .. string.pack("<I2", crc(header)))
    local reply = sock:receive_bytes(10, 2000)
    sock:close()
    if not reply then return nil end
    local start1, start2, length, control, destination, source, check = string.unpack("<BBBBI2I2I2", reply)
    if start1 ~= 0x05 or start2 ~= 0x64 or length < 5 or check ~= crc(reply:sub(1, 8)) then return nil end
    local result = { name = "dnp3", device_type = "specialized" }
    local notes = { string.format("outstation address %d", source), string.format("master address %d", destination) }
    if control & 0x0f == 11 then table.insert(notes, 1, "LINK STATUS") end
    result.extra = table.concat(notes, "; ")
    return result
  end,
}
