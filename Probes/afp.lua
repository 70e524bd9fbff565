-- AFP over TCP (Apple Filing Protocol, DSI): DSIGetStatus is answered without a session with the
-- FPGetSrvrInfo block: server name, machine type, AFP versions and authentication methods (UAMs).
local function pascal(block, offset)
  if offset < 1 or offset > #block then return nil end
  local length = block:byte(offset)
  return block:sub(offset + 1, offset + length)
end

local function list(block, offset)
  if offset < 1 or offset > #block then return {} end
  local items, at = {}, offset + 1
  for _ = 1, math.min(block:byte(offset), 32) do
    local item = pascal(block, at)
    if not item then break end
    items[#items + 1] = item:gsub("[^%g ]", "")
    at = at + 1 + #item
  end
  return items
end

return {
  name = "afp",
  description = "AFP file servers (macOS, Netatalk): server name, machine type, AFP versions and UAMs",
  categories = { "default", "safe", "version" },
  ports = { 548 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- the client speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    -- DSI header: flags 0 (request), command 3 (DSIGetStatus), request ID, offset, length, reserved.
    sock:send(string.pack(">BBI2I4I4I4", 0, 3, 1, 0, 0, 0))
    local header = sock:receive_bytes(16, 3000)
    if not header then sock:close() return nil end
    local flags, command, id, code, length = string.unpack(">BBI2I4I4", header)
    if flags ~= 1 or command ~= 3 or id ~= 1 or length < 12 or length > 65536 then sock:close() return nil end
    local block = sock:receive_bytes(length, 3000)
    sock:close()
    if not block or code ~= 0 then return nil end
    local machine_at, versions_at, uams_at, _, server_flags = string.unpack(">I2I2I2I2I2", block)
    local name = pascal(block, 11)
    local machine = pascal(block, machine_at + 1)
    local versions = list(block, versions_at + 1)
    if not name or not machine or #versions == 0 or not versions[1]:match("^AFP") and not versions[1]:match("AppleShare") then
      return nil
    end
    local result = { name = "afp" }
    machine = machine:gsub("[^%g ]", "")
    local netatalk = machine:match("^Netatalk ?([%d%.]*)")
    if netatalk then
      result.product = "Netatalk"
      if netatalk ~= "" then result.version = netatalk end
      result.cpe = "cpe:/a:netatalk:netatalk" .. (result.version and (":" .. result.version) or "")
    else
      result.product = "Apple AFP"
      result.os = "macOS"
      result.device_type = machine:find("TimeCapsule", 1, true) and "storage" or nil
    end
    local notes = { "server " .. name:gsub("[^%g ]", ""), "machine " .. machine, "versions " .. table.concat(versions, " ") }
    local uams = list(block, uams_at + 1)
    if #uams > 0 then notes[#notes + 1] = "UAMs " .. table.concat(uams, ", ") end
    if server_flags & 0x8000 ~= 0 then notes[#notes + 1] = "Super Client" end
    result.extra = table.concat(notes, "; "):sub(1, 300)
    result.hostnames = { (name:gsub("[^%w%.%-]", "")) }
    return result
  end,
}
