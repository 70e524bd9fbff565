-- The uwsgi protocol (uWSGI's binary socket, what nginx's uwsgi_pass speaks): a packet with
-- modifier1 0 (a WSGI request) and the CGI variables of "GET /" is answered by the application
-- with an HTTP status line. An HTTP server reading the same bytes answers 400 (or another
-- parser error), which is not uwsgi; nor is anything that is not a status line.
local http = require("http")

local function var(key, value) return string.pack("<s2s2", key, value) end

return {
  name = "uwsgi",
  description = "uWSGI application sockets (uwsgi protocol): the application's answer to GET /",
  categories = { "default", "safe", "version" },
  ports = { 3031 },
  rarity = 8, -- niche: off its own port it is tried only at a higher intensity

  run = function(host, port)
    if port.banner then return nil end
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local name = host.name or host.address
    local vars = var("REQUEST_METHOD", "GET") .. var("PATH_INFO", "/") .. var("REQUEST_URI", "/") ..
                 var("QUERY_STRING", "") .. var("SERVER_NAME", name) .. var("SERVER_PORT", tostring(port.number)) ..
                 var("SERVER_PROTOCOL", "HTTP/1.1") .. var("HTTP_HOST", name) .. var("HTTP_USER_AGENT", "cartograph")
    sock:send(string.pack("<BI2B", 0, #vars, 0) .. vars)
    local line = sock:receive_line(3000)
    sock:close()
    local code = http.gateway_status(line)
    if not code then return nil end
    return { name = "uwsgi", product = "uWSGI", cpe = "cpe:/a:unbit:uwsgi", extra = "application answered GET /: status " .. code }
  end,
}
