-- Mumble servers over UDP: the unauthenticated "ping" (Mumble's protocol documentation, UDP ping
-- packet): four zero bytes and an 8-byte ident; the answer echoes the ident with the server's
-- version, its user count, user limit and bandwidth limit.
return {
  name = "mumble",
  description = "Mumble (Murmur) voice chat servers: version and users from the UDP ping",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 64738 },
  rarity = 6,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local ident = string.pack(">I4I4", math.random(1, 0x7FFFFFFF), 0x43475047)
    sock:send("\0\0\0\0" .. ident)
    local answer = sock:receive(3000)
    sock:close()
    if not answer or #answer ~= 24 or answer:sub(5, 12) ~= ident then return nil end
    local _, major, minor, patch = string.unpack(">BBBB", answer)
    local users, limit, bandwidth = string.unpack(">I4I4I4", answer, 13)
    local version = string.format("%d.%d.%d", major, minor, patch)
    return { name = "mumble", product = "Murmur", version = version, cpe = "cpe:/a:mumble:murmur:" .. version,
             extra = string.format("%d/%d users; bandwidth %d bit/s", users, limit, bandwidth) }
  end,
}
