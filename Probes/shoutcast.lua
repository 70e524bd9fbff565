-- SHOUTcast (and servers that answer as it does): a GET of / is answered with an "ICY" status
-- line instead of HTTP's, and icy-* headers; icy-notice2 names the server and its version
-- ("SHOUTcast Distributed Network Audio Server/Linux v1.9.8"). Icecast answers HTTP and is
-- named by the http probe.
local text = require("text")

return {
  name = "shoutcast",
  description = "SHOUTcast streaming servers: product and version from the ICY answer",
  categories = { "default", "safe", "version" },
  ports = { 8000 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- a streaming server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("GET / HTTP/1.0\r\nUser-Agent: cartograph\r\nIcy-MetaData: 1\r\n\r\n")
    local status = sock:receive_line(2000)
    local code = status and status:sub(1, 80):match("^ICY (%d%d%d)")
    if not code then sock:close() return nil end
    local headers = {}
    for _ = 1, 30 do
      local line = sock:receive_line(1000)
      if not line or line == "" then break end
      local key, value = text.header(line)
      if key then headers[key:lower()] = value end
    end
    sock:close()
    local result = { name = "shoutcast", extra = "ICY " .. code }
    local notice = (headers["icy-notice2"] or ""):gsub("<[^>]*>", "")
    local product, version = notice:match("^(SHOUTcast[%w ]-)/%a+ v([%d%.]+)")
    if product then
      result.product, result.version = "SHOUTcast DNAS", version
    elseif headers.server then
      result.product = headers.server:sub(1, 60)
    end
    if headers["icy-name"] then result.extra = result.extra .. "; station " .. headers["icy-name"]:sub(1, 60) end
    return result
  end,
}
