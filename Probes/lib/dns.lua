-- DNS messages (RFC 1035) for the dns (UDP) and dns-tcp probes: the CHAOS TXT "version.bind"
-- query most servers answer with their version, and the reading of its reply.
local dns = {}

local TXT, CHAOS = 16, 3
local rcodes = { [0] = "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED" }

-- Version strings, as servers answer version.bind: pattern (captures the version), product,
-- CPE prefix.
local products = {
  { "^dnsmasq%-([%w%.]+)", "dnsmasq", "cpe:/a:thekelleys:dnsmasq" },
  { "^unbound ([%w%.]+)", "Unbound", "cpe:/a:nlnetlabs:unbound" },
  { "^NSD ([%w%.]+)", "NSD", "cpe:/a:nlnetlabs:nsd" },
  { "^Knot DNS ([%w%.]+)", "Knot DNS", "cpe:/a:nic:knot_dns" },
  { "^PowerDNS Recursor ([%w%.]+)", "PowerDNS Recursor", "cpe:/a:powerdns:recursor" },
  { "^PowerDNS Authoritative Server ([%w%.]+)", "PowerDNS Authoritative Server",
    "cpe:/a:powerdns:authoritative_server" },
}

-- A query for one name; no recursion asked for (nothing is looked up or cached on our behalf).
local function query(id, name, qtype, qclass)
  local labels = {}
  for label in name:gmatch("[^.]+") do labels[#labels + 1] = string.pack("s1", label) end
  return string.pack(">I2I2I2I2I2I2", id, 0, 1, 0, 0, 0) .. table.concat(labels) .. "\0" ..
         string.pack(">I2I2", qtype, qclass)
end

function dns.version_query(id) return query(id, "version.bind", TXT, CHAOS) end

-- The position after a (possibly compressed) name starting at pos, or nil.
local function skip_name(msg, pos)
  while true do
    local len = msg:byte(pos)
    if not len then return nil end
    if len == 0 then return pos + 1 end
    if len >= 0xc0 then return pos + 2 end
    pos = pos + 1 + len
  end
end

-- The header fields and answer records of a message, or nil when it is too short.
function dns.parse(msg)
  if #msg < 12 then return nil end
  local id, flags, qdcount, ancount = string.unpack(">I2I2I2I2", msg)
  local m = { id = id, response = flags & 0x8000 ~= 0, opcode = (flags >> 11) & 0xf,
              rcode = flags & 0xf, answers = {} }
  local pos = 13
  for _ = 1, qdcount do
    pos = skip_name(msg, pos)
    if not pos then return m end
    pos = pos + 4
  end
  for _ = 1, ancount do
    pos = skip_name(msg, pos)
    if not pos or pos + 10 > #msg + 1 then break end
    local rtype, rclass, _, rdlength, data_pos = string.unpack(">I2I2I4I2", msg, pos)
    m.answers[#m.answers + 1] = { type = rtype, class = rclass,
                                  data = msg:sub(data_pos, data_pos + rdlength - 1) }
    pos = data_pos + rdlength
  end
  return m
end

-- A TXT record's character-strings, joined.
local function txt_text(data)
  local parts, pos = {}, 1
  while pos <= #data do
    local len = data:byte(pos)
    parts[#parts + 1] = data:sub(pos + 1, pos + len)
    pos = pos + 1 + len
  end
  return table.concat(parts)
end

-- The probe result for a reply to version_query(id), or nil when reply is not one.
function dns.identify(reply, id)
  local m = dns.parse(reply)
  if not m or m.id ~= id or not m.response or m.opcode ~= 0 then return nil end
  local result = { name = "dns" }
  local text
  for _, answer in ipairs(m.answers) do
    if answer.type == TXT then text = txt_text(answer.data) break end
  end
  if not text then
    result.extra = "version.bind: " .. (rcodes[m.rcode] or ("rcode " .. m.rcode))
    return result
  end
  text = text:gsub("[^%g ]", "."):sub(1, 100)
  result.extra = "version.bind: " .. text

  -- ISC BIND answers its bare version, with the packager's suffix: "9.18.49-1~deb12u3-Debian".
  local bind = text:match("^([89]%.%d+%.%d+)")
  if bind then
    bind = bind .. (text:match("^[89]%.%d+%.%d+(%-[PS]%d+)") or "")
    result.product, result.version = "ISC BIND", bind
    result.cpe = "cpe:/a:isc:bind:" .. bind
    local distro = text:match("%-(%a+)$")
    if distro == "Debian" or distro == "Ubuntu" then result.os = distro
    elseif distro == "RedHat" then result.os = "Red Hat" end
    return result
  end
  for _, p in ipairs(products) do
    local version = text:match(p[1])
    if version then
      result.product, result.version, result.cpe = p[2], version, p[3] .. ":" .. version
      break
    end
  end
  return result
end

return dns
