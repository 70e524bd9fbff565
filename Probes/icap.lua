-- ICAP (RFC 3507), the protocol between proxies (Squid) and content filters or virus scanners:
-- an OPTIONS request is answered with an "ICAP/1.0" status line, a Server header (C-ICAP/0.5.10)
-- and, for a service that exists, its ISTag and Methods.
local text = require("text")

return {
  name = "icap",
  description = "ICAP servers (c-icap, virus scanners behind proxies): product, version, service",
  categories = { "default", "safe", "version" },
  ports = { 1344 },
  rarity = 8, -- niche: off its own port it is tried only at a higher intensity

  run = function(host, port)
    if port.banner then return nil end
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local name = host.name or (host.family == "ipv6" and "[" .. host.address .. "]" or host.address)
    sock:send("OPTIONS icap://" .. name .. ":" .. port.number .. "/echo ICAP/1.0\r\nHost: " .. name ..
              "\r\nUser-Agent: cartograph\r\nEncapsulated: null-body=0\r\n\r\n")
    local status = sock:receive_line(3000)
    local code, reason = (status or ""):sub(1, 200):match("^ICAP/1%.0 (%d%d%d) ?(.*)")
    if not code then sock:close() return nil end
    local headers = {}
    for _ = 1, 40 do
      local line = sock:receive_line(2000)
      if not line or line == "" then break end
      local key, value = text.header(line)
      if key then headers[key:lower()] = value end
    end
    sock:close()
    local result = { name = "icap", extra = "OPTIONS /echo: " .. code .. " " .. reason:sub(1, 40) }
    -- c-icap names itself in Service ("C-ICAP/0.5.10 server - Echo demo service"), not Server.
    local server = headers["server"] or (headers["service"] or ""):match("^[%w%-%._]+/[%w%.%-]+")
    if server then
      local product, version = server:sub(1, 100):match("^([%w%-%._]+)/([%w%.%-]+)")
      result.product, result.version = product or server:sub(1, 40), version
      if product == "C-ICAP" then result.cpe = "cpe:/a:c-icap:c-icap" .. (version and (":" .. version) or "") end
    end
    if headers["service"] then result.extra = result.extra .. "; service " .. headers["service"]:sub(1, 60) end
    if headers["methods"] then result.extra = result.extra .. "; methods " .. headers["methods"]:sub(1, 30) end
    return result
  end,
}
