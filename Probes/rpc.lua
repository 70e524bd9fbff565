-- ONC RPC services on any port (NFS, mountd, statd, nlockmgr...): a NULL call to a program no
-- server runs is answered PROG_UNAVAIL by any RPC server (RFC 5531 9); the portmapper on 111
-- then says which program listens on this port. On 2049 a NULL call to NFS itself names it.
local rpc = require("rpc")

local UNLIKELY = 0x43470001 -- no registered program has this number

return {
  name = "rpc",
  description = "ONC RPC services on any port: program name and versions from the portmapper, NFS on 2049",
  categories = { "default", "safe", "version" },
  ports = { 2049 },
  rarity = 7,

  run = function(host, port)
    if port.banner then return nil end -- the client speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local nfs = port.number == 2049
    local message, xid = rpc.call(nfs and 100003 or UNLIKELY, nfs and 3 or 1, 0)
    local reply = rpc.exchange(sock, true, message, xid, 3000)
    sock:close()
    if not reply then return nil end

    local result = { name = "rpc", extra = "ONC RPC" }
    if nfs and reply.accepted and (reply.status == 0 or reply.status == 2) then
      result.name = "nfs"
      local low, high = reply.low or 3, reply.high or 3
      result.extra = "RPC #100003 v" .. (low == high and low or (low .. "-" .. high))
    end
    local list = rpc.portmapper(host, "tcp")
    if list then
      local found, low, high
      for _, entry in ipairs(list) do
        if entry.proto == "tcp" and entry.port == port.number and entry.prog ~= 100000 then
          if found and found ~= entry.prog then break end
          found = entry.prog
          low, high = math.min(low or entry.vers, entry.vers), math.max(high or entry.vers, entry.vers)
        end
      end
      if found then
        result.name = rpc.programs[found] or "rpc"
        result.extra = string.format("RPC #%d v%s", found, low == high and low or (low .. "-" .. high))
      end
    end
    return result
  end,
}
