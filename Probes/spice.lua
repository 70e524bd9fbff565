-- SPICE remote displays (QEMU/KVM guests, spice-protocol's SpiceLinkHeader): the client sends a
-- link message ("REDQ", protocol 2.2) for the main channel; the server's link reply carries
-- its protocol version and an error code (0 when it would go on to authentication).
local errors = { [0] = "ok", [1] = "error", [2] = "invalid magic", [3] = "invalid data",
                 [4] = "version mismatch", [5] = "need secured", [6] = "need unsecured",
                 [7] = "permission denied", [8] = "bad connection id", [9] = "channel not available" }

return {
  name = "spice",
  description = "SPICE remote displays (QEMU/KVM): protocol version and link status from the link reply",
  categories = { "default", "safe", "version" },
  ports = { 5930 }, -- QEMU and libvirt also use 5900 and up, where VNC answers first
  rarity = 8,
  tls = true, -- SPICE over TLS (tls-port)

  run = function(host, port)
    if port.banner and not port.tls then return nil end -- the client speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    -- SpiceLinkMess: connection id 0, channel 1 (main), channel id 0, one common and one main
    -- capability word (auth selection, mini header), the capabilities at offset 18.
    local body = string.pack("<I4BBI4I4I4", 0, 1, 0, 1, 1, 18) .. string.pack("<I4I4", 0x0B, 0x01)
    sock:send("REDQ" .. string.pack("<I4I4I4", 2, 2, #body) .. body)
    local header = sock:receive_bytes(16, 3000)
    if not header or header:sub(1, 4) ~= "REDQ" then sock:close() return nil end
    local major, minor, size = string.unpack("<I4I4I4", header, 5)
    if major > 10 or size < 4 or size > 4096 then sock:close() return nil end
    local reply = sock:receive_bytes(size, 3000)
    sock:close()
    if not reply then return nil end
    local code = string.unpack("<I4", reply)
    local result = { name = "spice", extra = string.format("protocol %d.%d; link %s", major, minor,
                                                          errors[code] or ("error " .. code)) }
    if port.tls then result.extra = result.extra .. "; over TLS" end
    return result
  end,
}
