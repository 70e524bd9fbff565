-- SIP (RFC 3261): an OPTIONS request, which every SIP element answers (11.1) without changing
-- any state, and its response's status line and Server / User-Agent headers.
local text = require("text")
local sip = {}

-- Server / User-Agent values: Lua pattern, product (the capture is the version).
local products = {
  { "^kamailio %(([%d%.]+)", "Kamailio" },
  { "^OpenSIPS %(([%d%.]+)", "OpenSIPS" },
  { "^Asterisk PBX ([%w%.%-~]+)", "Asterisk" },
  { "^Asterisk ([%d%.]+)", "Asterisk" },
  { "^FPBX%-[%d%.]+%(([%d%.]+)%)", "Asterisk" },
  { "^FreeSWITCH%-mod_sofia/([%w%.%-~]+)", "FreeSWITCH" },
  { "^FreeSWITCH", "FreeSWITCH" },
  { "^sipXecs/([%d%.]+)", "sipXecs" },
  { "^Cisco%-SIPGateway/IOS%-([%w%.%(%)]+)", "Cisco SIP Gateway" },
  { "^AVM FRITZ!Box", "AVM FRITZ!Box" },
  { "^Yate/([%d%.]+)", "Yate" },
  { "^3CXPhoneSystem ([%d%.]+)", "3CX Phone System" },
  { "^Sippy", "Sippy" },
  { "^repro ([%d%.]+)", "reSIProcate repro" },
  { "^siproxd/([%d%.]+)", "siproxd" },
}

local function token()
  return string.format("%08x%08x", math.random(0, 0x7FFFFFFF), math.random(0, 0x7FFFFFFF))
end

-- request(host, port, transport): an OPTIONS request. The Via names no address of ours: with
-- "rport" (RFC 3581) the answer goes back to where the request came from.
function sip.request(host, port, transport)
  local target = host.family == "ipv6" and ("[" .. host.address .. "]") or host.address
  local uri = "sip:cartograph@" .. target .. ":" .. port.number
  return table.concat({
    "OPTIONS " .. uri .. " SIP/2.0",
    "Via: SIP/2.0/" .. transport .. " cartograph.invalid;branch=z9hG4bK" .. token() .. ";rport",
    "Max-Forwards: 70",
    "To: <" .. uri .. ">",
    "From: <sip:cartograph@cartograph.invalid>;tag=" .. token(),
    "Call-ID: " .. token() .. "@cartograph.invalid",
    "CSeq: 1 OPTIONS",
    "Contact: <sip:cartograph@cartograph.invalid>",
    "Accept: application/sdp",
    "Content-Length: 0",
    "", "" }, "\r\n")
end

-- parse(response): the result table for a SIP response, or nil.
function sip.parse(response)
  response = (response or ""):sub(1, 8192)
  local code, reason = response:match("^SIP/2%.0 (%d%d%d) ([^\r\n]*)")
  if not code then return nil end
  local result = { name = "sip" }
  local notes = { "status " .. code .. " " .. reason:sub(1, 40):gsub("[^%g ]", "") }
  local agent, allow
  for line in response:gmatch("[^\r\n]+") do
    local key, value = text.header(line, 512)
    if key then
      key = key:lower()
      if (key == "server" or key == "user-agent") and not agent then agent = value end
      if key == "allow" then allow = value end
    end
    if line == "" then break end
  end
  if agent then
    agent = agent:gsub("[^%g ]", "")
    notes[#notes + 1] = "server " .. agent:sub(1, 80)
    for _, p in ipairs(products) do
      local found, _, version = agent:find(p[1])
      if found then result.product, result.version = p[2], version break end
    end
    if not result.product then
      local product, version = agent:match("^([%a][%w%-_ ]-)[/ ]v?(%d[%w%.%-]*)")
      if product then result.product, result.version = product, version end
    end
  end
  if allow then notes[#notes + 1] = "allow " .. allow:sub(1, 120) end
  result.extra = table.concat(notes, "; ")
  return result
end

return sip
