-- CouchDB: GET / answers {"couchdb":"Welcome","version":"3.3.2",...,"vendor":{...}}.
local webapps = require("webapps")

return {
  name = "couchdb",
  description = "Apache CouchDB: version and vendor from the welcome document",
  categories = { "default", "safe", "version" },
  ports = { 5984, 6984 },
  rarity = 8, -- the http probe names it on any other port (lib/webapps.lua)
  tls = true,

  run = function(host, port) return webapps.run("couchdb", host, port) end,
}
