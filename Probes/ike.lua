-- IKE (IPsec key exchange): an IKEv2 IKE_SA_INIT request (RFC 7296) offering AES-CBC,
-- SHA-256 and MODP 2048; any answer with our SPI is IKE: a responder's IKE_SA_INIT, or a
-- notification (NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD...). Vendor ID payloads name the
-- implementation. The exchange is never continued: no SA is set up.
-- Vendor IDs: MD5 of the implementation's name.
local vendors = {
  ["882fe56d6fd20dbc2251613b2ebe5beb"] = "strongSwan", -- MD5("strongSwan"), charon's send_vendor_id
}
local notifications = { [7] = "INVALID_SYNTAX", [14] = "NO_PROPOSAL_CHOSEN", [17] = "INVALID_KE_PAYLOAD",
                        [5] = "INVALID_MAJOR_VERSION", [16388] = "NAT_DETECTION_SOURCE_IP",
                        [16389] = "NAT_DETECTION_DESTINATION_IP", [16390] = "COOKIE",
                        [16404] = "MULTIPLE_AUTH_SUPPORTED", [16418] = "CHILDLESS_IKEV2_SUPPORTED",
                        [16430] = "IKEV2_FRAGMENTATION_SUPPORTED", [16431] = "SIGNATURE_HASH_ALGORITHMS" }

local udp = require("udp")

local function payload(next_payload, body)
  return string.pack(">BBI2", next_payload, 0, 4 + #body) .. body
end

local function transform(last, kind, id, attributes)
  attributes = attributes or ""
  return string.pack(">BBI2BBI2", last and 0 or 3, 0, 8 + #attributes, kind, 0, id) .. attributes
end

local function random_bytes(n)
  local out = {}
  for i = 1, n do out[i] = string.char(math.random(0, 255)) end
  return table.concat(out)
end

local function request(spi)
  local transforms = transform(false, 1, 12, string.pack(">I2I2", 0x800e, 128)) -- ENCR AES-CBC 128
    .. transform(false, 2, 5) -- PRF HMAC-SHA2-256
    .. transform(false, 3, 12) -- INTEG HMAC-SHA2-256-128
    .. transform(true, 4, 14) -- D-H MODP 2048
  local proposal = string.pack(">BBI2BBBB", 0, 0, 8 + #transforms, 1, 1, 0, 4) .. transforms
  -- A public value below the group's prime (whose top bits are all ones)
  local ke = string.pack(">I2I2", 14, 0) .. "\x7f" .. random_bytes(255)
  local body = payload(34, proposal) .. payload(40, ke) .. payload(0, random_bytes(32))
  local header = spi .. string.rep("\0", 8) .. string.pack(">BBBBI4I4", 33, 0x20, 34, 0x08, 0, 28 + #body)
  return header .. body
end

return {
  name = "ike",
  description = "IKE/IPsec responders: IKEv2 SA_INIT answer, vendor IDs name the implementation",
  categories = { "default", "safe" },
  protocol = "udp",
  ports = { 500, 4500 },
  rarity = 6,

  run = function(host, port)
    local spi = random_bytes(8)
    local packet = request(spi)
    if port.number == 4500 then packet = "\0\0\0\0" .. packet end -- the non-ESP marker
    local marker = port.number == 4500 and "\0\0\0\0" or ""
    local reply = udp.exchange(host, port, packet, function(data)
      return #data >= 28 + #marker and data:sub(1, #marker) == marker and data:sub(#marker + 1, #marker + 8) == spi
    end, 2500)
    if not reply then return nil end
    reply = reply:sub(#marker + 1)
    local next_payload, version, exchange, flags, _, length = string.unpack(">BBBBI4I4", reply, 17)
    if length > #reply then return nil end
    local result = { name = "isakmp" }
    local notes = { string.format("IKEv%d", version >> 4) }
    if exchange == 34 and flags & 0x20 ~= 0 then notes[#notes + 1] = "IKE_SA_INIT response" end
    local pos, kind = 29, next_payload
    for _ = 1, 32 do
      if kind == 0 or pos + 3 > length then break end
      local after, _, size = string.unpack(">BBI2", reply, pos)
      if size < 4 then break end
      local body = reply:sub(pos + 4, pos + size - 1)
      if kind == 43 then -- Vendor ID
        local hex = body:gsub(".", function(c) return string.format("%02x", c:byte()) end)
        local vendor = vendors[hex]
        if vendor and not result.product then result.product = vendor end
        notes[#notes + 1] = "vendor id " .. (vendor or hex:sub(1, 32))
      elseif kind == 41 and #body >= 4 then -- Notify
        local code = string.unpack(">I2", body, 3)
        notes[#notes + 1] = notifications[code] or ("notify " .. code)
      end
      kind, pos = after, pos + size
    end
    if result.product == "strongSwan" then result.cpe = "cpe:/a:strongswan:strongswan" end
    result.extra = table.concat(notes, "; ")
    return result
  end,
}
