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

return reads
