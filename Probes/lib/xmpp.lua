-- XMPP (RFC 6120): open a stream in the client or server namespace and read the server's stream
-- header, then its features or stream error. Shared by xmpp-client and xmpp-server.
local xmpp = {}

-- Error texts that give the server away (from the servers' own sources).
local products = {
  { "This server does not serve ", "Prosody" },  -- mod_c2s host-unknown
  { "This host does not serve ", "Prosody" },    -- mod_s2s host-unknown
  { "A &apos;to&apos; attribute is required on stream headers", "Prosody" },
}

local function attribute(tag, name)
  return tag:match("[%s]" .. name .. "%s*=%s*'([^']*)'") or tag:match("[%s]" .. name .. '%s*=%s*"([^"]*)"')
end

-- probe(host, port, namespace, service): the result table for `service`, or nil.
function xmpp.probe(host, port, namespace, service)
  if port.banner and not port.banner:match("^<") then return nil end
  local sock = socket.connect(host, port, { tls = port.tls })
  if not sock then return nil end
  local domain = host.name or host.address
  local extra_ns = namespace == "jabber:server" and " xmlns:db='jabber:server:dialback'" or ""
  sock:send("<?xml version='1.0'?><stream:stream to='" .. domain .. "' xmlns='" .. namespace ..
            "' xmlns:stream='http://etherx.jabber.org/streams'" .. extra_ns .. " version='1.0'>")
  local data = ""
  for _ = 1, 8 do
    local more = sock:receive(3000)
    if not more then break end
    data = (data .. more):sub(1, 16384)
    if data:find("</stream:features>", 1, true) or data:find("</stream:error>", 1, true)
       or data:find("</stream:stream>", 1, true) then break end
  end
  sock:close()
  local header = data:match("<stream:stream[^>]*>") or data:match("<stream[^>]*>")
  if not header or not header:find("http://etherx.jabber.org/streams", 1, true) then return nil end
  local result = { name = service }
  local notes = {}
  local ns = attribute(header, "xmlns")
  if ns and ns ~= namespace then notes[#notes + 1] = "namespace " .. ns:sub(1, 40) end
  local from = attribute(header, "from")
  if from and from ~= "" then
    notes[#notes + 1] = "domain " .. from:sub(1, 80):gsub("[^%w%.%-:%[%]]", "")
    if from:match("%a") and from ~= host.address then result.hostnames = { from } end
  end
  local version = attribute(header, "version")
  if version then notes[#notes + 1] = "stream version " .. version:sub(1, 8) end
  local features = data:match("<stream:features>(.-)</stream:features>")
  if features then
    local list = {}
    if features:find("<starttls", 1, true) then
      list[#list + 1] = features:find("<required", 1, true) and "starttls (required)" or "starttls"
    end
    local mechanisms = {}
    for mechanism in features:gmatch("<mechanism>([%w%-_]+)</mechanism>") do
      if #mechanisms < 10 then mechanisms[#mechanisms + 1] = mechanism end
    end
    if #mechanisms > 0 then list[#list + 1] = "SASL " .. table.concat(mechanisms, " ") end
    if features:find("urn:xmpp:features:dialback", 1, true) or features:find("<dialback", 1, true) then
      list[#list + 1] = "dialback"
    end
    local node = features:match("<c [^>]*node=['\"]([^'\"]+)['\"]")
    if node then
      list[#list + 1] = "caps " .. node:sub(1, 60)
      if node:find("prosody.im", 1, true) then result.product = "Prosody" end
      if node:find("ejabberd", 1, true) then result.product = "ejabberd" end
    end
    if #list > 0 then notes[#notes + 1] = "features: " .. table.concat(list, ", ") end
  end
  local condition = data:match("<stream:error><([%w%-]+)")
  if condition then notes[#notes + 1] = "stream error " .. condition end
  local text = data:match("<stream:error>.-<text[^>]*>([^<]*)</text>")
  if text then
    for _, p in ipairs(products) do
      if text:find(p[1], 1, true) then result.product = p[2] break end
    end
  end
  result.extra = table.concat(notes, "; ")
  return result
end

return xmpp
