-- BER (ITU-T X.690), the subset LDAP uses: one-byte tags, definite lengths. Encoders return
-- the encoded element as a string; decode reads one element from a string; receive reads one
-- whole element from a socket.
local ber = {}

local function encode_length(n)
  if n < 0x80 then return string.char(n) end
  local bytes = ""
  while n > 0 do
    bytes = string.char(n & 0xff) .. bytes
    n = n >> 8
  end
  return string.char(0x80 | #bytes) .. bytes
end

-- An element with the given tag byte and content octets.
function ber.tlv(tag, content) return string.char(tag) .. encode_length(#content) .. content end

-- A non-negative INTEGER (or ENUMERATED with tag 0x0a).
function ber.integer(n, tag)
  local bytes = ""
  repeat
    bytes = string.char(n & 0xff) .. bytes
    n = n >> 8
  until n == 0
  if bytes:byte(1) >= 0x80 then bytes = "\0" .. bytes end
  return ber.tlv(tag or 0x02, bytes)
end

function ber.enumerated(n) return ber.integer(n, 0x0a) end
function ber.boolean(b) return ber.tlv(0x01, b and "\255" or "\0") end
function ber.octets(s, tag) return ber.tlv(tag or 0x04, s) end
function ber.sequence(...) return ber.tlv(0x30, table.concat({ ... })) end

-- decode(s [, pos]): tag, content, position after the element; nil when s holds no whole
-- element at pos.
function ber.decode(s, pos)
  pos = pos or 1
  if #s < pos + 1 then return nil end
  local tag, length = s:byte(pos, pos + 1)
  pos = pos + 2
  if length >= 0x80 then
    local n = length & 0x7f
    if n == 0 or n > 4 or #s < pos + n - 1 then return nil end
    length = 0
    for i = pos, pos + n - 1 do length = (length << 8) | s:byte(i) end
    pos = pos + n
  end
  if #s < pos + length - 1 then return nil end
  return tag, s:sub(pos, pos + length - 1), pos + length
end

-- The elements inside a constructed element's content, as a list of {tag, content}.
function ber.children(content)
  local list, pos = {}, 1
  while pos <= #content do
    local tag, value, after = ber.decode(content, pos)
    if not tag then break end
    list[#list + 1] = { tag = tag, value = value }
    pos = after
  end
  return list
end

-- The value of an INTEGER or ENUMERATED's content octets.
function ber.number(content)
  local n = 0
  for i = 1, math.min(#content, 7) do n = (n << 8) | content:byte(i) end
  if #content > 0 and content:byte(1) >= 0x80 then n = n - (1 << (8 * math.min(#content, 7))) end
  return n
end

-- receive(sock, timeout, limit): tag and content of the next element, nil when the stream
-- does not start with one or it is longer than limit (default 65536) bytes.
function ber.receive(sock, timeout, limit)
  local head = sock:receive_bytes(2, timeout)
  if not head then return nil end
  local tag, length = head:byte(1, 2)
  if length >= 0x80 then
    local n = length & 0x7f
    if n == 0 or n > 4 then return nil end
    local bytes = sock:receive_bytes(n, timeout)
    if not bytes then return nil end
    length = 0
    for i = 1, n do length = (length << 8) | bytes:byte(i) end
  end
  if length > (limit or 65536) then return nil end
  local content = length > 0 and sock:receive_bytes(length, timeout) or ""
  if not content then return nil end
  return tag, content
end

return ber
