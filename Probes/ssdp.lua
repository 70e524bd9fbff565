-- SSDP (UPnP Device Architecture 1.1, 1.3.2): an M-SEARCH sent to the host itself, not to the
-- multicast group; a device answers "HTTP/1.1 200 OK" with SERVER ("OS/version UPnP/1.x
-- product/version"), ST, USN and the LOCATION of its description.
local text = require("text")
local udp = require("udp")

return {
  name = "ssdp",
  description = "UPnP devices (SSDP): product, OS and description URL from the M-SEARCH answer",
  categories = { "default", "safe", "discovery" },
  protocol = "udp",
  ports = { 1900 },
  rarity = 6,

  run = function(host, port)
    local target = host.family == "ipv6" and "[FF02::C]:1900" or "239.255.255.250:1900"
    local search = "M-SEARCH * HTTP/1.1\r\nHOST: " .. target .. "\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n"
      .. "ST: upnp:rootdevice\r\nUSER-AGENT: cartograph UPnP/1.1 cartograph/1\r\n\r\n"
    local data = udp.exchange(host, port, search, function(d) return d:match("^HTTP/1%.%d 200") ~= nil end, 2500)
    if not data then return nil end
    local headers = {}
    for line in data:sub(1, 4096):gmatch("[^\r\n]+") do
      local key, value = text.header(line)
      if key then headers[key:lower()] = value end
    end
    if not (headers.st or headers.usn) then return nil end
    local result = { name = "ssdp" }
    local notes = {}
    local server = headers.server
    if server then
      local os, rest = server:match("^(%S+)%s+(.*)$")
      local last = (rest or server):match("(%S+)$") or ""
      local product, version = last:match("^([^/]+)/(%S+)$")
      if product and not product:match("^UPnP") then
        result.product, result.version = product, version
        if product == "MiniDLNA" then result.cpe = "cpe:/a:readymedia_project:readymedia:" .. version end
        if product == "miniupnpd" then result.cpe = "cpe:/a:miniupnp_project:miniupnpd:" .. version end
      end
      if os then result.os = os:match("^[^/]+") end
      notes[#notes + 1] = "server " .. server:sub(1, 100)
    end
    if headers.location then notes[#notes + 1] = "location " .. headers.location:sub(1, 100) end
    result.extra = table.concat(notes, "; ")
    return result
  end,
}
