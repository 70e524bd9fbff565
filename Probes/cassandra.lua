-- Cassandra and other CQL servers (ScyllaDB...): an OPTIONS request of the CQL native
-- protocol v4 (native_protocol_v4.spec 4.1.3); the SUPPORTED answer (4.2.4) lists the CQL
-- version, compression and protocol versions. A server that does not speak v4 answers an
-- ERROR whose header carries its own protocol version.
local function read_multimap(body)
  local map, pos = {}, 1
  local count = string.unpack(">I2", body, pos)
  pos = pos + 2
  for _ = 1, math.min(count, 32) do
    local key
    key, pos = string.unpack(">s2", body, pos)
    local n = string.unpack(">I2", body, pos)
    pos = pos + 2
    local values = {}
    for _ = 1, math.min(n, 32) do
      values[#values + 1], pos = string.unpack(">s2", body, pos)
    end
    map[key] = values
  end
  return map
end

local reads = require("reads")
local PORTS = { 9042 }

return {
  name = "cassandra",
  description = "Cassandra/CQL servers: CQL and protocol versions from SUPPORTED (ScyllaDB told apart)",
  categories = { "default", "safe", "version" },
  ports = PORTS,
  rarity = 7,

  run = function(host, port)
    if port.banner then return nil end -- a CQL server never speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    local stream = 0x0043 -- one request a connection: a fixed stream id
    sock:send(string.pack(">BBI2BI4", 0x04, 0, stream, 0x05, 0)) -- OPTIONS
    local head = sock:receive_bytes(9, reads.wait(port, PORTS))
    if not head then sock:close() return nil end
    local version, _, answer_stream, opcode, length = string.unpack(">BBI2BI4", head)
    if version & 0x80 == 0 or length > 65536 or (opcode ~= 0x06 and opcode ~= 0x00) then sock:close() return nil end
    local body = length > 0 and sock:receive_bytes(length, 2000) or ""
    sock:close()
    if not body then return nil end
    if opcode == 0x00 then -- ERROR: code, message
      if #body < 6 or (answer_stream ~= stream and answer_stream ~= 0) then return nil end
      local code, message = string.unpack(">I4s2", body)
      if code ~= 0x000A then return nil end -- protocol error: the server speaks another version
      return { name = "cassandra", extra = string.format("native protocol v%d; %s", version & 0x7f,
                                                          message:gsub("[^%g ]", ""):sub(1, 100)) }
    end
    if answer_stream ~= stream then return nil end
    local ok, map = pcall(read_multimap, body)
    if not ok or not map.CQL_VERSION then return nil end
    local result = { name = "cassandra", product = "Apache Cassandra" }
    local notes = { "CQL " .. table.concat(map.CQL_VERSION, ",") }
    if map.PROTOCOL_VERSIONS then notes[#notes + 1] = "protocols " .. table.concat(map.PROTOCOL_VERSIONS, ",") end
    if map.COMPRESSION then notes[#notes + 1] = "compression " .. table.concat(map.COMPRESSION, ",") end
    for key in pairs(map) do
      if key:match("^SCYLLA_") then result.product = "ScyllaDB" break end
    end
    result.extra = table.concat(notes, "; ")
    return result
  end,
  tls = true,
}
