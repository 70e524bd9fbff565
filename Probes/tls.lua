-- TLS: the last resort over TLS, for a service no other TLS-aware probe recognised: names it
-- "tls" with the protocol version and the certificate's subject, issuer, expiry and names.
local cert = require("cert")

return {
  name = "tls",
  description = "Any TLS service: protocol version and certificate subject, issuer, expiry, names",
  categories = { "default", "safe", "discovery" },
  ports = {},
  rarity = 9, -- after every probe that can say what runs inside the tunnel
  tls = true,

  run = function(host, port)
    if not port.tls then return nil end
    local sock = socket.connect(host, port, { tls = true, sni = host.name })
    if not sock then return nil end
    local c = sock:certificate()
    sock:close()
    return { name = "tls", extra = cert.summary(c), hostnames = cert.dns_names(c) }
  end,
}
