-- HTTP on any port: a GET of "/" (or args.path), then an OPTIONS (WebDAV's DAV header). The
-- server product and version come from the Server header (a proxy or cache from Via) or, where
-- it is silent, from one more request whose answer only one server gives; what runs behind it
-- (IPP, a forward proxy, Docker, etcd, ...) from the tables of lib/webapps.lua, which name the
-- service. Over TLS (port.tls) plain HTTP is "https", with the certificate's DNS names as
-- hostnames; anything else keeps its own name.
local cert = require("cert")
local http = require("http")
local text = require("text")
local webapps = require("webapps")

return {
  name = "http",
  description = "HTTP servers and what runs behind them: server, proxy, WebDAV, APIs, page title",
  categories = { "default", "safe", "version" },
  ports = { 80, 81, 443, 3000, 5000, 8000, 8008, 8080, 8081, 8443, 8888, 9000 },
  rarity = 1,
  tls = true, -- HTTPS: runs again over TLS after TLS detection

  run = function(host, port, args)
    if port.banner then return nil end -- an HTTP server never speaks first
    local get = http.send(host, port, { path = args.path or "/" })
    if not get then return nil end
    local certificate = port.tls and get:certificate()
    local r = http.read(get)
    if not r then return nil end
    -- A TLS port answering plain HTTP with an error page (nginx, Apache, Go's net/http as in
    -- Caddy and Traefik): leave it to the run over TLS that follows TLS detection.
    if not port.tls and r.code == 400 and (r.body:find("plain HTTP request was sent to HTTPS port", 1, true)
        or r.body:find("speaking plain HTTP to an SSL-enabled server port", 1, true)
        or r.body:find("sent an HTTP request to an HTTPS server", 1, true)) then
      return nil
    end
    if not port.tls and r.code == 426 and (r.headers["upgrade"] or ""):find("TLS", 1, true) then return nil end

    local result, hinted = webapps.identify(r)
    local asked = {} -- path -> answer: apps that share an endpoint (/version) ask it once
    for i = 1, math.min(#(hinted or {}), 3) do
      local app = hinted[i]
      if asked[app.path] == nil then
        asked[app.path] = http.request(host, port, { path = app.path, headers = { "Accept: application/json" } }) or false
      end
      result = asked[app.path] and app.identify(asked[app.path]) or nil
      if result then break end
    end
    local app = result ~= nil
    result = result or { name = "http" }
    if not app then
      webapps.server(r, result)
      if webapps.needs_quirk(r, result) then
        webapps.quirk(http.request(host, port, webapps.quirk_request), result)
      end
    end
    if port.tls and result.name == "http" then result.name = "https" end
    -- WebDAV answers OPTIONS with a DAV header; asked after GET, not beside it, so that one
    -- port holds one connection at a time (they are shared with the host's other ports).
    local o = not app and http.request(host, port, { method = "OPTIONS", limit = 0, timeout = 2000 })

    local notes = { "status " .. r.code }
    local title = text.element(r.body, "title")
    if title and title ~= "" then notes[#notes + 1] = "title: " .. title:sub(1, 80) end
    local dav = o and o.headers["dav"]
    if dav and dav:match("^%s*[12]") then
      notes[#notes + 1] = "WebDAV (DAV " .. dav:sub(1, 20) .. ")"
    end
    local powered = r.headers["x-powered-by"]
    if powered and not app then notes[#notes + 1] = "powered by " .. powered:sub(1, 60) end
    if result.extra then notes[#notes + 1] = result.extra end
    result.extra = table.concat(notes, "; ")
    if certificate then result.hostnames = cert.dns_names(certificate) end
    return result
  end,
}
