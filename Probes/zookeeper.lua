-- ZooKeeper: the "srvr" four-letter word (whitelisted by default since 3.5) gives version and
-- mode; where it is not allowed, the client handshake (a ConnectRequest, jute-encoded) is
-- answered with a ConnectResponse: protocol 0 and the negotiated session timeout.
local reads = require("reads")

local function handshake(host, port)
  local sock = socket.connect(host, port)
  if not sock then return nil end
  -- protocolVersion 0, lastZxidSeen 0, timeOut 30000, sessionId 0, passwd (16 zero bytes)
  local body = string.pack(">i4i8i4i8s4", 0, 0, 30000, 0, string.rep("\0", 16))
  sock:send(string.pack(">s4", body))
  local head = sock:receive_bytes(4, 2000)
  local size = head and string.unpack(">i4", head)
  if not size or size < 20 or size > 64 then sock:close() return nil end
  local reply = sock:receive_bytes(size, 2000)
  sock:close()
  if not reply then return nil end
  local protocol, timeout = string.unpack(">i4i4", reply)
  if protocol ~= 0 or timeout <= 0 or timeout > 3600000 then return nil end
  return { name = "zookeeper", product = "Apache ZooKeeper",
           extra = string.format("session timeout %d ms; four-letter words refused", timeout) }
end

local PORTS = { 2181 }

return {
  name = "zookeeper",
  description = "Apache ZooKeeper: version and mode from srvr, else the client handshake",
  categories = { "default", "safe", "version" },
  ports = PORTS,
  rarity = 6,

  run = function(host, port)
    if port.banner then return nil end -- ZooKeeper never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("srvr")
    local all, reason = reads.all(sock, reads.wait(port, PORTS))
    sock:close()
    local version = all:match("^Zookeeper version: ([%w%.%-]+)")
    if version then
      local short = version:match("^(%d+%.%d+%.%d+)") or version
      local result = { name = "zookeeper", product = "Apache ZooKeeper", version = short,
                       cpe = "cpe:/a:apache:zookeeper:" .. short }
      local mode = all:match("\nMode: (%a+)")
      result.extra = mode and ("mode " .. mode) or nil
      return result
    end
    if all:match("is not executed because it is not in the whitelist") then
      return { name = "zookeeper", product = "Apache ZooKeeper", extra = "four-letter words refused" }
    end
    if all ~= "" or reason ~= "closed" then return nil end -- another service answered
    return handshake(host, port) -- closed without a word: srvr is not allowed
  end,
}
