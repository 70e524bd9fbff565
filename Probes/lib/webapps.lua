-- What runs behind an HTTP port: the server product from its Server header (or, where the
-- header is silent, from behaviour), and the applications and APIs that answer HTTP (IPP,
-- proxies, Docker, Kubernetes, etcd, Consul, Prometheus, CouchDB, InfluxDB, ...). The http
-- probe reads the answer to GET / through `identify`, and follows the path an app's `hint`
-- names when GET / alone does not say enough; each app's own probe asks its endpoint directly
-- through `run`. Facts from the projects' own documentation and from the real daemons.
local http = require("http")
local text = require("text")

local M = {}

-- Server (or Via) product tokens: CPE, and `proxy` for forward proxies (service http-proxy).
M.servers = {
  nginx = { cpe = "cpe:/a:f5:nginx" },
  openresty = { cpe = "cpe:/a:openresty:openresty" },
  Apache = { cpe = "cpe:/a:apache:http_server" },
  lighttpd = { cpe = "cpe:/a:lighttpd:lighttpd" },
  ["Microsoft-IIS"] = { cpe = "cpe:/a:microsoft:internet_information_services", os = "Windows" },
  ["Microsoft-HTTPAPI"] = { cpe = "cpe:/o:microsoft:windows", os = "Windows" },
  Caddy = { cpe = "cpe:/a:caddyserver:caddy" },
  Jetty = { cpe = "cpe:/a:eclipse:jetty" },
  gunicorn = { cpe = "cpe:/a:gunicorn:gunicorn" },
  uvicorn = { cpe = "cpe:/a:encode:uvicorn" },
  Werkzeug = { cpe = "cpe:/a:palletsprojects:werkzeug" },
  TornadoServer = { cpe = "cpe:/a:tornadoweb:tornado" },
  CherryPy = { cpe = "cpe:/a:cherrypy:cherrypy" },
  Kestrel = { cpe = "cpe:/a:microsoft:kestrel" },
  ["Apache-Coyote"] = { cpe = "cpe:/a:apache:tomcat" },
  envoy = { cpe = "cpe:/a:envoyproxy:envoy" },
  Varnish = { cpe = "cpe:/a:varnish-cache:varnish" },
  CouchDB = { cpe = "cpe:/a:apache:couchdb" },
  squid = { cpe = "cpe:/a:squid-cache:squid", proxy = true },
  tinyproxy = { cpe = "cpe:/a:tinyproxy_project:tinyproxy", proxy = true },
  Privoxy = { cpe = "cpe:/a:privoxy:privoxy", proxy = true },
  ["Apache Traffic Server"] = { cpe = "cpe:/a:apache:traffic_server", proxy = true },
  ["ATS"] = { cpe = "cpe:/a:apache:traffic_server", proxy = true },
}

local function fill_product(result, product, version, os)
  result.product, result.version = product, version
  local known = product and M.servers[product]
  if known then
    result.cpe = version and (known.cpe .. ":" .. version) or known.cpe
    result.os = os or known.os
  elseif os then
    result.os = os
  end
end

local function note(result, s)
  result.extra = result.extra and (result.extra .. "; " .. s) or s
end

-- The product a Via header names ("1.1 varnish (Varnish/7.1)", "1.0 host (tinyproxy/1.11.1)").
local function via_product(via)
  if not via then return nil end
  local inner = via:sub(1, 256):match("%(([^%)]+)%)")
  if not inner then return nil end
  return http.product(inner)
end

local function go_404(r)
  return r.code == 404 and r.body == "404 page not found\n"
end

local function json_version(r, key)
  local v = http.json_field(r.body, key)
  return v and v:match("^v?%d+[%w%.%-+~]*$") and v or nil
end

