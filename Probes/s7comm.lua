-- Siemens S7 PLCs (S7comm over ISO-on-TCP, RFC 1006 on port 102): a COTP connection request
-- to rack 0 slot 2, an S7 Setup Communication, then a read of SZL 0x0011 (module
-- identification), the read-only sequence engineering tools start with. The order number
-- ("6ES7 315-2EH14-0AB0") names the module. A COTP answer alone is only ISO-TSAP.
local function tpkt(payload) return string.pack(">BBI2", 3, 0, 4 + #payload) .. payload end

local function receive_tpkt(sock)
  local head = sock:receive_bytes(4, 2000)
  if not head or head:byte(1) ~= 3 then return nil end
  local length = string.unpack(">I2", head, 3)
  if length < 7 or length > 4096 then return nil end
  return sock:receive_bytes(length - 4, 2000)
end

return {
  name = "s7comm",
  description = "Siemens S7 PLCs: module order number from SZL 0x0011 over S7comm",
  categories = { "default", "safe", "version" },
  ports = { 102 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- an ISO-TSAP server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    -- COTP CR: source TSAP 0x0100, destination TSAP 0x0102 (rack 0, slot 2), TPDU size 1024
    sock:send(tpkt("\x11\xe0\0\0\0\1\0\xc1\2\1\0\xc2\2\1\2\xc0\1\x0a"))
    local cc = receive_tpkt(sock)
    if not cc or #cc < 2 or cc:byte(2) & 0xf0 ~= 0xd0 then sock:close() return nil end -- COTP CC
    -- S7 Setup Communication: one job each way, PDU 480
    sock:send(tpkt("\2\xf0\x80" .. "\x32\1\0\0\0\1\0\8\0\0" .. "\xf0\0\0\1\0\1\1\xe0"))
    local setup = receive_tpkt(sock)
    if not setup or setup:byte(4) ~= 0x32 then
      sock:close()
      return { name = "iso-tsap", extra = "COTP connection confirmed, no S7comm" }
    end
    local result = { name = "s7comm", product = "Siemens S7 PLC", device_type = "PLC" }
    if #setup >= 23 then result.extra = "PDU size " .. string.unpack(">I2", setup, 22) end
    -- Userdata: CPU functions, read SZL 0x0011 index 0
    sock:send(tpkt("\2\xf0\x80" .. "\x32\7\0\0\0\2\0\8\0\8" .. "\0\1\x12\4\x11\x44\1\0" .. "\xff\9\0\4\0\x11\0\0"))
    local szl = receive_tpkt(sock)
    sock:close()
    if not szl or szl:byte(4) ~= 0x32 or #szl < 13 then return result end
    local params = string.unpack(">I2", szl, 10)
    local data = szl:sub(14 + params) -- after COTP (3), the header (10) and parameters
    if data:byte(1) ~= 0xff or #data < 12 then return result end
    local id, _, size, count = string.unpack(">I2I2I2I2", data, 5)
    if id ~= 0x0011 or size < 22 then return result end
    for i = 0, math.min(count, 8) - 1 do
      local record = data:sub(13 + i * size, 12 + (i + 1) * size)
      if #record < 22 then break end
      local index, order = string.unpack(">I2", record), record:sub(3, 22):gsub("[^%g ]", ""):gsub("%s+$", "")
      if index == 1 and order ~= "" then
        result.extra = "order number " .. order .. (result.extra and ("; " .. result.extra) or "")
        break
      end
    end
    return result
  end,
}
