-- Kubernetes API server: GET /version answers {"gitVersion": "v1.28.2", "goVersion": ...}; a server that refuses anonymous users answers a Status object.
local webapps = require("webapps")

return {
  name = "kubernetes",
  description = "Kubernetes API servers: version from /version, or the Status object of a refusal",
  categories = { "default", "safe", "version" },
  ports = { 6443, 16443 },
  rarity = 8, -- the http probe names it on any other port (lib/webapps.lua)
  tls = true,

  run = function(host, port) return webapps.run("kubernetes", host, port) end,
}
