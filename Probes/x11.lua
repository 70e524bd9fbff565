-- X11: the client opens with a connection setup (X Window System Protocol, "Connection Setup":
-- byte order, protocol 11.0, no authorization); the server answers Success (vendor, release,
-- screens), Failed (with its reason: access control) or Authenticate.
local function release(vendor, number)
  -- X.Org encodes major*10000000 + minor*100000 + patch*1000 + snapshot; since 21.1 the
  -- release is called minor.patch.snapshot (1.21.1.7 is "21.1.7").
  if vendor:find("X.Org", 1, true) and number >= 10000000 then
    local major, minor, patch, snap = number // 10000000, number // 100000 % 100, number // 1000 % 100, number % 1000
    if major == 1 and minor >= 21 then return string.format("%d.%d.%d", minor, patch, snap) end
    return string.format("%d.%d.%d", major, minor, patch)
  end
  return tostring(number)
end

return {
  name = "x11",
  description = "X11 servers: vendor, release and screen size from the connection setup, or the refusal",
  categories = { "default", "safe", "version" },
  ports = { 6000, 6001, 6002, 6003, 6004, 6005 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- the client speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("l\0" .. string.pack("<I2I2I2I2I2", 11, 0, 0, 0, 0))
    local head = sock:receive_bytes(8, 3000)
    if not head then sock:close() return nil end
    local status, reason_length, major, minor, words = string.unpack("<BBI2I2I2", head)
    if status > 2 or major ~= 11 or words > 16384 then sock:close() return nil end
    local body = words > 0 and sock:receive_bytes(words * 4, 3000) or ""
    sock:close()
    if not body then return nil end
    local result = { name = "x11", extra = string.format("protocol %d.%d", major, minor) }
    if status == 0 then -- Failed: the reason, then padding
      if reason_length > #body then return nil end
      local reason = body:sub(1, math.min(reason_length, 120)):gsub("[^%g ]", " "):gsub("%s+$", "")
      result.extra = result.extra .. "; refused: " .. reason
      return result
    elseif status == 2 then
      result.extra = result.extra .. "; authentication required"
      return result
    end
    if #body < 32 then return nil end
    local number = string.unpack("<I4", body, 1)
    local vendor_length, _, screens, formats = string.unpack("<I2I2BB", body, 17)
    if 32 + vendor_length > #body then return nil end
    local vendor = body:sub(33, 32 + vendor_length):gsub("[^%g ]", "")
    result.version = release(vendor, number)
    result.product = vendor:find("X.Org", 1, true) and "X.Org X server" or vendor
    result.extra = result.extra .. "; vendor " .. vendor .. "; open (no access control)"
    -- The first screen follows the vendor (padded to 4) and the pixmap formats (8 bytes each).
    local offset = 33 + ((vendor_length + 3) // 4) * 4 + 8 * formats
    if screens > 0 and offset + 23 <= #body then
      local width, height = string.unpack("<I2I2", body, offset + 20)
      result.extra = result.extra .. string.format("; %d screen(s), %dx%d", screens, width, height)
    end
    return result
  end,
}
