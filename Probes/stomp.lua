-- STOMP: a CONNECT frame (STOMP 1.2 spec) with no credentials; a broker answers CONNECTED or
-- ERROR, both usually with a "server:" header naming product and version (RabbitMQ,
-- ActiveMQ, Artemis, Apollo...).
local text = require("text")

return {
  name = "stomp",
  description = "STOMP message brokers: product and version from the CONNECTED or ERROR frame",
  categories = { "default", "safe", "version" },
  ports = { 61613 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- a STOMP broker never speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    sock:send("CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\n\n\0")
    local command = sock:receive_line(2000)
    if command ~= "CONNECTED" and command ~= "ERROR" then sock:close() return nil end
    local headers = {}
    for _ = 1, 30 do
      local line = sock:receive_line(2000)
      if not line or line == "" then break end
      local key, value = line:sub(1, 512):match("^([%w%-]+):(.*)$")
      if key then headers[key:lower()] = value end
    end
    sock:close()
    -- memcached and other line protocols answer "ERROR" too, but with no STOMP headers
    if command == "ERROR" and not (headers.message or headers["content-type"] or headers.version) then return nil end
    local result = { name = "stomp" }
    local notes = {}
    if command == "ERROR" then
      notes[#notes + 1] = "error: " .. text.trim((headers.message or ""):sub(1, 100))
    end
    if headers.version then notes[#notes + 1] = "STOMP " .. headers.version end
    local server = headers.server
    if server then
      local product, version = server:match("^([^/]+)/(%S+)")
      result.product, result.version = product or server, version
      if product == "RabbitMQ" and version then result.cpe = "cpe:/a:vmware:rabbitmq:" .. version end
      if product and product:match("ActiveMQ") and version then
        result.cpe = "cpe:/a:apache:activemq:" .. version
      end
    end
    if #notes > 0 then result.extra = table.concat(notes, "; ") end
    return result
  end,
  tls = true,
}
