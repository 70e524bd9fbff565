-- Redis: PING, then INFO server for the version. Answers to unauthenticated or protected-mode
-- servers still name the service.
return {
  name = "redis",
  description = "Redis servers: version, mode and OS from INFO",
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
      local mode = info:match("redis_mode:(%a+)")
      if mode then result.extra = mode .. " mode" end
      local os = info:match("\nos:([^\r\n]+)")
      if os then result.os = os end
      if result.version then result.cpe = "cpe:/a:redis:redis:" .. result.version end
    end
    sock:close()
    return result
  end,
}
