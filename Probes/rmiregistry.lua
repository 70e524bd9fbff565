-- Java RMI (the JRMP transport of the Java RMI specification): the client's "JRMI", version 2
-- and StreamProtocol (0x4b) are answered by ProtocolAck (0x4e) and the endpoint the server sees
-- the client as (a UTF string and a port). The RMI registry's port, and every JMX-over-RMI
-- port, speak it; nothing is looked up.
return {
  name = "rmiregistry",
  description = "Java RMI endpoints (the RMI registry, JMX over RMI): the JRMP protocol acknowledgement",
  categories = { "default", "safe", "discovery" },
  ports = { 1099, 1098 },
  rarity = 8, -- niche: off its own port it is tried only at a higher intensity

  run = function(host, port)
    if port.banner then return nil end
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("JRMI\0\2\x4b")
    local ack = sock:receive_bytes(3, 3000)
    if not ack or ack:byte(1) ~= 0x4e then sock:close() return nil end
    local length = string.unpack(">I2", ack, 2)
    local seen = length > 0 and length <= 255 and sock:receive_bytes(length + 4, 2000)
    sock:close()
    if not seen then return nil end
    local address = seen:sub(1, length)
    if not address:match("^[%w%.:%-%%]+$") then return nil end
    return { name = "rmiregistry", product = "Java RMI", extra = "JRMP ProtocolAck; sees the client as " .. address }
  end,
}
