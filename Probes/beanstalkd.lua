-- beanstalkd: the "stats" command (beanstalkd protocol.txt) answers "OK <bytes>" and a YAML
-- dictionary holding the server's version, uptime and counters.
return {
  name = "beanstalkd",
  description = "beanstalkd work queues: version, jobs and connections from stats",
  categories = { "default", "safe", "version" },
  ports = { 11300 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- beanstalkd never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("stats\r\n")
    local header = sock:receive_line(2000)
    local size = header and tonumber(header:match("^OK (%d+)$"))
    if not size or size > 65536 then sock:close() return nil end
    local body = sock:receive_bytes(size, 2000)
    sock:close()
    if not body or not body:match("^%-%-%-") then return nil end
    local function field(key) -- keys hold "-": found literally, not as a pattern
      local at = body:find("\n" .. key .. ": ", 1, true)
      return at and body:match("^[^\n]*", at + #key + 3)
    end
    local version = field("version")
    if not version then return nil end
    version = version:gsub('"', "")
    local result = { name = "beanstalkd", product = "beanstalkd", version = version,
                     cpe = "cpe:/a:beanstalkd:beanstalkd:" .. version }
    local notes = {}
    for _, key in ipairs({ "current-jobs-ready", "current-connections", "uptime" }) do
      local value = field(key)
      if value then notes[#notes + 1] = key .. " " .. value:sub(1, 20) end
    end
    local name = field("hostname")
    if name and name:match("^[%w%.%-]+$") then result.hostnames = { name } end
    if #notes > 0 then result.extra = table.concat(notes, "; ") end
    return result
  end,
}
