-- SNMP: a GET of sysDescr, sysObjectID and sysName (RFC 3418) as SNMPv2c, then SNMPv1, with
-- community args.community or "public"; without an answer, SNMPv3 engine discovery (the
-- engine id's enterprise names the agent). sysObjectID's enterprise number names the agent
-- (Net-SNMP also tells its version), sysDescr the OS; sysDescr itself goes into extra.
local ber = require("ber")

local SYS_DESCR, SYS_OBJECT_ID, SYS_NAME = "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0"
local NET_SNMP_VERSION = "1.3.6.1.4.1.2021.100.2.0" -- UCD-SNMP-MIB::versionTag

-- Agents by the enterprise number under 1.3.6.1.4.1 their sysObjectID starts with.
local agents = {
  [8072] = { "Net-SNMP", "cpe:/a:net-snmp:net-snmp" },
  [2021] = { "Net-SNMP", "cpe:/a:net-snmp:net-snmp" }, -- UCD-SNMP, its older name
  [311] = { "Microsoft Windows SNMP service", nil, "Windows" },
}

-- OS names by how sysDescr starts.
local systems = { "Linux", "FreeBSD", "OpenBSD", "NetBSD", "Darwin", "SunOS" }

local function encode_oid(text)
  local n = {}
  for part in text:gmatch("%d+") do n[#n + 1] = tonumber(part) end
  local out = { string.char(40 * n[1] + n[2]) }
  for i = 3, #n do
    local value, bytes = n[i], string.char(n[i] & 0x7f)
    value = value >> 7
    while value > 0 do
      bytes = string.char(0x80 | (value & 0x7f)) .. bytes
      value = value >> 7
    end
    out[#out + 1] = bytes
  end
  return ber.tlv(0x06, table.concat(out))
end

local function decode_oid(content)
  local first = content:byte(1) or 0
  local parts, value = { first // 40, first % 40 }, 0
  for i = 2, #content do
    local b = content:byte(i)
    value = (value << 7) | (b & 0x7f)
    if b < 0x80 then
      parts[#parts + 1] = value
      value = 0
    end
  end
  return table.concat(parts, ".")
end

-- A GetRequest message: version 0 is SNMPv1, 1 is SNMPv2c.
local function get_request(version, community, id, oids)
  local varbinds = {}
  for i, oid in ipairs(oids) do varbinds[i] = ber.sequence(encode_oid(oid), ber.tlv(0x05, "")) end
  local pdu = ber.tlv(0xa0, ber.integer(id) .. ber.integer(0) .. ber.integer(0) ..
                            ber.sequence(table.unpack(varbinds)))
  return ber.sequence(ber.integer(version), ber.octets(community), pdu)
end

-- A GetResponse to request id: {error = status, values = {[oid] = {tag, value}}}, or nil.
local function parse_response(data, id)
  local tag, body = ber.decode(data)
  if tag ~= 0x30 then return nil end
  local message = ber.children(body)
  if #message < 3 or message[1].tag ~= 0x02 or message[3].tag ~= 0xa2 then return nil end
  local pdu = ber.children(message[3].value)
  if #pdu < 4 or ber.number(pdu[1].value) ~= id then return nil end
  local response = { error = ber.number(pdu[2].value), values = {} }
  for _, varbind in ipairs(ber.children(pdu[4].value)) do
    local pair = ber.children(varbind.value)
    if #pair == 2 and pair[1].tag == 0x06 then response.values[decode_oid(pair[1].value)] = pair[2] end
  end
  return response
end

-- SNMPv3 engine discovery (RFC 3414 4): a reportable GET with no user and an empty engine
-- id, answered by a Report whose security parameters hold the agent's engine id, boots and
-- time. Needs no community, so a v3-only agent is found too.
local function discovery_request(id)
  local usm = ber.sequence(ber.octets(""), ber.integer(0), ber.integer(0), ber.octets(""), ber.octets(""),
                           ber.octets(""))
  local pdu = ber.tlv(0xa0, ber.integer(id) .. ber.integer(0) .. ber.integer(0) .. ber.sequence())
  return ber.sequence(ber.integer(3),
    ber.sequence(ber.integer(id), ber.integer(65507), ber.octets("\4"), ber.integer(3)),
    ber.octets(usm), ber.sequence(ber.octets(""), ber.octets(""), pdu))
end

-- The engine id, boots and time of a v3 answer to message id, or nil.
local function parse_discovery(data, id)
  local tag, body = ber.decode(data)
  if tag ~= 0x30 then return nil end
  local message = ber.children(body)
  if #message < 4 or message[1].tag ~= 0x02 or ber.number(message[1].value) ~= 3 then return nil end
  local header = ber.children(message[2].value)
  if #header < 1 or ber.number(header[1].value) ~= id or message[3].tag ~= 0x04 then return nil end
  local _, usm_body = ber.decode(message[3].value)
  local usm = usm_body and ber.children(usm_body) or {}
  if #usm < 3 or usm[1].tag ~= 0x04 or #usm[1].value < 5 then return nil end
  return usm[1].value, ber.number(usm[2].value), ber.number(usm[3].value)
end

local function v3_result(engine, boots, time)
  local result = { name = "snmp" }
  local first = string.unpack(">I4", engine)
  local hex = engine:gsub(".", function(c) return string.format("%02x", c:byte()) end)
  local extra = { "SNMPv3", "engine " .. hex:sub(1, 64), string.format("boots %d, up %d s", boots, time) }
  if first & 0x80000000 ~= 0 then
    local agent = agents[first & 0x7fffffff]
    if agent then
      result.product, result.cpe, result.os = agent[1], agent[2], agent[3]
    else
      extra[#extra + 1] = "enterprise " .. (first & 0x7fffffff)
    end
  end
  result.extra = table.concat(extra, "; ")
  return result
end

-- Sends one GET and waits for its answer: the response, or nil and the socket's reason.
local function get(sock, version, community, oids)
  local id = math.random(1, 0x7fffffff)
  sock:send(get_request(version, community, id, oids))
  for _ = 1, 4 do -- a late answer to an earlier request may come first
    local data, reason = sock:receive(2000)
    if not data then return nil, reason end
    local response = parse_response(data, id)
    if response then return response end
  end
  return nil, "no answer"
end

local function text_of(value)
  if value and value.tag == 0x04 then return (value.value:gsub("[^%g ]", " ")) end
end

return {
  name = "snmp",
  description = "SNMP agents: agent, OS and sysDescr with a read community (v1/v2c); engine id (v3)",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 161 },
  rarity = 1,

  run = function(host, port, args)
    local community = args.community or "public"
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local version
    local response, reason = get(sock, 1, community, { SYS_DESCR, SYS_OBJECT_ID, SYS_NAME })
    if response then
      version = 1
    elseif reason == "timeout" then -- "refused": the port is closed
      -- No SNMPv2c answer: SNMPv1 with the community and SNMPv3 engine discovery (no
      -- community needed) at once; a v1 answer wins, else a v3 agent's report.
      local v1_id, v3_id = math.random(1, 0x7fffffff), math.random(1, 0x7fffffff)
      sock:send(get_request(0, community, v1_id, { SYS_DESCR, SYS_OBJECT_ID, SYS_NAME }))
      sock:send(discovery_request(v3_id))
      local engine, boots, time
      for _ = 1, 6 do
        local data = sock:receive(engine and 300 or 2000)
        if not data then break end
        response = parse_response(data, v1_id)
        if response then version = 0 break end
        if not engine then engine, boots, time = parse_discovery(data, v3_id) end
      end
      if not response and engine then
        sock:close()
        return v3_result(engine, boots, time)
      end
    end
    if not response then
      sock:close()
      return nil
    end

    local result = { name = "snmp" }
    local extra = { (version == 1 and "SNMPv2c" or "SNMPv1") .. ", community " .. community }
    if response.error ~= 0 then extra[#extra + 1] = "error-status " .. response.error end

    local object_id = response.values[SYS_OBJECT_ID]
    if object_id and object_id.tag == 0x06 then
      local oid = decode_oid(object_id.value)
      local agent = agents[tonumber(oid:match("^1%.3%.6%.1%.4%.1%.(%d+)"))]
      if agent then
        result.product, result.cpe, result.os = agent[1], agent[2], agent[3]
      else
        extra[#extra + 1] = "sysObjectID " .. oid
      end
    end
    if result.product == "Net-SNMP" then
      local more = get(sock, version, community, { NET_SNMP_VERSION })
      local tag = more and text_of(more.values[NET_SNMP_VERSION])
      if tag and tag:match("^[%d%.]+$") then
        result.version, result.cpe = tag, result.cpe .. ":" .. tag
      end
    end
    sock:close()

    local name = text_of(response.values[SYS_NAME])
    if name and name ~= "" then result.hostnames = { name } end
    local descr = text_of(response.values[SYS_DESCR])
    if descr then
      for _, system in ipairs(systems) do
        if descr:match("^" .. system) then result.os = system break end
      end
      if descr:match("Software: Windows") then result.os = "Windows" end
      if descr:match("^Cisco IOS") then result.os, result.device_type = "IOS", "router" end
      extra[#extra + 1] = "sysDescr: " .. descr:sub(1, 150)
    end
    result.extra = table.concat(extra, "; ")
    return result
  end,
}
