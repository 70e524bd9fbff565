-- One request and its answer over UDP, for probes of datagram protocols.
local udp = {}

-- exchange(host, port, packet, accept [, timeout]): sends `packet` (twice at most: datagrams
-- get lost) and returns the first datagram for which accept(data) is true, or nil when none
-- came, the port is closed ("refused") or four other datagrams came instead.
function udp.exchange(host, port, packet, accept, timeout)
  local sock = socket.connect(host, port, { protocol = "udp" })
  if not sock then return nil end
  local others = 0
  for _ = 1, 2 do
    sock:send(packet)
    while true do
      local data, reason = sock:receive(timeout or 2000)
      if not data then
        if reason ~= "timeout" then sock:close() return nil end
        break
      end
      if accept(data) then sock:close() return data end
      others = others + 1
      if others >= 4 then sock:close() return nil end
    end
  end
  sock:close()
  return nil
end

return udp
