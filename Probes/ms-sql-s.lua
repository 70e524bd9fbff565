-- Microsoft SQL Server: a TDS PRELOGIN message (MS-TDS 2.2.6.5); the server's PRELOGIN
-- answer holds its version (major.minor.build) and whether it wants encryption. Nothing is
-- logged in.
local releases = { [8] = "2000", [9] = "2005", [10] = "2008", [11] = "2012", [12] = "2014", [13] = "2016",
                   [14] = "2017", [15] = "2019", [16] = "2022", [17] = "2025" }
local encryption = { [0] = "encryption off", [1] = "encryption on", [2] = "encryption not supported",
                     [3] = "encryption required" }

local reads = require("reads")
local PORTS = { 1433 }

return {
  name = "ms-sql-s",
  description = "Microsoft SQL Server (TDS): version and encryption from the PRELOGIN answer",
  categories = { "default", "safe", "version" },
  ports = PORTS,
  rarity = 5,

  run = function(host, port)
    if port.banner then return nil end -- SQL Server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    -- Options: VERSION (6 bytes), ENCRYPTION (1: off), INSTOPT (1: ""), THREADID (4), MARS (1)
    local data = "\0\0\0\0\0\0" .. "\0" .. "\0" .. "\0\0\0\0" .. "\0"
    local tokens = string.pack(">BI2I2BI2I2BI2I2BI2I2BI2I2B", 0, 26, 6, 1, 32, 1, 2, 33, 1, 3, 34, 4, 4, 38, 1, 0xff)
    local payload = tokens .. data
    sock:send(string.pack(">BBI2I2BB", 0x12, 1, 8 + #payload, 0, 1, 0) .. payload)
    local head = sock:receive_bytes(8, reads.wait(port, PORTS))
    if not head then sock:close() return nil end
    local kind, _, length = string.unpack(">BBI2", head)
    if kind ~= 0x04 or length < 14 or length > 4096 then sock:close() return nil end
    local body = sock:receive_bytes(length - 8, 2000)
    sock:close()
    if not body then return nil end
    local options, pos = {}, 1
    for _ = 1, 16 do
      local token = body:byte(pos)
      if not token or token == 0xff then break end
      if pos + 4 > #body then return nil end
      local offset, size = string.unpack(">I2I2", body, pos + 1)
      options[token] = body:sub(offset + 1, offset + size)
      pos = pos + 5
    end
    local version = options[0]
    if not version or #version ~= 6 then return nil end
    local major, minor, build, sub = string.unpack(">BBI2I2", version)
    local result = { name = "ms-sql-s", product = "Microsoft SQL Server" }
    if releases[major] then
      result.product = result.product .. " " .. (major == 10 and minor == 50 and "2008 R2" or releases[major])
    end
    result.version = string.format("%d.%d.%d.%d", major, minor, build, sub)
    result.cpe = "cpe:/a:microsoft:sql_server" .. (releases[major] and (":" .. releases[major]) or "")
    local enc = options[1] and encryption[options[1]:byte(1)]
    if enc then result.extra = enc end
    return result
  end,
}
