-- ICP, the Internet Cache Protocol (RFC 2186) of Squid and other caches: an ICP_OP_QUERY for a
-- URL of this host only is answered with the same request number and an opcode saying HIT,
-- MISS, MISS_NOFETCH, DENIED or ERR. Nothing is fetched: a query only asks the cache.
local opcodes = { [2] = "HIT", [3] = "MISS", [4] = "ERR", [21] = "MISS_NOFETCH", [22] = "DENIED", [23] = "HIT_OBJ" }

return {
  name = "icp",
  description = "ICP (Internet Cache Protocol) of web caches such as Squid: the answer to a query",
  categories = { "default", "safe", "discovery" },
  ports = { 3130 },
  protocol = "udp",
  rarity = 8,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local url = "http://" .. (host.family == "ipv6" and "[" .. host.address .. "]" or host.address) .. "/\0"
    local payload = "\0\0\0\0" .. url
    sock:send(string.pack(">BBHI4I4I4I4", 1, 2, 20 + #payload, 0x43415254, 0, 0, 0) .. payload)
    local reply = sock:receive(2000)
    sock:close()
    if not reply or #reply < 20 then return nil end
    local opcode, version, length, id = string.unpack(">BBHI4", reply)
    if version ~= 2 or id ~= 0x43415254 or not opcodes[opcode] or length ~= #reply then return nil end
    return { name = "icp", extra = "ICPv2; query answered " .. opcodes[opcode] }
  end,
}
