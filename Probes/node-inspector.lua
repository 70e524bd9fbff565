-- Node.js inspector (--inspect): GET /json/version answers {"Browser": "node.js/v20.20.2", "Protocol-Version": "1.1"}; an inspector open to the network is remote code execution.
local webapps = require("webapps")

return {
  name = "node-inspector",
  description = "Node.js inspector (remote debugging): Node version from /json/version",
  categories = { "default", "safe", "version" },
  ports = { 9229 },
  rarity = 8, -- the http probe names it on any other port (lib/webapps.lua)
  tls = true,

  run = function(host, port) return webapps.run("node-inspector", host, port) end,
}
