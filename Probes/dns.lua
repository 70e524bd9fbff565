-- DNS over UDP: a CHAOS TXT query for version.bind. Any reply to it names the service; the
-- answer, when the server gives one, names the product and version (BIND, dnsmasq, Unbound...).
local dns = require("dns")

return {
  name = "dns",
  description = "DNS servers over UDP: product and version from the version.bind answer",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 53 },
  rarity = 1,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    -- Two tries: a datagram can be lost.
    for _ = 1, 2 do
      local id = math.random(0, 0xffff)
      sock:send(dns.version_query(id))
      local reply, reason = sock:receive(2000)
      if reply then
        sock:close()
        return dns.identify(reply, id)
      end
      if reason ~= "timeout" then break end
    end
    sock:close()
    return nil
  end,
}
