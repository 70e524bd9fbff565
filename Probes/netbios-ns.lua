-- NetBIOS name service (RFC 1002 4.2.17-18): a node status (NBSTAT) request for "*" lists the
-- names the node holds (computer, workgroup, services) and its unit ID (MAC address).
local suffixes = { [0x00] = "workstation", [0x03] = "messenger", [0x1B] = "domain master browser",
                   [0x1C] = "domain controllers", [0x1D] = "master browser", [0x1E] = "browser elections",
                   [0x20] = "file server" }

-- "*" padded with NULs to 16 bytes, in first-level encoding (RFC 1001 14.1).
local function wildcard()
  local name = "*" .. string.rep("\0", 15)
  return "\32" .. name:gsub(".", function(c)
    return string.char(0x41 + (c:byte() >> 4), 0x41 + (c:byte() & 0x0F))
  end) .. "\0"
end

return {
  name = "netbios-ns",
  description = "NetBIOS name service: computer name, workgroup, services and MAC from a node status request",
  categories = { "default", "safe", "version", "discovery" },
  protocol = "udp",
  ports = { 137 },
  rarity = 4,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local id = math.random(1, 0xFFFF)
    sock:send(string.pack(">I2I2I2I2I2I2", id, 0, 1, 0, 0, 0) .. wildcard() .. string.pack(">I2I2", 0x21, 1))
    local answer = sock:receive(3000)
    sock:close()
    if not answer or #answer < 57 then return nil end
    local rid, flags, _, answers = string.unpack(">I2I2I2I2", answer)
    -- A response (bit 15) to our query, opcode 0, with one answer of type NBSTAT.
    if rid ~= id or flags & 0x8000 == 0 or (flags >> 11) & 0xF ~= 0 or answers < 1 then return nil end
    if answer:byte(13) ~= 32 then return nil end
    local kind = string.unpack(">I2", answer, 47)
    if kind ~= 0x21 then return nil end
    local count = answer:byte(57)
    local offset = 58
    local names, workgroup, computer = {}, nil, nil
    for _ = 1, math.min(count, 64) do
      if offset + 17 > #answer then break end
      local raw = answer:sub(offset, offset + 14):gsub("[%s%z]+$", "")
      local suffix = answer:byte(offset + 15)
      local nameflags = string.unpack(">I2", answer, offset + 16)
      local group = nameflags & 0x8000 ~= 0
      local browse = raw == "\1\2__MSBROWSE__\2"
      local clean = browse and "__MSBROWSE__" or raw:gsub("[^%g ]", "?")
      if suffix == 0x00 and not group and not computer then computer = clean end
      if suffix == 0x00 and group and not workgroup then workgroup = clean end
      local what = browse and "browse master" or (suffixes[suffix] or "")
      names[#names + 1] = string.format("%s<%02x>%s %s", clean, suffix, group and " group" or "", what)
      offset = offset + 18
    end
    if #names == 0 then return nil end
    local result = { name = "netbios-ns" }
    local notes = {}
    if computer then notes[#notes + 1] = "name " .. computer; result.hostnames = { computer } end
    if workgroup then notes[#notes + 1] = "workgroup " .. workgroup end
    if offset + 5 <= #answer then
      local mac = answer:sub(offset, offset + 5)
      if mac == string.rep("\0", 6) then
        -- Samba's nmbd sends a unit ID of zeros (Windows sends the adapter's MAC).
        result.product = "Samba nmbd"
        result.cpe = "cpe:/a:samba:samba"
      else
        notes[#notes + 1] = "MAC " .. mac:gsub(".", function(c) return string.format("%02x:", c:byte()) end):sub(1, 17)
      end
    end
    notes[#notes + 1] = "names: " .. table.concat(names, ", "):sub(1, 300)
    result.extra = table.concat(notes, "; ")
    return result
  end,
}