-- Applications. identify(r): a result for a response, or nil. hint(r): GET / suggests this
-- app; the http probe then asks `path` and tries identify on that answer.
M.apps = {
  {
    key = "ipp", path = "/",
    identify = function(r)
      local server = r.headers["server"] or ""
      if not (server:match("^CUPS/") or server:find("IPP/%d") or (r.headers["content-type"] or ""):find("application/ipp", 1, true)) then
        return nil
      end
      local result = { name = "ipp", device_type = "print server" }
      local product, version = server:match("^(CUPS)/([%d%.]+)")
      local title = text.element(r.body, "title") or ""
      local full = title:match("CUPS v(%d+%.%d+[%w%.]*)")
      if product then
        result.product, result.version = "CUPS", full or version
        result.cpe = "cpe:/a:openprinting:cups:" .. (full or version)
      else
        result.product = server:match("^([%w%-%._]+)")
      end
      local ipp = server:match("IPP/([%d%.]+)")
      if ipp then note(result, "IPP " .. ipp) end
      return result
    end,
  },
  {
    key = "docker", path = "/version",
    identify = function(r)
      local server = r.headers["server"] or ""
      local api = r.headers["api-version"]
      local body_version = r.body:find('"ApiVersion"', 1, true) and json_version(r, "Version")
      if not (server:match("^Docker/") or (api and r.body:find('"message"', 1, true)) or body_version) then return nil end
      local version = body_version or server:match("^Docker/([%d%.]+[%w%.%-+~]*)")
      local result = { name = "docker", product = "Docker Engine", version = version,
                       cpe = "cpe:/a:docker:docker" .. (version and (":" .. version) or "") }
      local podman = server:match("^Libpod/([%d%.]+)") -- Podman's Docker-compatible API
      if podman then result.product, result.version, result.cpe = "Podman", podman, "cpe:/a:podman_project:podman:" .. podman end
      api = http.json_field(r.body, "ApiVersion") or api
      if api then note(result, "API " .. api) end
      local os, arch = http.json_field(r.body, "Os"), http.json_field(r.body, "Arch")
      if os and arch then note(result, os .. "/" .. arch) end
      note(result, "unauthenticated API")
      return result
    end,
  },
  {
    key = "kubernetes", path = "/version",
    hint = function(r) return go_404(r) end,
    identify = function(r)
      local git = json_version(r, "gitVersion")
      local status = r.body:find('"kind"%s*:%s*"Status"') and r.body:find('"apiVersion"', 1, true)
      if not (git and r.body:find('"goVersion"', 1, true)) and not status then return nil end
      local result = { name = "kubernetes", product = "Kubernetes API server" }
      if git then
        result.version = git:gsub("^v", "")
        result.cpe = "cpe:/a:kubernetes:kubernetes:" .. result.version
        local platform = http.json_field(r.body, "platform")
        if platform then note(result, platform) end
      else
        note(result, "refused" .. (http.json_field(r.body, "reason") and (": " .. http.json_field(r.body, "reason"):sub(1, 40)) or ""))
      end
      return result
    end,
  },
  {
    key = "etcd", path = "/version",
    hint = function(r) return go_404(r) end,
    identify = function(r)
      local server = json_version(r, "etcdserver")
      if not server then return nil end
      local result = { name = "etcd", product = "etcd", version = server, cpe = "cpe:/a:etcd:etcd:" .. server }
      local cluster = json_version(r, "etcdcluster")
      if cluster then note(result, "cluster version " .. cluster) end
      return result
    end,
  },
  {
    key = "consul", path = "/v1/agent/self",
    hint = function(r) return r.code == 301 and r.headers["location"] == "/ui/" end,
    identify = function(r)
      local consul_header
      for _, n in ipairs(r.names) do if n:lower():match("^x%-consul%-") then consul_header = true end end
      local config = r.body:match('"Config"%s*:%s*(%b{})')
      if not (consul_header or (config and config:find('"Datacenter"', 1, true))) then return nil end
      local result = { name = "consul", product = "Consul" }
      local version = config and http.json_field(config, "Version")
      if version and version:match("^%d+%.%d+[%w%.%-]*$") then
        result.version, result.cpe = version, "cpe:/a:hashicorp:consul:" .. version
      end
      local dc = config and http.json_field(config, "Datacenter")
      if dc then note(result, "datacenter " .. dc:sub(1, 60)) end
      if r.code == 403 then note(result, "ACL: permission denied") end
      return result
    end,
  },
  {
    key = "prometheus", path = "/api/v1/status/buildinfo",
    hint = function(r) return r.code == 302 and (r.headers["location"] or ""):match("/graph$") end,
    identify = function(r)
      if not (r.body:find('"status"%s*:%s*"success"') and r.body:find('"goVersion"', 1, true)) then return nil end
      local version = json_version(r, "version")
      local result = { name = "prometheus", product = "Prometheus" }
      if version then
        result.version = version:gsub("%+ds$", "")
        result.cpe = "cpe:/a:prometheus:prometheus:" .. result.version
      end
      local branch = http.json_field(r.body, "revision")
      if branch and branch:find("deb", 1, true) then result.os = "Debian" end
      return result
    end,
  },
  {
    key = "couchdb", path = "/",
    identify = function(r)
      if not r.body:find('"couchdb"%s*:%s*"Welcome"') then return nil end
      local version = json_version(r, "version")
      local result = { name = "couchdb", product = "CouchDB", version = version,
                       cpe = "cpe:/a:apache:couchdb" .. (version and (":" .. version) or "") }
      local vendor = r.body:match('"vendor"%s*:%s*(%b{})')
      local vendor_name = vendor and http.json_field(vendor, "name")
      if vendor_name then note(result, "vendor " .. vendor_name:sub(1, 60)) end
      return result
    end,
  },
  {
    key = "influxdb", path = "/ping",
    identify = function(r)
      local version = r.headers["x-influxdb-version"]
      if not version then return nil end
      version = version:sub(1, 40):gsub("^v", "")
      local result = { name = "influxdb", product = "InfluxDB", version = version,
                       cpe = "cpe:/a:influxdata:influxdb:" .. version }
      local build = r.headers["x-influxdb-build"]
      if build then note(result, build:sub(1, 20) .. " build") end
      return result
    end,
  },
  {
    key = "elasticsearch", path = "/",
    identify = function(r)
      if not (r.headers["x-elastic-product"] == "Elasticsearch" or r.body:find('"tagline"%s*:%s*"You Know, for Search"')) then
        return nil
      end
      local version_object = r.body:match('"version"%s*:%s*(%b{})')
      local number = version_object and http.json_field(version_object, "number")
      return { name = "elasticsearch", product = "Elasticsearch", version = number,
               cpe = number and ("cpe:/a:elastic:elasticsearch:" .. number) or nil }
    end,
  },
  {
    key = "node-inspector", path = "/json/version",
    hint = function(r) return r.code == 400 and r.body:find("^WebSockets request was expected") end,
    identify = function(r)
      local browser = http.json_field(r.body, "Browser")
      if not (browser and browser:match("^node%.js/")) then return nil end
      local version = browser and browser:match("^node%.js/v([%d%.]+)$")
      local result = { name = "node-inspector", product = "Node.js", version = version,
                        extra = "inspector (remote debugging) open to the network" }
      if version then result.cpe = "cpe:/a:nodejs:node.js:" .. version end
      local protocol = http.json_field(r.body, "Protocol-Version")
      if protocol then note(result, "DevTools protocol " .. protocol) end
      return result
    end,
  },
  {
    key = "traefik", path = "/api/version",
    hint = function(r) return r.code == 302 and r.headers["location"] == "/dashboard/" end,
    identify = function(r)
      local version = json_version(r, "Version")
      if not (version and r.body:find('"Codename"', 1, true)) then return nil end
      return { name = "http", product = "Traefik", version = version, cpe = "cpe:/a:traefik:traefik:" .. version,
               extra = "API and dashboard; codename " .. (http.json_field(r.body, "Codename") or ""):sub(1, 40) }
    end,
  },
  {
    key = "envoy-admin", path = "/server_info",
    hint = function(r) return (text.element(r.body, "title") or "") == "Envoy Admin" end,
    identify = function(r)
      local v = http.json_field(r.body, "version")
      local version = v and v:match("^%x+/(%d+%.%d+[%.%d]*)/")
      if not (version and r.body:find('"command_line_options"', 1, true)) then return nil end
      local result = { name = "envoy-admin", product = "Envoy", version = version,
                       cpe = "cpe:/a:envoyproxy:envoy:" .. version, extra = "admin interface" }
      local state = http.json_field(r.body, "state")
      if state then note(result, "state " .. state:sub(1, 20)) end
      return result
    end,
  },
}

