-- SCGI (the Simple Common Gateway Interface, python.ca/scgi/protocol.txt): the CGI variables of
-- "GET /" as a netstring ("LEN:" NAME\0VALUE\0 ... ",", CONTENT_LENGTH first, then SCGI 1) are
-- answered by the application in CGI form ("Status: 200 OK") or with a status line. An HTTP
-- server reading the same bytes answers 400, which is not SCGI.
local http = require("http")

return {
  name = "scgi",
  description = "SCGI application sockets (uWSGI, python scgi, ...): the application's answer to GET /",
  categories = { "default", "safe", "discovery" },
  ports = { 4000 },
  rarity = 8, -- niche: off its own port it is tried only at a higher intensity

  run = function(host, port)
    if port.banner then return nil end
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local name = host.name or host.address
    local headers = table.concat({ "CONTENT_LENGTH", "0", "SCGI", "1", "REQUEST_METHOD", "GET", "REQUEST_URI", "/",
      "PATH_INFO", "/", "QUERY_STRING", "", "SERVER_NAME", name, "SERVER_PORT", tostring(port.number),
      "SERVER_PROTOCOL", "HTTP/1.1", "HTTP_HOST", name, "HTTP_USER_AGENT", "cartograph" }, "\0") .. "\0"
    sock:send(#headers .. ":" .. headers .. ",")
    local line = sock:receive_line(3000)
    sock:close()
    local code = http.gateway_status(line)
    if not code then return nil end
    return { name = "scgi", extra = "application answered GET /: status " .. code }
  end,
}
