-- DHCP servers: a DHCPINFORM (RFC 2131 4.4.3) sent to the server itself, never broadcast;
-- it asks for configuration only, so no address is leased. The DHCPACK names the server
-- (option 54) and what it hands out (router, DNS servers, domain). The client address
-- (ciaddr) is args.ciaddr, else the server's own address, so that the server finds the
-- subnet it serves; servers such as dnsmasq answer an INFORM at its source address.
local udp = require("udp")

local function ip(text)
  local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
end

local function ips(value)
  local out = {}
  for i = 1, #value - 3, 4 do out[#out + 1] = string.format("%d.%d.%d.%d", value:byte(i, i + 3)) end
  return table.concat(out, " ")
end

return {
  name = "dhcp",
  description = "DHCP servers: server id, router, DNS and domain from a DHCPINFORM's answer",
  categories = { "default", "safe", "discovery" },
  protocol = "udp",
  ports = { 67 },
  rarity = 6,

  run = function(host, port, args)
    if host.family ~= "ipv4" then return nil end
    local ciaddr = ip(args.ciaddr or host.address)
    if not ciaddr then return nil end
    local xid = math.random(1, 0x7fffffff)
    local mac = string.char(0x02, math.random(0, 255), math.random(0, 255), math.random(0, 255),
                            math.random(0, 255), math.random(0, 255)) -- locally administered
    local packet = string.pack(">BBBBI4I2I2", 1, 1, 6, 0, xid, 0, 0) .. ciaddr .. string.rep("\0", 12)
      .. mac .. string.rep("\0", 10 + 64 + 128) .. "\99\130\83\99"
      .. "\53\1\8" -- DHCPINFORM
      .. "\55\4\1\3\6\15" -- ask for mask, router, DNS, domain
      .. "\255"
    local reply = udp.exchange(host, port, packet, function(d)
      return #d >= 240 and d:byte(1) == 2 and string.unpack(">I4", d, 5) == xid and d:sub(237, 240) == "\99\130\83\99"
    end, 2500)
    if not reply then return nil end
    local options, pos = {}, 241
    for _ = 1, 64 do
      local code = reply:byte(pos)
      if not code or code == 255 then break end
      if code == 0 then
        pos = pos + 1
      else
        local size = reply:byte(pos + 1) or 0
        options[code] = reply:sub(pos + 2, pos + 1 + size)
        pos = pos + 2 + size
      end
    end
    local kinds = { [5] = "DHCPACK", [6] = "DHCPNAK", [2] = "DHCPOFFER" }
    local kind = options[53] and kinds[options[53]:byte(1)]
    if not kind then return nil end
    local notes = { kind }
    if options[54] then notes[#notes + 1] = "server " .. ips(options[54]) end
    if options[3] then notes[#notes + 1] = "router " .. ips(options[3]) end
    if options[6] then notes[#notes + 1] = "dns " .. ips(options[6]) end
    if options[15] then notes[#notes + 1] = "domain " .. options[15]:gsub("[^%w%.%-]", "") end
    return { name = "dhcp", extra = table.concat(notes, "; ") }
  end,
}
