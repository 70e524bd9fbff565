-- Redis: PING, then INFO server for the version; Redis-compatible servers are told apart by
-- their own version field. Answers to unauthenticated or protected-mode
-- servers still name the service.
-- Redis-compatible servers by the name in their own INFO field: product, CPE prefix.
local forks = {
  valkey = { "Valkey", "cpe:/a:lfprojects:valkey:" },
  dragonfly = { "Dragonfly", "cpe:/a:dragonflydb:dragonfly:" },
  kvrocks = { "Apache Kvrocks", "cpe:/a:apache:kvrocks:" },
  keydb = { "KeyDB" },
}

return {
  name = "redis",
  description = "Redis and Redis-compatible servers (Valkey, Dragonfly, Kvrocks...): product, version, mode and OS from INFO",
  categories = { "default", "safe", "version" },
  ports = { 6379, 6380 },
  rarity = 2,

  run = function(host, port)
    if port.banner then return nil end -- Redis never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("*1\r\n$4\r\nPING\r\n")
    local reply = sock:receive_line(3000)
    if not reply then sock:close() return nil end
    if reply:match("^%-NOAUTH") or reply:match("^%-DENIED") then
      sock:close()
      return { name = "redis", product = "Redis", extra = "authentication required" }
    end
    if reply ~= "+PONG" then sock:close() return nil end

    local result = { name = "redis", product = "Redis" }
    sock:send("*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n")
    local header = sock:receive_line(3000)
    local length = header and tonumber(header:match("^%$(%d+)"))
    if length then
      local info = sock:receive_bytes(length, 3000) or ""
      result.version = info:match("redis_version:([%w%.%-]+)")
      -- Redis-compatible servers keep redis_version (the API level they follow) and add
      -- their own <name>_version field (valkey_version, dragonfly_version, kvrocks_version...)
      -- or a server_name.
      local fork, fork_version
      for name, version in info:sub(1, 2048):gmatch("\n(%l+)_version:v?([%w%.%-]+)") do
        if name ~= "redis" and name ~= "gcc" then fork, fork_version = name, version break end
      end
      local server_name = info:match("\nserver_name:(%l+)")
      fork = fork or server_name
      if fork then
        local known = forks[fork] or { fork:sub(1, 1):upper() .. fork:sub(2) }
        result.product = known[1]
        local api = result.version
        result.version = fork_version and fork_version:gsub("^df%-v", "") or nil
        if api then result.extra = "Redis API " .. api end
        if known[2] and result.version then result.cpe = known[2] .. result.version end
      end
      local mode = info:match("redis_mode:(%a+)")
      if mode then result.extra = (result.extra and (result.extra .. "; ") or "") .. mode .. " mode" end
      local os = info:match("\nos:([^\r\n]+)")
      if os then result.os = os end
      if result.version and not fork then result.cpe = "cpe:/a:redis:redis:" .. result.version end
    end
    sock:close()
    return result
  end,
}
