-- SOCKS5: a method negotiation (RFC 1928 section 3) offering "no authentication" and
-- username/password; the server's two-byte answer (version 5, chosen method or 0xFF) names the
-- protocol. Nothing is ever requested through the proxy: no CONNECT, BIND or UDP ASSOCIATE.
local methods = { [0] = "no authentication", [1] = "GSSAPI", [2] = "username/password",
                  [255] = "no acceptable method" }

local reads = require("reads")
local PORTS = { 1080 }

return {
  name = "socks",
  description = "SOCKS5 proxies: the authentication method they choose (method negotiation only)",
  categories = { "default", "safe" },
  ports = PORTS,
  rarity = 5,

  run = function(host, port)
    if port.banner then return nil end -- a SOCKS server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("\5\2\0\2")
    local reply = sock:receive_bytes(2, reads.wait(port, PORTS))
    local extra
    if reply then extra = sock:receive(200) end -- a 2-byte answer is all a SOCKS5 server says
    sock:close()
    if not reply or extra then return nil end
    local version, method = reply:byte(1, 2)
    if version ~= 5 or not (method <= 2 or method == 255) then return nil end
    return { name = "socks", extra = "SOCKS5, method: " .. methods[method] }
  end,
}
