-- MySQL/MariaDB: the server speaks first with an Initial Handshake packet (protocol 10, server
-- version, connection id, auth plugin), or with an error packet when it refuses the client host.

-- "5.5.5-10.11.6-MariaDB-0+deb12u1" -> MariaDB 10.11.6; "8.0.36-0ubuntu0.22.04.1" -> MySQL 8.0.36
local function product_of(server_version)
  local mariadb = server_version:gsub("^5%.5%.5%-", "") -- MariaDB's replication-compat prefix
  if mariadb:match("MariaDB") then
    local version = mariadb:match("^(%d+%.%d+%.%d+)")
    return "MariaDB", version, version and "cpe:/a:mariadb:mariadb:" .. version
  end
  local version = server_version:match("^(%d+%.%d+%.%d+)")
  if not version then return nil end
  return "MySQL", version, "cpe:/a:oracle:mysql:" .. version
end

local function os_of(server_version)
  if server_version:match("deb%d") then return "Debian" end
  if server_version:match("[Uu]buntu") then return "Ubuntu" end
  return nil
end

-- One packet: 3-byte little-endian length, sequence id 0, payload.
local function parse(data)
  local length, sequence = string.unpack("<I3B", data)
  if sequence ~= 0 or length < 3 or length > 4096 then return nil end
  local payload = data:sub(5, 4 + length)
  local first = payload:byte(1)

  if first == 0xff then -- refused before the handshake: error code and message, no SQL state
    local code = string.unpack("<I2", payload, 2)
    local message = payload:sub(4):gsub("^#%w%w%w%w%w", ""):gsub("[^%g ]", ".")
    if code < 1000 or not message:match("%a") then return nil end
    local product = message:match("MariaDB") or message:match("MySQL")
    return { name = "mysql", product = product, extra = "error " .. code .. ": " .. message }
  end

  if first ~= 10 then return nil end -- protocol version 10, every server since 3.21
  local server_version, pos = string.unpack("z", payload, 2)
  if not server_version:match("^%d+%.%d+") then return nil end
  local extra = { "protocol 10", (server_version:gsub("^5%.5%.5%-(.*MariaDB)", "%1")) }
  pos = pos + 4 -- connection id
  -- auth data 1 (8) + filler (1) + capabilities (2) + charset (1) + status (2) +
  -- capabilities (2) + auth data length (1) + reserved (10) + auth data 2 (>= 13), then plugin
  if #payload >= pos + 26 then
    local auth_length = payload:byte(pos + 8 + 1 + 2 + 1 + 2 + 2)
    local plugin_at = pos + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10 + math.max(13, auth_length - 8)
    local plugin = payload:sub(plugin_at):match("^[%w_]+")
    if plugin then extra[#extra + 1] = "auth " .. plugin end
  end

  local product, version, cpe = product_of(server_version)
  return {
    name = "mysql", product = product, version = version, cpe = cpe,
    os = os_of(server_version), extra = table.concat(extra, "; "),
  }
end

return {
  name = "mysql",
  description = "MySQL and MariaDB servers: product, version and auth plugin from the handshake",
  categories = { "default", "safe", "version" },
  ports = { 3306, 3307 },
  rarity = 2,

  run = function(host, port)
    if port.silent then return nil end
    local data = port.banner
    if not data then
      local sock = socket.connect(host, port)
      if not sock then return nil end
      data = sock:receive(5000)
      -- the whole packet, when it arrived in pieces
      if data and #data >= 4 then
        local length = string.unpack("<I3", data)
        if length <= 4096 and #data < 4 + length then
          data = data .. (sock:receive_bytes(4 + length - #data, 3000) or "")
        end
      end
      sock:close()
    end
    if not data or #data < 5 then return nil end
    local ok, result = pcall(parse, data)
    return ok and result or nil
  end,
}
