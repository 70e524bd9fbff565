-- LDAP: an anonymous simple bind, then a read of the root DSE (supported versions, naming
-- contexts, vendor); OpenLDAP is told by its OpenLDAProotDSE class, and its version read from
-- cn=Monitor when that is readable.
local ber = require("ber")
local cert = require("cert")

-- LDAPMessage: SEQUENCE { messageID, protocolOp }
local function message(id, op) return ber.sequence(ber.integer(id), op) end

-- SearchRequest [APPLICATION 3], scope base, filter (objectClass=*).
local function search_base(id, base, attributes)
  local list = {}
  for i, a in ipairs(attributes) do list[i] = ber.octets(a) end
  return message(id, ber.tlv(0x63, ber.octets(base) .. ber.enumerated(0) .. ber.enumerated(0) ..
    ber.integer(0) .. ber.integer(5) .. ber.boolean(false) .. ber.octets("objectClass", 0x87) ..
    ber.sequence(table.unpack(list))))
end

-- Reads the answers to a search; the attributes of its entry as name (lower case) -> values.
local function read_entry(sock, id)
  local attributes = {}
  for _ = 1, 8 do
    local tag, content = ber.receive(sock, 3000)
    if tag ~= 0x30 then return nil end
    local parts = ber.children(content)
    if #parts < 2 or ber.number(parts[1].value) ~= id then return nil end
    local op = parts[2]
    if op.tag == 0x65 then return attributes end -- SearchResultDone
    if op.tag == 0x64 then -- SearchResultEntry: objectName, SEQUENCE OF { type, SET OF value }
      local entry = ber.children(op.value)
      for _, attribute in ipairs(entry[2] and ber.children(entry[2].value) or {}) do
        local fields = ber.children(attribute.value)
        if fields[1] and fields[2] then
          local values = {}
          for _, v in ipairs(ber.children(fields[2].value)) do values[#values + 1] = v.value end
          attributes[fields[1].value:lower()] = values
        end
      end
    end
  end
  return attributes
end

local function has(values, wanted)
  for _, v in ipairs(values or {}) do if v:lower() == wanted:lower() then return true end end
  return false
end

return {
  name = "ldap",
  description = "LDAP servers: anonymous bind result, root DSE (versions, naming contexts, vendor)",
  categories = { "default", "safe", "version" },
  ports = { 389, 636, 3268, 3269 },
  rarity = 4,
  tls = true, -- LDAPS: 636, 3269

  run = function(host, port)
    if port.banner then return nil end -- an LDAP server never speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end

    -- BindRequest [APPLICATION 0]: version 3, empty name, simple [0] empty password
    sock:send(message(1, ber.tlv(0x60, ber.integer(3) .. ber.octets("") .. ber.octets("", 0x80))))
    local tag, content = ber.receive(sock, 3000, 4096)
    local parts = tag == 0x30 and ber.children(content) or {}
    if #parts < 2 or parts[1].tag ~= 0x02 or parts[2].tag ~= 0x61 then sock:close() return nil end
    local bind = ber.children(parts[2].value) -- BindResponse: resultCode, matchedDN, message
    if not bind[1] or bind[1].tag ~= 0x0a then sock:close() return nil end
    local code = ber.number(bind[1].value)
    local result = { name = "ldap", extra = code == 0 and "anonymous bind ok" or "anonymous bind refused (" .. code .. ")" }
    if port.tls then result.hostnames = cert.dns_names(sock:certificate()) end

    sock:send(search_base(2, "", { "objectClass", "structuralObjectClass", "supportedLDAPVersion",
      "namingContexts", "vendorName", "vendorVersion", "dnsHostName", "forestFunctionality" }))
    local dse = read_entry(sock, 2) or {}
    local versions = dse.supportedldapversion
    if versions then
      table.sort(versions)
      result.extra = "LDAPv" .. versions[#versions] .. "; " .. result.extra
    end
    if dse.namingcontexts then
      result.extra = result.extra .. "; naming contexts: " .. table.concat(dse.namingcontexts, ", ")
    end
    local vendor = dse.vendorname and dse.vendorname[1]
    local vendor_version = dse.vendorversion and dse.vendorversion[1]

    if has(dse.objectclass, "OpenLDAProotDSE") or has(dse.structuralobjectclass, "OpenLDAProotDSE")
        or (vendor and vendor:match("OpenLDAP")) then
      result.product, result.cpe = "OpenLDAP", "cpe:/a:openldap:openldap"
      -- "OpenLDAP: slapd 2.5.13+dfsg-5 (Feb  8 2023 01:56:12) ..." when cn=Monitor is readable
      sock:send(search_base(3, "cn=Monitor", { "monitoredInfo" }))
      local monitor = read_entry(sock, 3)
      local info = monitor and monitor.monitoredinfo and monitor.monitoredinfo[1] or ""
      local version = info:match("slapd (%d+%.%d+[%.%d]*)")
      if version then
        result.version, result.cpe = version, "cpe:/a:openldap:openldap:" .. version
        if info:match("Debian") then result.os = "Debian" end
      end
    elseif dse.forestfunctionality then
      result.product = "Microsoft Active Directory"
    elseif vendor then
      result.product = vendor
      result.version = vendor_version and vendor_version:match("(%d+%.%d+[%.%d]*)")
    end
    if dse.dnshostname then
      result.hostnames = result.hostnames or {}
      table.insert(result.hostnames, dse.dnshostname[1])
    end

    sock:send(message(4, "\x42\0")) -- UnbindRequest [APPLICATION 2]
    sock:close()
    return result
  end,
}
