-- Forward HTTP proxies: a CONNECT to this very host and port (never to any other address), so
-- that an open proxy proves itself with "200 Connection established" and nothing is fetched;
-- a proxy that refuses still names itself (Server, Via, Proxy-Agent, X-Squid-Error,
-- Proxy-Authenticate). An origin server's refusal of CONNECT names nothing and returns nil.
local http = require("http")
local webapps = require("webapps")

return {
  name = "http-proxy",
  description = "Forward HTTP proxies (Squid, tinyproxy, Privoxy, ...): open or not, product and version",
  categories = { "default", "safe", "version", "discovery" },
  ports = { 3128, 3129, 8118, 8123, 6588 },
  rarity = 8, -- on any other port the http probe names it (a Server, Via or X-Squid-Error header)

  run = function(host, port)
    if port.banner then return nil end
    local target = (host.family == "ipv6" and "[" .. host.address .. "]" or host.address) .. ":" .. port.number
    local r = http.request(host, port, { method = "CONNECT", path = target, host = target, version = "1.1",
                                         limit = 0, timeout = 4000 }) -- after a 200 comes the tunnel
    if not r then return nil end
    local result = { name = "http" }
    webapps.server(r, result)
    local agent = r.headers["proxy-agent"]
    if agent and not result.product then
      local product, version = http.product(agent)
      result.product, result.version = product, version
      local known = product and webapps.servers[product]
      if known then result.cpe = version and (known.cpe .. ":" .. version) or known.cpe end
    end
    local open = r.code == 200 and (r.reason or ""):lower():find("connection established", 1, true)
    if open and not result.product then
      -- A bare "200 Connection established" names nobody: a plain GET / may (an error page, Via).
      local plain = http.request(host, port, { limit = 4096, timeout = 3000 })
      if plain then webapps.server(plain, result) end
    end
    local auth = r.code == 407 and r.headers["proxy-authenticate"]
    if not (open or auth or result.name == "http-proxy" or agent) then return nil end
    result.name = "http-proxy"
    local state = open and "open: CONNECT to this host allowed" or
                  auth and ("authentication required: " .. auth:sub(1, 60)) or
                  ("CONNECT refused, status " .. r.code)
    result.extra = result.extra and (state .. "; " .. result.extra) or state
    return result
  end,
}
