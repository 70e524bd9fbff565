-- Prometheus: GET /api/v1/status/buildinfo answers {"status":"success","data":{"version":...,"goVersion":...}}.
local webapps = require("webapps")

return {
  name = "prometheus",
  description = "Prometheus servers: version from the build-info API",
  categories = { "default", "safe", "version" },
  ports = { 9090 },
  rarity = 8, -- the http probe names it on any other port (lib/webapps.lua)
  tls = true,

  run = function(host, port) return webapps.run("prometheus", host, port) end,
}
