-- STUN (RFC 5389/8489): a Binding request and the reading of its success response, shared by
-- the UDP and TCP probes (over TCP the messages are the same, unframed).
local stun = {}

local MAGIC = 0x2112A442

-- A Binding request with a random 96-bit transaction id; returns it and the id.
function stun.request()
  local id = string.pack(">I4I4I4", math.random(0, 0xffffffff), math.random(0, 0xffffffff),
                         math.random(0, 0xffffffff))
  return string.pack(">I2I2I4", 0x0001, 0, MAGIC) .. id, id
end

-- Products by how their SOFTWARE attribute starts.
local products = {
  { "^Coturn%-([%d%.]+)", "coturn", "cpe:/a:coturn_project:coturn:" },
  { "^Citrix%-([%d%.]+)", "Citrix TURN" },
  { "^pion/stun", "Pion STUN" },
  { "^Asterisk PBX ([%d%.]+)", "Asterisk" },
}

-- The result for a Binding response (success or error) to transaction `id`, or nil.
function stun.parse(data, id, name)
  if not data or #data < 20 then return nil end
  local kind, length, magic = string.unpack(">I2I2I4", data)
  if magic ~= MAGIC or data:sub(9, 20) ~= id or (kind ~= 0x0101 and kind ~= 0x0111) then return nil end
  if length > #data - 20 then return nil end
  local result = { name = name or "stun" }
  local notes = { kind == 0x0101 and "Binding success" or "Binding error" }
  local pos, stop = 21, 20 + length
  for _ = 1, 32 do
    if pos + 3 > stop then break end
    local attr, size = string.unpack(">I2I2", data, pos)
    local value = data:sub(pos + 4, pos + 3 + size)
    if attr == 0x8022 then -- SOFTWARE
      local software = value:gsub("[^%g ]", ""):sub(1, 120)
      notes[#notes + 1] = "software " .. software
      for _, p in ipairs(products) do
        local version = software:match(p[1])
        if version or software:find(p[1]) then
          result.product = p[2]
          if type(version) == "string" then
            result.version = version
            if p[3] then result.cpe = p[3] .. version end
          end
          break
        end
      end
      if not result.product then result.product = software:match("^[%w%.%-_ ]+"):sub(1, 60) end
    elseif attr == 0x0009 and #value >= 4 then -- ERROR-CODE
      notes[#notes + 1] = string.format("error %d", (value:byte(3) & 7) * 100 + value:byte(4))
    end
    pos = pos + 4 + ((size + 3) // 4) * 4
  end
  result.extra = table.concat(notes, "; ")
  return result
end

return stun
