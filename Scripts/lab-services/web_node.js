// The bare Node.js http server of the cg-web lab host (Scripts/lab.d/72-web.sh): no framework,
// no Server header, as `http.createServer` answers by default.
"use strict";
const http = require("http");
const port = Number(process.argv[2] || 3000);
http.createServer((req, res) => {
  res.setHeader("Content-Type", "text/html");
  res.end("<html><head><title>cg-web node</title></head><body>cartograph lab</body></html>\n");
}).listen(port, "::");
