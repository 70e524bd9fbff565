-- Oracle TNS listeners: a TNS CONNECT packet asking the listener for (COMMAND=version). Old
-- listeners answer with their banner ("TNSLSNR for Linux: Version 11.2.0.4.0"); newer ones
-- refuse a remote command, but the REFUSE's (DESCRIPTION=...) still holds VSNNUM, the
-- listener's version as a number, and the error (ERR=1189: remote administration refused).
local function vsn(number)
  return string.format("%d.%d.%d.%d.%d", number >> 24, (number >> 20) & 0xf, (number >> 12) & 0xff,
                       (number >> 8) & 0xf, number & 0xff)
end

local reads = require("reads")
local PORTS = { 1521, 1526 }

return {
  name = "oracle-tns",
  description = "Oracle TNS listeners: version from the listener's answer to a version command",
  categories = { "default", "safe", "version" },
  ports = PORTS,
  rarity = 7,

  run = function(host, port)
    if port.banner then return nil end -- a TNS listener never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local data = "(CONNECT_DATA=(COMMAND=version))"
    -- version 314, compatible 300, options, SDU, TDU, NT characteristics, turnaround, one,
    -- data length and offset (58), max receivable, flags; zeros up to the data's offset
    local body = string.pack(">I2I2I2I2I2I2I2I2I2I2I4BB", 314, 300, 0, 8192, 32767, 0x7f08, 0, 1, #data, 58, 0, 0x41, 0x41)
      .. string.rep("\0", 24) .. data
    sock:send(string.pack(">I2I2BBI2", 8 + #body, 0, 1, 0, 0) .. body)
    local text = ""
    for _ = 1, 4 do -- REFUSE (4), or ACCEPT (2) then DATA (6) packets
      local head = sock:receive_bytes(8, reads.wait(port, PORTS))
      if not head then break end
      local length, _, kind = string.unpack(">I2I2B", head)
      if length < 8 or length > 8192 or not ({ [2] = 1, [4] = 1, [5] = 1, [6] = 1, [11] = 1 })[kind] then
        sock:close()
        return nil
      end
      local packet = length > 8 and sock:receive_bytes(length - 8, 2000) or ""
      if not packet then break end
      text = text .. packet
      if kind == 4 or (kind == 6 and text:find("VSNNUM", 1, true)) or #text > 8192 then break end
    end
    sock:close()
    text = text:sub(1, 8192)
    local description = text:find("(DESCRIPTION=", 1, true)
    local banner = text:match("TNSLSNR for ([^:]+): Version ([%d%.]+)")
    if not description and not banner then return nil end
    local result = { name = "oracle-tns", product = "Oracle TNS Listener" }
    local notes = {}
    local os, version = text:match("TNSLSNR for ([^:\n]+): Version ([%d%.]+)")
    if version then
      result.version = version
      notes[#notes + 1] = "TNSLSNR for " .. os:sub(1, 40)
    else
      local number = tonumber(text:match("%(VSNNUM=(%d+)%)") or "")
      if number then result.version = vsn(number) end
    end
    local err = text:match("%(ERR=(%d+)%)")
    if err then notes[#notes + 1] = "error " .. err .. (err == "1189" and " (remote command refused)" or "") end
    if result.version then result.cpe = "cpe:/a:oracle:database_server:" .. result.version end
    if #notes > 0 then result.extra = table.concat(notes, "; ") end
    return result
  end,
}
