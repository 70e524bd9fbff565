-- HTTP: a GET of "/" (or args.path); product and version come from the Server header.
-- Over TLS (port.tls) the service is "https", with the certificate's DNS names as hostnames.
local cert = require("cert")
local text = require("text")

local known_servers = {
  nginx = "cpe:/a:f5:nginx",
  Apache = "cpe:/a:apache:http_server",
  lighttpd = "cpe:/a:lighttpd:lighttpd",
  ["Microsoft-IIS"] = "cpe:/a:microsoft:internet_information_services",
  Caddy = "cpe:/a:caddyserver:caddy",
}

local function read_body(sock, limit)
  local parts, size = {}, 0
  while size < limit do
    local data = sock:receive(2000)
    if not data then break end
    parts[#parts + 1] = data
    size = size + #data
  end
  return table.concat(parts):sub(1, limit)
end

return {
  name = "http",
  description = "HTTP servers: status, server product and version, page title",
  categories = { "default", "safe", "version" },
  ports = { 80, 81, 443, 3000, 5000, 8000, 8008, 8080, 8081, 8443, 8888, 9000 },
  rarity = 1,
  tls = true, -- HTTPS: runs again over TLS after TLS detection

  run = function(host, port, args)
    if port.banner then return nil end -- an HTTP server never speaks first
    local sock = socket.connect(host, port, { tls = port.tls, sni = host.name })
    if not sock then return nil end
    local name = host.name or (host.family == "ipv6" and "[" .. host.address .. "]" or host.address)
    sock:send("GET " .. (args.path or "/") .. " HTTP/1.0\r\nHost: " .. name ..
              "\r\nUser-Agent: cartograph\r\nAccept: */*\r\nConnection: close\r\n\r\n")
    local status = sock:receive_line(5000)
    local code = status and status:match("^HTTP/%d%.%d (%d%d%d)")
    if not code then sock:close() return nil end

    local headers = {}
    while true do
      local line = sock:receive_line(3000)
      if not line or line == "" then break end
      local key, value = text.header(line)
      if key then headers[key:lower()] = value end
    end
    local body = read_body(sock, 16384)
    local certificate = port.tls and sock:certificate()
    sock:close()
    -- A TLS port answering plain HTTP with an error page (nginx, Apache): leave it to the run
    -- over TLS that follows TLS detection.
    if not port.tls and code == "400" and (body:match("plain HTTP request was sent to HTTPS port")
        or body:match("speaking plain HTTP to an SSL%-enabled server port")) then
      return nil
    end

    local result = { name = port.tls and "https" or "http", extra = "status " .. code }
    if certificate then result.hostnames = cert.dns_names(certificate) end
    local title = text.element(body, "title")
    if title and title ~= "" then result.extra = result.extra .. "; title: " .. title:sub(1, 80) end
    local server = headers["server"]
    if server then
      server = server:sub(1, 256)
      local product, version = server:match("^([%w%-%.]+)/([%w%.%-]+)")
      product = product or server:match("^([%w%-%.]+)")
      result.product, result.version = product, version
      local cpe = product and known_servers[product]
      if cpe then result.cpe = version and (cpe .. ":" .. version) or cpe end
      local os = server:match("%((%a+)%)")
      if os then result.os = os end
    end
    return result
  end,
}
