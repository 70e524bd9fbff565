-- NATS: the server speaks first with "INFO {json}" (the NATS client protocol); the JSON names
-- the server's version, Go version and whether it wants authentication or TLS.
local greeting = require("greeting")

return {
  name = "nats",
  description = "NATS servers: version, Go runtime and auth/TLS needs from the INFO greeting",
  categories = { "default", "safe", "version" },
  ports = { 4222 },
  rarity = 7,

  run = function(host, port)
    local data, sock = greeting.read(host, port)
    if sock then sock:close() end
    if not data then return nil end
    local info = data:sub(1, 8192):match("^INFO%s+(%b{})")
    if not info or not info:find('"server_id"', 1, true) then return nil end
    local function field(key)
      return info:match('"' .. key .. '"%s*:%s*"([^"]*)"')
    end
    local function flag(key) return info:match('"' .. key .. '"%s*:%s*true') ~= nil end
    local result = { name = "nats", product = "NATS Server", version = field("version") }
    if result.version then result.cpe = "cpe:/a:linuxfoundation:nats-server:" .. result.version end
    local notes = {}
    local go = field("go")
    if go then notes[#notes + 1] = go end
    local name = field("server_name")
    if name and name ~= field("server_id") then notes[#notes + 1] = "server " .. name:sub(1, 60) end
    if flag("auth_required") then notes[#notes + 1] = "authentication required" end
    if flag("tls_required") then notes[#notes + 1] = "TLS required" end
    if field("cluster") then notes[#notes + 1] = "cluster " .. field("cluster"):sub(1, 60) end
    if #notes > 0 then result.extra = table.concat(notes, "; ") end
    return result
  end,
}
