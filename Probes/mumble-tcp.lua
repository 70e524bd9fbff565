-- Mumble servers over TLS (TCP 64738): after the handshake the server sends its Version message
-- (type 0, Mumble.proto: version, release, os, os_version), before any authentication.
local function varint(data, offset)
  local value, shift = 0, 0
  for i = offset, math.min(offset + 9, #data) do
    local byte = data:byte(i)
    value = value | ((byte & 0x7F) << shift)
    if byte < 0x80 then return value, i + 1 end
    shift = shift + 7
  end
  return nil
end

return {
  name = "mumble-tcp",
  description = "Mumble (Murmur) servers over TLS: release, version and OS from the server's Version message",
  categories = { "default", "safe", "version" },
  ports = { 64738 },
  rarity = 8,
  tls = true,

  run = function(host, port)
    if not port.tls then return nil end -- Mumble's TCP side is TLS only
    local sock = socket.connect(host, port, { tls = true })
    if not sock then return nil end
    local header = sock:receive_bytes(6, 3000)
    if not header then sock:close() return nil end
    local kind, length = string.unpack(">I2I4", header)
    if kind ~= 0 or length < 2 or length > 4096 then sock:close() return nil end
    local body = sock:receive_bytes(length, 3000)
    sock:close()
    if not body then return nil end
    local fields, offset = {}, 1
    for _ = 1, 16 do
      if offset > #body then break end
      local key, after = varint(body, offset)
      if not key then return nil end
      local number, wire = key >> 3, key & 7
      if wire == 0 then
        local value; value, offset = varint(body, after)
        if not value then return nil end
        fields[number] = value
      elseif wire == 2 then
        local size; size, after = varint(body, after)
        if not size or after + size - 1 > #body then return nil end
        fields[number] = body:sub(after, after + size - 1)
        offset = after + size
      else
        return nil
      end
    end
    if type(fields[1]) ~= "number" and type(fields[2]) ~= "string" then return nil end
    local result = { name = "mumble", product = "Murmur" }
    if type(fields[2]) == "string" and fields[2]:match("^%d") then
      result.version = fields[2]:match("^([%d%.]+)")
    elseif type(fields[1]) == "number" then
      result.version = string.format("%d.%d.%d", fields[1] >> 16, (fields[1] >> 8) & 0xFF, fields[1] & 0xFF)
    end
    if result.version then result.cpe = "cpe:/a:mumble:murmur:" .. result.version end
    local notes = {}
    if type(fields[2]) == "string" then notes[#notes + 1] = "release " .. fields[2]:sub(1, 40):gsub("[^%g ]", "") end
    if type(fields[3]) == "string" then
      local os = fields[3]:sub(1, 40):gsub("[^%g ]", "")
      notes[#notes + 1] = "os " .. os
      if os == "X11" or os == "Linux" then result.os = "Linux" elseif os == "Win" then result.os = "Windows" end
    end
    if type(fields[4]) == "string" then notes[#notes + 1] = fields[4]:sub(1, 60):gsub("[^%g ]", "") end
    result.extra = table.concat(notes, "; ")
    return result
  end,
}
