-- Apache Kafka (and Kafka-compatible brokers): an ApiVersions v0 request (Kafka protocol
-- guide, api key 18); the answer lists every API with its version range. Kafka does not
-- name its release, so the range of a few APIs goes into extra.
local apis = { [0] = "Produce", [1] = "Fetch", [3] = "Metadata", [18] = "ApiVersions" }

local reads = require("reads")
local PORTS = { 9092 }

return {
  name = "kafka",
  description = "Kafka brokers: supported APIs and their versions from ApiVersions",
  categories = { "default", "safe", "version" },
  ports = PORTS,
  rarity = 6,

  run = function(host, port)
    if port.banner then return nil end -- a Kafka broker never speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    local correlation = 0x43617274 -- one request a connection: a fixed id ("Cart")
    local request = string.pack(">i2i2i4s2", 18, 0, correlation, "cartograph")
    sock:send(string.pack(">s4", request))
    local head = sock:receive_bytes(4, reads.wait(port, PORTS))
    local size = head and string.unpack(">I4", head)
    if not size or size < 10 or size > 65536 then sock:close() return nil end
    local body = sock:receive_bytes(size, 2000)
    sock:close()
    if not body then return nil end
    local answer, err, count = string.unpack(">i4i2i4", body)
    if answer ~= correlation or count < 1 or count > 200 or #body < 10 + count * 6 then return nil end
    local ranges, found = {}, false
    for i = 0, count - 1 do
      local key, low, high = string.unpack(">i2i2i2", body, 11 + i * 6)
      if key == 18 then found = true end
      if apis[key] then ranges[#ranges + 1] = string.format("%s v%d-%d", apis[key], low, high) end
    end
    if not found then return nil end -- every broker lists ApiVersions itself
    local notes = { string.format("%d APIs", count) }
    if err ~= 0 then notes[#notes + 1] = "error " .. err end
    for _, r in ipairs(ranges) do notes[#notes + 1] = r end
    return { name = "kafka", extra = table.concat(notes, "; ") }
  end,
  tls = true,
}