M.by_key = {}
for _, app in ipairs(M.apps) do M.by_key[app.key] = app end

-- The server side of a response: product, version and CPE from Server (a proxy or cache from
-- Via, the backend then noted), else from behaviour that only one server shows.
function M.server(r, result)
  local server = r.headers["server"]
  local product, version, os = http.product(server)
  local vproduct, vversion = via_product(r.headers["via"])
  if server then
    local jetty = server:match("^Jetty%(([%w%.%-]+)%)")
    if jetty then product, version = "Jetty", jetty end
  end
  if vproduct and M.servers[vproduct] then
    fill_product(result, vproduct, vversion)
    if M.servers[vproduct].proxy then result.name = "http-proxy" end
    if server and product ~= vproduct then note(result, "behind it: " .. server:sub(1, 80)) end
  elseif r.headers["x-varnish"] then
    fill_product(result, "Varnish")
    if server then note(result, "behind it: " .. server:sub(1, 80)) end
  elseif product then
    fill_product(result, product, version, os)
    if M.servers[product] and M.servers[product].proxy then result.name = "http-proxy" end
  end
  if r.headers["x-squid-error"] then
    result.name = "http-proxy"
    note(result, "squid error " .. r.headers["x-squid-error"]:sub(1, 40))
  end
  if result.product then return end
  -- No Server header: pages and status lines only one server writes.
  if r.code == 400 and r.reason == "Invalid header received from client" then
    fill_product(result, "Privoxy")
    result.name = "http-proxy"
    note(result, "from its 400 reply")
    return
  end
  local tomcat = r.body:match("<h3>Apache Tomcat/(%d+%.%d+[%.%d]*)")
  if tomcat then
    fill_product(result, "Apache Tomcat", tomcat, r.body:match("<h3>Apache Tomcat/[%d%.]+ %((%a+)%)</h3>"))
    result.cpe = "cpe:/a:apache:tomcat:" .. tomcat
    note(result, "from its error page")
    return
  end
  -- PHP's built-in server (php -S) answers with the request's Host header first, as no other does.
  if r.names[1] == "Host" then
    local php = (r.headers["x-powered-by"] or ""):match("^PHP/(%d+%.%d+[%.%d]*)")
    result.product, result.version = "PHP built-in web server", php
    result.cpe = "cpe:/a:php:php" .. (php and (":" .. php) or "")
    note(result, "php -S (a development server)")
    return
  end
  -- nginx and Apache sign their error pages even when a proxy in front hides Server.
  local nginx = r.body:match("<hr><center>nginx/?([%d%.]*)</center>")
  if nginx then
    fill_product(result, "nginx", nginx ~= "" and nginx or nil)
    note(result, "from its error page")
    return
  end
  local apache, apache_version, apache_os = r.body:match("<address>(Apache)/?([%d%.]*) ?%(?(%a*)%)? Server at ")
  if apache then
    fill_product(result, "Apache", apache_version ~= "" and apache_version or nil, apache_os ~= "" and apache_os or nil)
    note(result, "from its error page")
    return
  end
  local jetty = r.body:match("Powered by Jetty:// (%d+%.%d+[%w%.%-]*)")
  if jetty then
    fill_product(result, "Jetty", jetty)
    result.cpe = "cpe:/a:eclipse:jetty:" .. jetty
    note(result, "from its error page")
    return
  end
  if go_404(r) and r.headers["x-content-type-options"] == "nosniff" then
    result.product, result.cpe = "Go net/http", "cpe:/a:golang:go"
    note(result, "from its 404 page (guess)")
    return
  end
  local haproxy = r.body:match("HAProxy version (%d+%.%d+[%w%.%-+~]*),")
  if haproxy or (r.code == 503 and r.body:find("^<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.")) then
    result.product, result.version = "HAProxy", haproxy
    result.cpe = "cpe:/a:haproxy:haproxy" .. (haproxy and (":" .. haproxy:match("^[%d%.]+")) or "")
    note(result, haproxy and "statistics page" or "its own 503 page (no backend)")
  end
