-- HTCP (RFC 2756), the Hypertext Caching Protocol of Squid and other caches: a TST request
-- (is this URL in your cache?) for a URL of this host only is answered by a TST response with
-- the same transaction id; its response code says present (0) or not (1). Nothing is fetched.
-- Sent as version 0.1, as Squid sends it (Squid reads a 0.0 message in an older layout).
local function countstr(s) return string.pack(">s2", s) end

return {
  name = "htcp",
  description = "HTCP (Hypertext Caching Protocol) of web caches such as Squid: the answer to a TST query",
  categories = { "default", "safe", "discovery" },
  ports = { 4827 },
  protocol = "udp",
  rarity = 8,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local url = "http://" .. (host.family == "ipv6" and "[" .. host.address .. "]" or host.address) .. "/"
    local op = countstr("HEAD") .. countstr(url) .. countstr("HTTP/1.1") .. countstr("")
    -- DATA: length, opcode TST (1) in the high nibble, F1 (a response is wanted), transaction id.
    local data = string.pack(">I2BBI4", 8 + #op, 0x10, 0x02, 0x43415254) .. op
    local auth = string.pack(">I2", 2)
    sock:send(string.pack(">I2BB", 4 + #data + #auth, 0, 1) .. data .. auth)
    local reply = sock:receive(2000)
    sock:close()
    if not reply or #reply < 12 then return nil end
    local total, major, minor, _, opcode, flags, id = string.unpack(">I2BBI2BBI4", reply)
    if total ~= #reply or major ~= 0 or id ~= 0x43415254 or opcode >> 4 ~= 1 or flags & 1 ~= 1 then return nil end
    local code = opcode & 0x0f
    return { name = "htcp", extra = "HTCP " .. major .. "." .. minor .. "; TST answered: " .. (code == 0 and "in the cache" or code == 1 and "not in the cache" or ("code " .. code)) }
  end,
}
