-- XMPP server-to-server (RFC 6120, dialback XEP-0220): a stream header in the jabber:server
-- namespace; the server's header and features (dialback, STARTTLS) answer it.
local xmpp = require("xmpp")

return {
  name = "xmpp-server",
  description = "XMPP server-to-server ports: domain and stream features (dialback, STARTTLS)",
  categories = { "default", "safe", "version" },
  ports = { 5269 },
  rarity = 8,
  tls = true,

  run = function(host, port)
    return xmpp.probe(host, port, "jabber:server", "xmpp-server")
  end,
}
