-- TFTP (RFC 1350): a read request for a file that is not there; the server answers from a new
-- port (its transfer ID) with an ERROR packet (opcode 5: code, message), or DATA if the file
-- exists after all (then we end the transfer with an ERROR of our own).
local codes = { [0] = "not defined", [1] = "file not found", [2] = "access violation", [3] = "disk full",
                [4] = "illegal operation", [5] = "unknown transfer ID", [6] = "file exists", [7] = "no such user",
                [8] = "option refused" }

return {
  name = "tftp",
  description = "TFTP servers: the answer to a read request for a file that does not exist",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 69 },
  rarity = 5,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    local file = string.format("cartograph-probe-%08x", math.random(0, 0x7FFFFFFF))
    -- The answer comes from another port of the host (follow_port is newer than some engines:
    -- without it, only servers that answer from port 69 are heard).
    if sock.follow_port then sock:follow_port() end
    sock:send(string.pack(">I2", 1) .. file .. "\0octet\0")
    local answer = sock:receive(3000)
    if not answer or #answer < 4 then sock:close() return nil end
    local opcode, value = string.unpack(">I2I2", answer)
    local result = { name = "tftp" }
    if opcode == 5 then
      local message = answer:sub(5, 200):match("^([^%z]*)%z?$")
      if not message or value > 8 then sock:close() return nil end
      message = message:gsub("[^%g ]", "")
      result.extra = string.format("error %d (%s)%s", value, codes[value],
                                   message ~= "" and (": " .. message) or "")
    elseif opcode == 3 and value == 1 and #answer <= 516 then
      sock:send(string.pack(">I2I2", 5, 0) .. "cartograph: transfer not wanted\0")
      result.extra = "read request answered with data"
    else
      sock:close()
      return nil
    end
    sock:close()
    return result
  end,
}
