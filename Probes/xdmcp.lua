-- XDMCP (X Display Manager Control Protocol 1.1): a Query with no authentication names is
-- answered Willing (authentication, host name, status) or Unwilling (host name, status).
local function array8(data, offset)
  if offset + 1 > #data then return nil end
  local length = string.unpack(">I2", data, offset)
  if offset + 1 + length > #data then return nil end
  return data:sub(offset + 2, offset + 1 + length), offset + 2 + length
end

return {
  name = "xdmcp",
  description = "X display managers (xdm, gdm, lightdm) over XDMCP: willing or not, host name and status",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 177 },
  rarity = 6,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    -- version 1, opcode 2 (Query), length 1: an empty list of authentication names.
    sock:send(string.pack(">I2I2I2B", 1, 2, 1, 0))
    local answer = sock:receive(3000)
    sock:close()
    if not answer or #answer < 6 then return nil end
    local version, opcode, length = string.unpack(">I2I2I2", answer)
    if version ~= 1 or (opcode ~= 5 and opcode ~= 6) or length ~= #answer - 6 then return nil end
    local offset, authentication = 7, nil
    if opcode == 5 then
      authentication, offset = array8(answer, offset)
      if not authentication then return nil end
    end
    local hostname, status
    hostname, offset = array8(answer, offset)
    if not hostname then return nil end
    status = array8(answer, offset)
    if not status then return nil end
    hostname = hostname:gsub("[^%w%.%-]", "")
    local result = { name = "xdmcp", extra = (opcode == 5 and "willing" or "unwilling") ..
                     "; status " .. status:sub(1, 100):gsub("[^%g ]", "") }
    if authentication and authentication ~= "" then
      result.extra = result.extra .. "; authentication " .. authentication:gsub("[^%g ]", "")
    end
    if hostname ~= "" then result.hostnames = { hostname } end
    return result
  end,
}
