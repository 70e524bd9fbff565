-- Portmapper / rpcbind over TCP (RFC 1833): PMAPPROC_DUMP lists the registered RPC programs.
local rpc = require("rpc")

return {
  name = "rpcbind",
  description = "ONC RPC portmapper (rpcbind) over TCP: the registered programs, versions and ports",
  categories = { "default", "safe", "version", "discovery" },
  ports = { 111 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- the client speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local message, xid = rpc.call(100000, 2, 4)
    local reply, raw = rpc.exchange(sock, true, message, xid, 3000)
    if not reply then sock:close() return nil end
    if not reply.accepted or reply.status ~= 0 then
      sock:close()
      -- An RPC server, but not a portmapper: the rpc probe names it.
      return nil
    end
    local list = rpc.dump(raw, reply.body)
    -- Versions 3 and 4 (rpcbind) answer too where the daemon is rpcbind, not the old portmap.
    local versions = "2"
    local v4, v4xid = rpc.call(100000, 4, 0)
    local v4reply = rpc.exchange(sock, true, v4, v4xid, 2000)
    sock:close()
    if v4reply and v4reply.accepted and v4reply.status == 0 then versions = "2-4" end
    return { name = "rpcbind", extra = "portmapper v" .. versions .. "; programs: " .. rpc.summary(list):sub(1, 400) }
  end,
}
