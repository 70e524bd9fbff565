-- BACnet/IP devices (ASHRAE 135 annex J): a confirmed ReadProperty of the device object
-- (wildcard instance 4194303) for vendor-name, then model-name and firmware-revision, each a
-- read-only request sent to the device itself; any BACnet answer (even an Error or Reject
-- PDU) proves the protocol.
local udp = require("udp")

local PROPERTIES = { { 121, "vendor" }, { 70, "model" }, { 44, "firmware" } }

local function read_property(invoke, property)
  local apdu = string.pack(">BBBB", 0x00, 0x05, invoke, 0x0c) -- confirmed request, ReadProperty
    .. "\x0c" .. string.pack(">I4", (8 << 22) | 4194303) -- [0] object id: device, any instance
    .. "\x19" .. string.char(property) -- [1] property identifier
  local npdu = "\x01\x04" .. apdu -- version 1, expecting a reply
  return string.pack(">BBI2", 0x81, 0x0a, 4 + #npdu) .. npdu -- BVLC Original-Unicast-NPDU
end

-- The APDU of a BVLC/NPDU message without routing information, or nil.
local function apdu_of(data)
  if #data < 6 or data:byte(1) ~= 0x81 or data:byte(5) ~= 0x01 then return nil end
  local control, pos = data:byte(6), 7
  if control & 0x20 ~= 0 then -- destination present
    pos = pos + 3 + (data:byte(pos + 2) or 0)
  end
  if control & 0x08 ~= 0 then pos = pos + 3 + (data:byte(pos + 2) or 0) end -- source present
  if control & 0x20 ~= 0 then pos = pos + 1 end -- hop count
  return data:sub(pos)
end

-- The character string value of a ReadProperty ComplexACK, or nil.
local function string_value(apdu)
  local open = apdu:find("\x3e", 1, true)
  if not open then return nil end
  local tag = apdu:byte(open + 1)
  if not tag or tag >> 4 ~= 7 then return nil end -- application tag 7: CharacterString
  local length, pos = tag & 7, open + 2
  if length == 5 then length, pos = apdu:byte(pos) or 0, pos + 1 end
  local value = apdu:sub(pos + 1, pos + length - 1) -- after the encoding byte
  return (value:gsub("[^%g ]", ""):sub(1, 80))
end

return {
  name = "bacnet",
  description = "BACnet/IP devices: vendor, model and firmware of the device object (ReadProperty)",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 47808 },
  rarity = 8,

  run = function(host, port)
    local values, proved = {}, false
    for i, p in ipairs(PROPERTIES) do
      local reply = udp.exchange(host, port, read_property(i, p[1]), function(d)
        local apdu = apdu_of(d)
        return apdu ~= nil and #apdu >= 2 and apdu:byte(2) == i
      end, 1500)
      if not reply then
        if not proved then return nil end
        break
      end
      proved = true
      local apdu = apdu_of(reply)
      if apdu:byte(1) >> 4 == 3 then values[p[2]] = string_value(apdu) end -- ComplexACK
    end
    local result = { name = "bacnet", device_type = "specialized" }
    result.product = values.vendor
    if values.model then result.product = (values.vendor and (values.vendor .. " ") or "") .. values.model end
    result.version = values.firmware
    local notes = {}
    for _, p in ipairs(PROPERTIES) do
      if values[p[2]] then notes[#notes + 1] = p[2] .. " " .. values[p[2]] end
    end
    if #notes > 0 then result.extra = table.concat(notes, "; ") end
    return result
  end,
}
