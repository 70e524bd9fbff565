-- InfluxDB: every HTTP answer, /ping's 204 included, carries X-Influxdb-Version and X-Influxdb-Build.
local webapps = require("webapps")

return {
  name = "influxdb",
  description = "InfluxDB: version and build from the X-Influxdb headers of /ping",
  categories = { "default", "safe", "version" },
  ports = { 8086 },
  rarity = 8, -- the http probe names it on any other port (lib/webapps.lua)
  tls = true,

  run = function(host, port) return webapps.run("influxdb", host, port) end,
}
