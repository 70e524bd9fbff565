-- VNC: the server speaks first with its RFB version ("RFB 003.008\n", RFC 6143 7.1.1); we
-- answer with the same version (3.8 at most) and read the security types it offers.

local security_names = {
  [1] = "None", [2] = "VNC Authentication", [5] = "RA2", [6] = "RA2ne", [16] = "Tight",
  [17] = "Ultra", [18] = "TLS", [19] = "VeNCrypt", [20] = "SASL", [21] = "MD5 hash",
  [22] = "xvp", [30] = "Apple Remote Desktop",
}

-- Reads the security types offered after the version exchange: a list of names, or nil and
-- the server's reason when it refuses the connection.
local function security_types(sock, minor)
  local types = {}
  if minor >= 7 then
    local count = sock:receive_bytes(1, 3000)
    if not count then return nil end
    count = count:byte()
    if count > 0 then
      local list = sock:receive_bytes(count, 3000)
      if not list then return nil end
      for i = 1, count do types[i] = list:byte(i) end
    end
  else -- 3.3: the server picks one, as a 32-bit number
    local chosen = sock:receive_bytes(4, 3000)
    if not chosen then return nil end
    local kind = string.unpack(">I4", chosen)
    if kind ~= 0 then types[1] = kind end
  end
  if #types == 0 then
    local size = sock:receive_bytes(4, 3000)
    local reason = size and sock:receive_bytes(math.min(string.unpack(">I4", size), 200), 3000)
    return nil, reason or "connection refused"
  end
  local open = false
  for i, kind in ipairs(types) do
    open = open or kind == 1
    types[i] = security_names[kind] or ("type " .. kind)
  end
  return types, nil, open
end

-- With security None chosen, ClientInit (shared) is answered by ServerInit (RFC 6143 7.3.2):
-- the framebuffer size and the desktop's name.
local function server_init(sock, minor)
  if minor >= 7 then
    sock:send("\1")
    if minor >= 8 then
      local status = sock:receive_bytes(4, 3000)
      if not status or string.unpack(">I4", status) ~= 0 then return nil end
    end
  end
  sock:send("\1")
  local init = sock:receive_bytes(24, 3000)
  if not init then return nil end
  local width, height = string.unpack(">I2I2", init)
  local length = string.unpack(">I4", init, 21)
  local name = length > 0 and sock:receive_bytes(math.min(length, 256), 3000) or ""
  return string.format("%dx%d", width, height), (name or ""):gsub("[^%g ]", "")
end

return {
  name = "vnc",
  description = "VNC servers: RFB protocol version and the security types offered",
  categories = { "default", "safe", "version" },
  ports = { 5900, 5901, 5902, 5903 },
  rarity = 3,

  run = function(host, port)
    if port.silent then return nil end
    local greeting, sock = port.banner, nil
    if not greeting then
      sock = socket.connect(host, port)
      if not sock then return nil end
      greeting = sock:receive_bytes(12, 3000)
    end
    local major, minor = (greeting or ""):match("^RFB (%d%d%d)%.(%d%d%d)\n")
    if not major then
      if sock then sock:close() end
      return nil
    end
    major, minor = tonumber(major), tonumber(minor)

    local result = { name = "vnc", extra = string.format("protocol %d.%d", major, minor) }
    if major == 3 and minor == 889 then
      result.product, result.os = "Apple remote desktop vnc", "Mac OS X"
    elseif major == 4 or major == 5 then
      result.product = "RealVNC"
    end

    -- Answer with the server's version, or 3.8 for anything newer (3.5 counts as 3.3).
    local reply_minor = (major > 3 or minor >= 8) and 8 or (minor == 7 and 7 or 3)
    if not sock then
      sock = socket.connect(host, port)
      if not sock or not sock:receive_bytes(12, 3000) then return result end
    end
    sock:send(string.format("RFB 003.%03d\n", reply_minor))
    local types, reason, open = security_types(sock, reply_minor)
    local size, desktop
    if open then size, desktop = server_init(sock, reply_minor) end
    sock:close()
    if types then
      result.extra = result.extra .. "; security: " .. table.concat(types, ", ")
      if size then result.extra = result.extra .. "; open: desktop \"" .. desktop .. "\" " .. size end
    elseif reason then
      result.extra = result.extra .. "; refused: " .. reason:gsub("[^%g ]", "")
    end
    return result
  end,
}
