-- mDNS responders (RFC 6762): a unicast query from an ordinary port ("legacy unicast", 6.7)
-- for the DNS-SD service list (_services._dns-sd._udp.local, RFC 6763 9); the answer's PTR
-- records name the services the host announces. Responders such as Avahi answer only
-- queries from their own link.
local udp = require("udp")

local function read_name(msg, pos)
  local labels, jumped, after = {}, false, nil
  for _ = 1, 32 do
    local len = msg:byte(pos)
    if not len then return nil end
    if len == 0 then
      return table.concat(labels, "."), after or pos + 1
    elseif len >= 0xc0 then
      local target = ((len & 0x3f) << 8) | (msg:byte(pos + 1) or 0)
      if not jumped then after, jumped = pos + 2, true end
      pos = target + 1
    else
      labels[#labels + 1] = msg:sub(pos + 1, pos + len)
      pos = pos + 1 + len
    end
  end
  return nil
end

local function encode(name)
  local out = {}
  for label in name:gmatch("[^.]+") do out[#out + 1] = string.char(#label) .. label end
  return table.concat(out) .. "\0"
end

return {
  name = "mdns",
  description = "mDNS responders (Avahi, Bonjour): the DNS-SD services they announce",
  categories = { "default", "safe", "discovery" },
  protocol = "udp",
  ports = { 5353 },
  rarity = 6,

  run = function(host, port)
    local id = math.random(1, 0xffff)
    local question = encode("_services._dns-sd._udp.local") .. string.pack(">I2I2", 12, 1)
    local query = string.pack(">I2I2I2I2I2I2", id, 0, 1, 0, 0, 0) .. question
    -- A response (QR set) that repeats our question: responders echo the id too, but the
    -- question is the stronger check
    local reply = udp.exchange(host, port, query, function(data)
      return #data >= 12 and data:byte(3) & 0x80 ~= 0 and data:sub(13, 12 + #question) == question
    end)
    if not reply then return nil end
    local _, _, questions, answers = string.unpack(">I2I2I2I2", reply)
    local pos = 13
    for _ = 1, math.min(questions, 4) do
      local _, after = read_name(reply, pos)
      if not after then return nil end
      pos = after + 4
    end
    local services = {}
    for _ = 1, math.min(answers, 32) do
      local _, after = read_name(reply, pos)
      if not after or after + 9 > #reply then break end
      local kind, _, _, size = string.unpack(">I2I2I4I2", reply, after)
      if kind == 12 then
        local target = read_name(reply, after + 10)
        if target then services[#services + 1] = (target:gsub("%.local$", ""):gsub("[^%w%._%-]", "")) end
      end
      pos = after + 10 + size
    end
    local result = { name = "mdns" }
    if #services > 0 then result.extra = "services: " .. table.concat(services, ", "):sub(1, 200) end
    return result
  end,
}
