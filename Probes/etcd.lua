-- etcd: GET /version answers {"etcdserver":"3.4.23","etcdcluster":"3.4.0"} on the client and the peer port.
local webapps = require("webapps")

return {
  name = "etcd",
  description = "etcd: server and cluster version from /version",
  categories = { "default", "safe", "version" },
  ports = { 2379, 2380, 4001 },
  rarity = 8, -- the http probe names it on any other port (lib/webapps.lua)
  tls = true,

  run = function(host, port) return webapps.run("etcd", host, port) end,
}
