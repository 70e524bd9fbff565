-- JDWP, the Java Debug Wire Protocol of a JVM started with -agentlib:jdwp (Tomcat's "jpda"):
-- the "JDWP-Handshake" is echoed, then VirtualMachine.Version (command set 1, command 1) names
-- the VM. Read-only; the VM is not suspended. An open JDWP port is remote code execution.
local function jstring(data, pos)
  if pos + 3 > #data then return nil end
  local length = string.unpack(">I4", data, pos)
  if length > 4096 then return nil end
  return data:sub(pos + 4, pos + 3 + length), pos + 4 + length
end

return {
  name = "jdwp",
  description = "Java Debug Wire Protocol (an open JVM debugger): JVM name and version",
  categories = { "default", "safe", "version" },
  ports = { 5005, 8787 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("JDWP-Handshake")
    if sock:receive_bytes(14, 3000) ~= "JDWP-Handshake" then sock:close() return nil end
    local result = { name = "jdwp", product = "Java VM", extra = "debugger port open to the network" }
    sock:send(string.pack(">I4I4BBB", 11, 1, 0, 1, 1))
    local head = sock:receive_bytes(11, 3000)
    if head then
      local length, id, flags, err = string.unpack(">I4I4BI2", head)
      local body = length > 11 and length < 16384 and sock:receive_bytes(length - 11, 3000)
      if id == 1 and flags == 0x80 and err == 0 and body then
        local _, pos = jstring(body, 1)
        local vm_version, vm_name
        if pos and pos + 7 <= #body then
          vm_version, pos = jstring(body, pos + 8)
          vm_name = pos and jstring(body, pos)
        end
        if vm_name then result.product = vm_name:sub(1, 80) end
        if vm_version and vm_version:match("^[%w%.%-_+]+$") then
          result.version = vm_version
          result.cpe = "cpe:/a:oracle:openjdk:" .. vm_version
        end
      end
    end
    sock:close()
    return result
  end,
}
