-- Kerberos KDCs over TCP (RFC 4120 7.2.2: each message after a 4-byte length): an AS-REQ
-- for a nonexistent principal is answered with a KRB-ERROR.
local krb5 = require("krb5")

local reads = require("reads")
local PORTS = { 88 }

return {
  name = "kerberos-tcp",
  description = "Kerberos KDCs (TCP): a KRB-ERROR to an AS-REQ for a principal that does not exist",
  categories = { "default", "safe" },
  ports = PORTS,
  rarity = 7,

  run = function(host, port, args)
    if port.banner then return nil end -- a KDC never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local request, realm = krb5.probe_request(args)
    sock:send(string.pack(">s4", request))
    local head = sock:receive_bytes(4, reads.wait(port, PORTS))
    local size = head and string.unpack(">I4", head)
    if not size or size < 10 or size > 65536 then sock:close() return nil end
    local data = sock:receive_bytes(size, 2000)
    sock:close()
    return data and krb5.parse_error(data, realm)
  end,
}
