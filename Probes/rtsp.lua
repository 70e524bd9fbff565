-- RTSP: "OPTIONS * RTSP/1.0" (RFC 2326 10.1); the status line names the protocol, the Server
-- header the product, the Public header the methods it supports.

local text = require("text")

-- Server headers: "Product/1.2", "Product Name 1.2.3 build456", or a bare product name.
local function product_version(server)
  server = server:sub(1, 256) -- the patterns below backtrack: keep the subject short
  local product, version = server:match("^([%w%-%._ ]-)/v?(%d[%w%.%-+]*)")
  if not product then product, version = server:match("^(.-)%s+v?(%d+%.[%w%.%-+]*)") end
  if not product then product = server end
  return product, version
end

return {
  name = "rtsp",
  description = "RTSP servers (cameras, media servers): server product and version, methods",
  categories = { "default", "safe", "version" },
  ports = { 554, 8554 },
  rarity = 3,

  run = function(host, port)
    if port.banner then return nil end -- an RTSP server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: cartograph\r\n\r\n")
    local status = sock:receive_line(3000)
    local code = status and status:match("^RTSP/1%.%d (%d%d%d)")
    if not code then sock:close() return nil end

    local headers = {}
    for _ = 1, 50 do
      local line = sock:receive_line(3000)
      if not line or line == "" then break end
      local key, value = text.header(line)
      if key then headers[key:lower()] = value end
    end
    sock:close()

    local result = { name = "rtsp" }
    local notes = { "status " .. code }
    if headers["public"] then notes[#notes + 1] = "methods: " .. headers["public"] end
    if headers["www-authenticate"] then notes[#notes + 1] = "authentication required" end
    result.extra = table.concat(notes, "; ")
    local server = headers["server"]
    if server and server ~= "" then
      result.product, result.version = product_version(server)
    end
    return result
  end,
}
