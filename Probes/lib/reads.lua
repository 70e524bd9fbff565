-- Reading answers of unknown length from services that answer and close.
local reads = {}

-- all(sock, timeout, limit): what arrives until the peer closes, goes quiet for 500 ms after
-- the first answer, or `limit` bytes (default 4096) have come; the first wait is `timeout`.
-- Returns the text (maybe "") and the reason the last receive ended ("closed", "timeout"...).
function reads.all(sock, timeout, limit)
  limit = limit or 4096
  local data, reason = sock:receive(timeout)
  local all = data or ""
  for _ = 1, 16 do
    if not data or #all >= limit then break end
    data, reason = sock:receive(500)
    all = all .. (data or "")
  end
  return all:sub(1, limit), reason
end

-- wait(port, ports): how long a request-answer probe waits for the first answer: 2 s on the
-- ports it declares, 1 s elsewhere. A service of the probe's kind answers at once; the wait is
-- what a port of another kind, which holds our bytes without answering, costs the map.
function reads.wait(port, ports)
  for _, number in ipairs(ports) do
    if number == port.number then return 2000 end
  end
  return 1000
end

return reads
