-- Portmapper / rpcbind over UDP (RFC 1833): PMAPPROC_DUMP lists the registered RPC programs.
local rpc = require("rpc")

return {
  name = "rpcbind-udp",
  description = "ONC RPC portmapper (rpcbind) over UDP: the registered programs, versions and ports",
  categories = { "default", "safe", "version", "discovery" },
  protocol = "udp",
  ports = { 111 },
  rarity = 5,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local message, xid = rpc.call(100000, 2, 4)
    local reply, raw = rpc.exchange(sock, false, message, xid, 3000)
    sock:close()
    if not reply then return nil end
    if not reply.accepted or reply.status ~= 0 then
      return { name = "rpc", extra = "ONC RPC server (not a portmapper)" }
    end
    return { name = "rpcbind", extra = "programs: " .. rpc.summary(rpc.dump(raw, reply.body)):sub(1, 400) }
  end,
}
