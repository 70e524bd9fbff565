-- DNS over TCP: the version.bind CHAOS TXT query with its two-byte length prefix (RFC 1035,
-- 4.2.2). A reply must start with a length and our query id; anything else is another service.
local dns = require("dns")

return {
  name = "dns-tcp",
  description = "DNS servers over TCP: product and version from the version.bind answer",
  categories = { "default", "safe", "version" },
  ports = { 53 },
  rarity = 5, -- a binary query: after the common text protocols on undeclared ports

  run = function(host, port)
    if port.banner then return nil end -- a DNS server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local id = math.random(0, 0xffff)
    sock:send(string.pack(">s2", dns.version_query(id)))
    local data = sock:receive(3000)
    if not data or #data < 4 or string.unpack(">I2", data, 3) ~= id then
      sock:close()
      return nil
    end
    local length = string.unpack(">I2", data)
    while #data < length + 2 do
      local more = sock:receive(2000)
      if not more then break end
      data = data .. more
    end
    sock:close()
    return dns.identify(data:sub(3, length + 2), id)
  end,
}
