-- Consul: GET /v1/agent/self answers the agent's Config (Datacenter, Version); with ACLs a 403 still carries X-Consul-* headers.
local webapps = require("webapps")

return {
  name = "consul",
  description = "HashiCorp Consul agents: version and datacenter from /v1/agent/self",
  categories = { "default", "safe", "version" },
  ports = { 8500, 8501 },
  rarity = 8, -- the http probe names it on any other port (lib/webapps.lua)
  tls = true,

  run = function(host, port) return webapps.run("consul", host, port) end,
}
