-- Kerberos 5 (RFC 4120): an AS-REQ for a principal no KDC has, and the reading of the
-- KRB-ERROR a KDC answers it with. Shared by the UDP and TCP probes.
local ber = require("ber")
local krb5 = {}

local function ctx(n, content) return ber.tlv(0xa0 + n, content) end
local function kstring(s) return ber.tlv(0x1b, s) end -- GeneralString
local function principal(kind, ...)
  local parts = {}
  for i, part in ipairs({ ... }) do parts[i] = kstring(part) end
  return ber.sequence(ctx(0, ber.integer(kind)), ctx(1, ber.sequence(table.unpack(parts))))
end

-- An AS-REQ from cname@realm for krbtgt/realm, asking for AES and RC4 keys, no pre-auth.
function krb5.as_req(cname, realm, nonce)
  local body = ber.sequence(
    ctx(0, ber.tlv(0x03, "\0\0\0\0\0")), -- kdc-options: none
    ctx(1, principal(1, cname)),
    ctx(2, kstring(realm)),
    ctx(3, principal(2, "krbtgt", realm)),
    ctx(5, ber.tlv(0x18, "20370913024805Z")),
    ctx(7, ber.integer(nonce)),
    ctx(8, ber.sequence(ber.integer(18), ber.integer(17), ber.integer(23))))
  return ber.tlv(0x6a, ber.sequence(ctx(1, ber.integer(5)), ctx(2, ber.integer(10)), ctx(4, body)))
end

local names = {
  [6] = "KDC_ERR_C_PRINCIPAL_UNKNOWN", [7] = "KDC_ERR_S_PRINCIPAL_UNKNOWN",
  [14] = "KDC_ERR_ETYPE_NOSUPP", [24] = "KDC_ERR_PREAUTH_FAILED", [25] = "KDC_ERR_PREAUTH_REQUIRED",
  [37] = "KRB_AP_ERR_SKEW", [60] = "KRB_ERR_GENERIC", [68] = "KDC_ERR_WRONG_REALM",
}

-- The fields of a KRB-ERROR message, or nil for anything else.
-- sent_realm: the realm of our request, which the error only echoes.
function krb5.parse_error(data, sent_realm)
  local tag, body = ber.decode(data)
  if tag ~= 0x7e then return nil end -- [APPLICATION 30]
  local stag, fields = ber.decode(body)
  if stag ~= 0x30 then return nil end
  local out = {}
  for _, field in ipairs(ber.children(fields)) do
    local _, value = ber.decode(field.value)
    if value then out[field.tag - 0xa0] = value end
  end
  if not out[0] or ber.number(out[0]) ~= 5 or not out[1] or ber.number(out[1]) ~= 30 then return nil end
  if not out[6] then return nil end
  local code = ber.number(out[6])
  local result = { name = "kerberos" }
  local notes = { string.format("error %d %s", code, names[code] or "") }
  if out[9] and out[9] ~= sent_realm and out[9]:match("^[%w%.%-_]+$") then notes[#notes + 1] = "realm " .. out[9] end
  if out[4] and out[4]:match("^%d+Z$") then notes[#notes + 1] = "server time " .. out[4] end
  if out[11] then
    notes[#notes + 1] = "e-text " .. out[11]:gsub("[^%g ]", "."):sub(1, 80)
    -- MIT krb5kdc sends its internal status as e-text ("CLIENT_NOT_FOUND", kdc_as_req.c)
    if out[11]:match("^[A-Z_]+%z?$") then result.product = "MIT Kerberos" end
  end
  result.extra = table.concat(notes, "; ")
  return result
end

-- A request for a name no realm holds: its KDC answers C_PRINCIPAL_UNKNOWN or WRONG_REALM.
-- Returns the request and its realm.
function krb5.probe_request(args)
  local realm = (args and args.realm) or "CARTOGRAPH.INVALID"
  return krb5.as_req("cartograph-probe-nobody", realm, math.random(1, 0x7fffffff)), realm
end

return krb5