end

-- Whether an answer left the server unnamed (no Server header, no page that signs it): the http
-- probe then asks the quirk request, whose answer more servers sign (see `quirk`).
function M.needs_quirk(r, result)
  return not result.product and not r.headers["server"]
end

-- A request whose answer names a server that stays silent about itself: an error page (Tomcat
-- and Jetty sign theirs) or, for a header line without a colon, Node.js's bare 400.
M.quirk_request = { method = "GET", path = "/cartograph-no-such-page", version = "1.1", timeout = 2000,
                    headers = { "X-Cartograph-Check" } }

function M.quirk(r, result)
  if not r then return end
  local before = result.product
  M.server(r, result)
  if result.product and not before then return end
  if r.status == "HTTP/1.1 400 Bad Request" and #r.names == 1 and r.names[1] == "Connection"
      and r.headers["connection"] == "close" and r.body == "" then
    result.product, result.cpe = "Node.js", "cpe:/a:nodejs:node.js"
    note(result, "from its bare 400 reply (guess)")
  end
end

-- The app a GET / response shows at once, or nil and the list of apps it hints at.
function M.identify(r)
  local hinted = {}
  for _, app in ipairs(M.apps) do
    local result = app.identify(r)
    if result then return result end
    if app.hint and app.hint(r) then hinted[#hinted + 1] = app end
  end
  return nil, hinted
end

-- An app probe's run: GET its endpoint; its result, or nil. Over TLS when port.tls.
function M.run(key, host, port)
  if port.banner then return nil end -- an HTTP server never speaks first
  local app = M.by_key[key]
  local r = http.request(host, port, { path = app.path, headers = { "Accept: application/json" } })
  if not r then return nil end
  return app.identify(r)
end

return M
