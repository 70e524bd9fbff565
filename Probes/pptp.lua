-- PPTP: a Start-Control-Connection-Request (RFC 2637 2.1); the server's
-- Start-Control-Connection-Reply carries its host name, vendor string and firmware revision.
-- The connection is closed right after: no call is ever placed.
local MAGIC = 0x1A2B3C4D

local function cstring(s) return (s:match("^[^%z]*"):gsub("[^%g ]", "")) end

return {
  name = "pptp",
  description = "PPTP VPN servers: vendor, host name and firmware from the control connection reply",
  categories = { "default", "safe", "version" },
  ports = { 1723 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- a PPTP server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    -- length, message type 1 (control), magic, type 1 (SCCRQ), reserved, version 1.0,
    -- reserved, framing and bearer capabilities, max channels, firmware, host name, vendor
    local request = string.pack(">I2I2I4I2I2I2I2I4I4I2I2", 156, 1, MAGIC, 1, 0, 0x0100, 0, 1, 1, 0, 0)
      .. string.pack("c64c64", "cartograph", "cartograph")
    sock:send(request)
    local reply = sock:receive_bytes(156, 2000)
    sock:close()
    if not reply then return nil end
    local length, kind, magic, control, _, version, result_code, _, _, _, _, firmware =
      string.unpack(">I2I2I4I2I2I2BBI4I4I2I2", reply)
    if length ~= 156 or kind ~= 1 or magic ~= MAGIC or control ~= 2 then return nil end
    local name, vendor = cstring(reply:sub(29, 92)), cstring(reply:sub(93, 156))
    local result = { name = "pptp" }
    local notes = { string.format("protocol %d.%d, result %d", version >> 8, version & 0xff, result_code),
                    string.format("firmware %d", firmware) }
    if vendor ~= "" then
      -- pptpd's compiled-in vendor and host name (PPTP_VENDOR, PPTP_HOSTNAME)
      result.product = (vendor == "linux" and name == "local") and "pptpd" or vendor
      notes[#notes + 1] = "vendor " .. vendor
    end
    if name ~= "" and name ~= "local" then
      result.hostnames = { name }
      notes[#notes + 1] = "host " .. name
    end
    result.extra = table.concat(notes, "; ")
    return result
  end,
}
