-- Docker Engine API: GET /version names the engine, its API version, OS and architecture (an unauthenticated API is root on the host).
local webapps = require("webapps")

return {
  name = "docker",
  description = "Docker Engine API: engine version, API version, OS/arch from /version",
  categories = { "default", "safe", "version" },
  ports = { 2375, 2376 },
  rarity = 8, -- the http probe names it on any other port (lib/webapps.lua)
  tls = true,

  run = function(host, port) return webapps.run("docker", host, port) end,
}
