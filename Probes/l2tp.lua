-- L2TP (RFC 2661): a Start-Control-Connection-Request; the LNS's Start-Control-Connection-
-- Reply carries its host name, vendor name and firmware revision. The tunnel is then closed
-- with a StopCCN, so no state is left behind.
local function avp(kind, value) return string.pack(">I2I2I2", 0x8000 | (6 + #value), 0, kind) .. value end

local function control(tunnel, ns, nr, avps)
  return string.pack(">I2I2I2I2I2I2", 0xC802, 12 + #avps, tunnel, 0, ns, nr) .. avps
end

return {
  name = "l2tp",
  description = "L2TP servers (LNS): vendor, host name and firmware from the control connection reply",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 1701 },
  rarity = 7,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local our_tunnel = math.random(1, 0xffff)
    local request = control(0, 0, 0, avp(0, "\0\1") .. avp(2, "\1\0") .. avp(7, "cartograph")
      .. avp(3, "\0\0\0\3") .. avp(9, string.pack(">I2", our_tunnel)))
    local reply
    for _ = 1, 2 do
      sock:send(request)
      local data, reason = sock:receive(2500)
      if data and #data >= 12 then
        local flags, length, tunnel = string.unpack(">I2I2I2", data)
        if flags & 0xC80F == 0xC802 and length == #data and tunnel == our_tunnel then reply = data break end
      end
      if not data and reason ~= "timeout" then break end
    end
    if not reply then sock:close() return nil end

    local fields, pos = {}, 13
    for _ = 1, 64 do
      if pos + 5 > #reply then break end
      local bits, vendor, kind = string.unpack(">I2I2I2", reply, pos)
      local size = bits & 0x3ff
      if size < 6 then break end
      if vendor == 0 then fields[kind] = reply:sub(pos + 6, pos + size - 1) end
      pos = pos + size
    end
    if fields[0] ~= "\0\2" then sock:close() return nil end -- Message Type: SCCRP
    local server_tunnel = fields[9] and #fields[9] == 2 and string.unpack(">I2", fields[9])
    if server_tunnel then -- StopCCN: result 1, "general request to clear control connection"
      sock:send(control(server_tunnel, 1, 1, avp(0, "\0\4") .. avp(9, string.pack(">I2", our_tunnel))
        .. avp(1, "\0\1")))
    end
    sock:close()

    local function clean(s) return s and (s:gsub("[^%g ]", ""):sub(1, 80)) end
    local result = { name = "l2tp" }
    local notes = {}
    local vendor, name = clean(fields[8]), clean(fields[7])
    if vendor and vendor ~= "" then
      result.product = vendor == "xelerance.com" and "xl2tpd" or vendor
      notes[#notes + 1] = "vendor " .. vendor
    end
    if fields[6] and #fields[6] == 2 then
      notes[#notes + 1] = string.format("firmware 0x%04x", string.unpack(">I2", fields[6]))
    end
    if name and name ~= "" then
      result.hostnames = { name }
      notes[#notes + 1] = "host " .. name
    end
    if #notes > 0 then result.extra = table.concat(notes, "; ") end
    return result
  end,
}
