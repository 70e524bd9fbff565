-- XMPP client-to-server (RFC 6120): a stream header in the jabber:client namespace; the server's
-- header gives its domain, its features the SASL mechanisms and STARTTLS.
local xmpp = require("xmpp")

return {
  name = "xmpp-client",
  description = "XMPP client ports: domain, stream features (SASL, STARTTLS) and the server where it shows",
  categories = { "default", "safe", "version" },
  ports = { 5222, 5223 },
  rarity = 8,
  tls = true, -- legacy XMPP over TLS (5223)

  run = function(host, port)
    return xmpp.probe(host, port, "jabber:client", "xmpp-client")
  end,
}
