-- NTP: a client request (mode 3, RFC 5905); the server's reply (mode 4) gives its stratum and
-- reference id. A mode 6 READVAR (RFC 9327), which ntpd and NTPsec answer unless restricted,
-- gives the daemon's version and system.
local function refid_text(stratum, refid)
  if stratum <= 1 then return (refid:gsub("%z", ""):gsub("[^%g]", ".")) end -- KoD code or clock
  return string.format("%d.%d.%d.%d", refid:byte(1, 4))
end

-- The system variables text from a READVAR, up to 8 fragments; nil without an answer.
local function read_variables(sock)
  sock:send(string.pack(">BBI2I2I2I2I2", 0x16, 2, 1, 0, 0, 0, 0)) -- VN 2, mode 6; opcode 2
  local parts = {}
  for _ = 1, 8 do
    local data = sock:receive(1500)
    if not data or #data < 12 then break end
    local mode, op, _, _, _, _, count = string.unpack(">BBI2I2I2I2I2", data)
    if mode & 7 ~= 6 or op & 0x80 == 0 or op & 0x40 ~= 0 then break end -- response, no error
    parts[#parts + 1] = data:sub(13, 12 + count)
    if op & 0x20 == 0 then break end -- no more fragments
  end
  return #parts > 0 and table.concat(parts) or nil
end

return {
  name = "ntp",
  description = "NTP servers: stratum and reference; daemon version from a mode 6 READVAR",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 123 },
  rarity = 1,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    -- Our transmit timestamp is a random tag: the reply must echo it as its origin timestamp.
    local tag = string.pack(">I4I4", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
    local request = "\x23" .. string.rep("\0", 39) .. tag -- LI 0, VN 4, mode 3
    local reply
    for _ = 1, 2 do
      sock:send(request)
      local data, reason = sock:receive(2000)
      if data and #data >= 48 and data:byte(1) & 7 == 4 and data:sub(25, 32) == tag then
        reply = data
        break
      end
      if not data and reason ~= "timeout" then break end
    end
    if not reply then
      sock:close()
      return nil
    end

    local flags, stratum = string.unpack(">BB", reply)
    local extra = { string.format("NTPv%d, stratum %d, reference %s", (flags >> 3) & 7, stratum,
                                  refid_text(stratum, reply:sub(13, 16))) }
    if flags >> 6 == 3 then extra[#extra + 1] = "unsynchronized" end
    local result = { name = "ntp" }

    local variables = read_variables(sock)
    sock:close()
    local version = variables and variables:match('version="([^"]*)"')
    if version then
      local ntpsec = version:match("ntpsec%-([%d%.]+)")
      local ntpd = version:match("^ntpd (%d[%w%.]+)")
      if ntpsec then
        result.product, result.version = "NTPsec", ntpsec
        result.cpe = "cpe:/a:ntpsec:ntpsec:" .. ntpsec
      elseif ntpd then
        result.product, result.version = "ntpd", ntpd
        result.cpe = "cpe:/a:ntp:ntp:" .. ntpd
      else
        extra[#extra + 1] = "version " .. version:sub(1, 60)
      end
      local system = variables:match('system="(%a+)')
      if system then result.os = system end
    end
    result.extra = table.concat(extra, "; ")
    return result
  end,
}
