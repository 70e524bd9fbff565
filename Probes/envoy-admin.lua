-- Envoy admin interface: GET /server_info answers the version ("<sha>/1.27.0/Clean/RELEASE/BoringSSL"), state and command-line options.
local webapps = require("webapps")

return {
  name = "envoy-admin",
  description = "Envoy proxy admin interface: version and state from /server_info",
  categories = { "default", "safe", "version" },
  ports = { 9901 },
  rarity = 8, -- the http probe names it on any other port (lib/webapps.lua)
  tls = true,

  run = function(host, port) return webapps.run("envoy-admin", host, port) end,
}
