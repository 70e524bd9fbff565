-- OpenVPN's control channel (openvpn/src/openvpn/ssl_pkt.h, reliable.c): a client's
-- P_CONTROL_HARD_RESET_CLIENT_V2 and the server's P_CONTROL_HARD_RESET_SERVER_V2 answer, which
-- acknowledges our packet and names our session id. Servers with tls-auth or tls-crypt drop
-- a reset without their HMAC: they stay silent.
local openvpn = {}

-- The reset packet (opcode 7, key id 0, no acks, packet id 0) and its random session id.
function openvpn.reset()
  local session = string.pack(">I4I4", math.random(0, 0xffffffff), math.random(0, 0xffffffff))
  return "\x38" .. session .. "\0" .. "\0\0\0\0", session
end

-- The result for a server reset that answers `session`, or nil.
function openvpn.parse(data, session)
  if not data or #data < 26 then return nil end
  local op = data:byte(1)
  if op >> 3 ~= 8 then return nil end -- P_CONTROL_HARD_RESET_SERVER_V2
  local acks = data:byte(10)
  if acks < 1 or acks > 8 or #data < 10 + 4 * acks + 8 then return nil end
  if data:sub(11 + 4 * acks, 18 + 4 * acks) ~= session then return nil end
  return { name = "openvpn", product = "OpenVPN", extra = "TLS control channel without tls-auth" }
end

return openvpn
