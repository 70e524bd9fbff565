-- Kerberos KDCs over UDP: an AS-REQ for a nonexistent principal (RFC 4120 3.1) is answered
-- with a KRB-ERROR, whose error code, realm and server time go into extra. Realm from
-- args.realm, else one no KDC serves.
local krb5 = require("krb5")

return {
  name = "kerberos",
  description = "Kerberos KDCs (UDP): a KRB-ERROR to an AS-REQ for a principal that does not exist",
  categories = { "default", "safe" },
  protocol = "udp",
  ports = { 88 },
  rarity = 5,

  run = function(host, port, args)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local request, realm = krb5.probe_request(args)
    sock:send(request)
    local data = sock:receive(3000)
    sock:close()
    return data and krb5.parse_error(data, realm)
  end,
}
