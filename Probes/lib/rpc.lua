-- ONC RPC (RFC 5531) calls with AUTH_NONE, over TCP (record marking, RFC 5531 11) or UDP, and
-- the portmapper's program list (RFC 1833, PMAPPROC_DUMP).
local rpc = {}

-- Program numbers and their usual names (the service names of /etc/rpc).
rpc.programs = {
  [100000] = "rpcbind", [100001] = "rstatd", [100002] = "rusersd", [100003] = "nfs",
  [100004] = "ypserv", [100005] = "mountd", [100007] = "ypbind", [100008] = "walld",
  [100009] = "yppasswdd", [100011] = "rquotad", [100012] = "sprayd", [100017] = "rexd",
  [100021] = "nlockmgr", [100024] = "status", [100026] = "bootparam", [100028] = "ypupdated",
  [100029] = "keyserv", [100069] = "ypxfrd", [100227] = "nfs_acl", [150001] = "pcnfsd",
  [300019] = "amd", [391002] = "sgi_fam",
}

local xid_counter = 0x43470000

-- call(prog, vers, proc, args): the bytes of one call message, and its xid.
function rpc.call(prog, vers, proc, args)
  xid_counter = xid_counter + 1
  local message = string.pack(">I4I4I4I4I4I4I4I4I4I4", xid_counter, 0, 2, prog, vers, proc, 0, 0, 0, 0)
                  .. (args or "")
  return message, xid_counter
end

-- TCP: one record of one fragment.
function rpc.record(message)
  return string.pack(">I4", 0x80000000 | #message) .. message
end

-- Reads one record (its fragments, at most 8, 64 KiB in all) from a TCP socket.
function rpc.receive_record(sock, timeout)
  local parts, total = {}, 0
  for _ = 1, 8 do
    local header = sock:receive_bytes(4, timeout)
    if not header then return nil end
    local word = string.unpack(">I4", header)
    local size = word & 0x7FFFFFFF
    total = total + size
    if total > 65536 then return nil end
    local body = size > 0 and sock:receive_bytes(size, timeout) or ""
    if not body then return nil end
    parts[#parts + 1] = body
    if word & 0x80000000 ~= 0 then return table.concat(parts) end
  end
  return nil
end

-- reply(message, xid): parses a reply to the call `xid`. Returns a table
-- { accepted = bool, status = accept_stat or reject_stat, low, high (for PROG_MISMATCH),
--   body = offset of the results } or nil when the bytes are not an RPC reply.
function rpc.reply(message, xid)
  if not message or #message < 12 then return nil end
  local rxid, kind, stat = string.unpack(">I4I4I4", message)
  if (xid and rxid ~= xid) or kind ~= 1 or stat > 1 then return nil end
  if stat == 1 then -- MSG_DENIED: RPC_MISMATCH (0, low, high) or AUTH_ERROR (1, why)
    if #message < 16 then return nil end
    local reject = string.unpack(">I4", message, 13)
    if reject > 1 then return nil end
    return { accepted = false, status = reject }
  end
  if #message < 24 then return nil end
  local _, verf_length = string.unpack(">I4I4", message, 13)
  if verf_length > 400 then return nil end
  local offset = 21 + ((verf_length + 3) // 4) * 4
  if #message < offset + 3 then return nil end
  local accept = string.unpack(">I4", message, offset)
  if accept > 5 then return nil end
  local result = { accepted = true, status = accept, body = offset + 4 }
  if accept == 2 and #message >= offset + 11 then
    result.low, result.high = string.unpack(">I4I4", message, offset + 4)
  end
  return result
end

-- exchange(sock, tcp, message, xid, timeout): sends a call and parses the reply.
function rpc.exchange(sock, tcp, message, xid, timeout)
  if tcp then
    if not sock:send(rpc.record(message)) then return nil end
    local answer = rpc.receive_record(sock, timeout)
    return rpc.reply(answer, xid), answer
  end
  if not sock:send(message) then return nil end
  local answer = sock:receive(timeout)
  return rpc.reply(answer, xid), answer
end

-- dump(body, offset): the PMAPPROC_DUMP list, { {prog, vers, proto, port}, ... } (at most 200).
function rpc.dump(body, offset)
  local list = {}
  while offset + 3 <= #body and #list < 200 do
    local follows = string.unpack(">I4", body, offset)
    if follows ~= 1 or offset + 20 > #body then break end
    local prog, vers, proto, port = string.unpack(">I4I4I4I4", body, offset + 4)
    list[#list + 1] = { prog = prog, vers = vers, proto = proto == 6 and "tcp" or (proto == 17 and "udp" or tostring(proto)), port = port }
    offset = offset + 20
  end
  return list
end

-- summary(list): "100000 rpcbind v2-4 tcp/111 udp/111; 100024 status v1 ..." by program.
function rpc.summary(list)
  local order, by = {}, {}
  for _, entry in ipairs(list) do
    local p = by[entry.prog]
    if not p then
      p = { low = entry.vers, high = entry.vers, where = {}, seen = {} }
      by[entry.prog] = p
      order[#order + 1] = entry.prog
    end
    p.low, p.high = math.min(p.low, entry.vers), math.max(p.high, entry.vers)
    local where = entry.proto .. "/" .. entry.port
    if not p.seen[where] then p.seen[where] = true; p.where[#p.where + 1] = where end
  end
  local parts = {}
  for _, prog in ipairs(order) do
    local p = by[prog]
    local versions = p.low == p.high and ("v" .. p.low) or ("v" .. p.low .. "-" .. p.high)
    parts[#parts + 1] = string.format("%d %s %s %s", prog, rpc.programs[prog] or "?", versions,
                                      table.concat(p.where, " "))
  end
  return table.concat(parts, "; ")
end

-- portmapper(host, proto): the program list of the host's portmapper on 111, or nil.
function rpc.portmapper(host, proto)
  local sock = socket.connect(host, 111, { protocol = proto, timeout = 2000 })
  if not sock then return nil end
  local message, xid = rpc.call(100000, 2, 4)
  local reply, raw = rpc.exchange(sock, proto == "tcp", message, xid, 2000)
  sock:close()
  if not reply or not reply.accepted or reply.status ~= 0 then return nil end
  return rpc.dump(raw, reply.body)
end

return rpc
