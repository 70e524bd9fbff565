-- SMB: an SMB2 NEGOTIATE offering dialects 2.0.2 to 3.1.1 (MS-SMB2 2.2.3) in a NetBIOS session
-- message; the response gives the chosen dialect, the server GUID and the server's clock.
-- On 139 a NetBIOS session request for "*SMBSERVER" comes first.

local dialects = { [0x0202] = "2.0.2", [0x0210] = "2.1", [0x0300] = "3.0", [0x0302] = "3.0.2",
                   [0x0311] = "3.1.1", [0x02FF] = "2.x (multi-protocol)" }

local function negotiate_request()
  local header = "\xFESMB" .. string.pack("<I2I2I4I2I2I4I4I8I4I4I8", 64, 0, 0, 0, 31, 0, 0, 0, 0, 0, 0)
                 .. string.rep("\0", 16)
  local offered = string.pack("<I2I2I2I2I2", 0x0202, 0x0210, 0x0300, 0x0302, 0x0311)
  -- 3.1.1 needs a pre-authentication integrity context (SHA-512, 32 bytes of salt); an
  -- encryption context offers AES-128-GCM and AES-128-CCM. Contexts start 8-byte aligned.
  local salt = string.pack("<I8I8I8I8", 0x2c3a1f0e5d6b7a89, 0x1b2c3d4e5f607182, 0x0f1e2d3c4b5a6978, 0x7a6b5c4d3e2f1001)
  local preauth = string.pack("<I2I2I4I2I2I2", 1, 38, 0, 1, 32, 1) .. salt
  local cipher = string.pack("<I2I2I4I2I2I2", 2, 6, 0, 2, 2, 1)
  local context_offset = 64 + 36 + #offered
  local pad1 = string.rep("\0", (8 - context_offset % 8) % 8)
  context_offset = context_offset + #pad1
  local pad2 = string.rep("\0", (8 - #preauth % 8) % 8)
  local client_guid = "cartograph-smb2\0"
  local body = string.pack("<I2I2I2I2I4", 36, 5, 1, 0, 0x7F) .. client_guid ..
               string.pack("<I4I2I2", context_offset, 2, 0) .. offered .. pad1 .. preauth .. pad2 .. cipher
  local message = header .. body
  return string.pack(">I4", #message) .. message -- session message: type 0, 24-bit length
end

-- The 16 name bytes, padded with spaces, in NetBIOS first-level encoding (RFC 1001 14.1).
local function netbios_name(name)
  name = (name .. string.rep(" ", 16)):sub(1, 16)
  return "\32" .. name:gsub(".", function(c)
    return string.char(0x41 + (c:byte() >> 4), 0x41 + (c:byte() & 0x0F))
  end) .. "\0"
end

local function guid(bytes)
  local a, b, c = string.unpack("<I4I2I2", bytes)
  return string.format("%08x-%04x-%04x-%s-%s", a, b, c,
    (bytes:sub(9, 10):gsub(".", function(x) return string.format("%02x", x:byte()) end)),
    (bytes:sub(11, 16):gsub(".", function(x) return string.format("%02x", x:byte()) end)))
end

-- A FILETIME (100 ns ticks since 1601) as "YYYY-MM-DD HH:MM:SS UTC".
local function filetime(ticks)
  if ticks <= 0 then return nil end
  local seconds = ticks // 10000000 - 11644473600
  local days, rest = seconds // 86400, seconds % 86400
  -- Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  local z = days + 719468
  local era = z // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local day = doy - (153 * mp + 2) // 5 + 1
  local month = mp < 10 and mp + 3 or mp - 9
  local year = yoe + era * 400 + (month <= 2 and 1 or 0)
  return string.format("%04d-%02d-%02d %02d:%02d:%02d UTC", year, month, day,
                       rest // 3600, rest % 3600 // 60, rest % 60)
end

return {
  name = "smb",
  description = "SMB servers (Windows, Samba): SMB2 dialect, server GUID and clock from NEGOTIATE",
  categories = { "default", "safe", "version" },
  ports = { 445, 139 },
  rarity = 3,

  run = function(host, port)
    if port.banner then return nil end -- an SMB server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    if port.number == 139 then
      sock:send(string.pack(">BBI2", 0x81, 0, 68) .. netbios_name("*SMBSERVER") .. netbios_name("CARTOGRAPH"))
      local answer = sock:receive_bytes(4, 3000)
      local kind = answer and answer:byte(1)
      if kind == 0x83 then -- a NetBIOS session service that refused the name: likely SMB
        sock:close()
        return { name = "smb", extra = "NetBIOS session refused", certain = false }
      end
      if kind ~= 0x82 then sock:close() return nil end
    end
    sock:send(negotiate_request())
    local frame = sock:receive_bytes(4, 3000)
    if not frame or frame:byte(1) ~= 0 then sock:close() return nil end
    local length = string.unpack(">I4", frame) & 0xFFFFFF
    if length < 32 or length > 65536 then sock:close() return nil end
    local message = sock:receive_bytes(length, 3000)
    sock:close()
    if not message then return nil end
    if message:sub(1, 4) == "\xFFSMB" then
      return { name = "smb", extra = "answered in SMB1" }
    end
    if #message < 64 or message:sub(1, 4) ~= "\xFESMB" or string.unpack("<I2", message, 5) ~= 64 then
      return nil
    end
    local status, command, _, flags = string.unpack("<I4I2I2I4", message, 9)
    if command ~= 0 or flags & 1 == 0 then return nil end -- a NEGOTIATE response, server to client

    local result = { name = "smb" }
    if status ~= 0 then
      result.extra = string.format("NEGOTIATE refused, status 0x%08x", status)
      return result
    end
    if #message < 128 or string.unpack("<I2", message, 65) ~= 65 then return nil end
    local security, dialect = string.unpack("<I2I2", message, 67)
    local server_guid = message:sub(73, 88)
    local system_time = string.unpack("<I8", message, 105)
    local name = dialects[dialect] or string.format("0x%04x", dialect)
    local notes = { "dialect " .. name }
    if security & 2 ~= 0 then notes[#notes + 1] = "signing required" end
    notes[#notes + 1] = "server GUID " .. guid(server_guid)
    local clock = filetime(system_time)
    if clock then notes[#notes + 1] = "system time " .. clock end
    result.extra = table.concat(notes, "; ")
    -- Samba's smbd makes its server GUID of its NetBIOS name in lower case, padded with NULs
    -- (Windows' is random): the name gives Samba and the host away.
    local samba_name = server_guid:match("^([%l%d][%l%d%-_%.]*)%z*$")
    if samba_name then
      result.product, result.cpe, result.hostnames = "Samba smbd", "cpe:/a:samba:samba", { samba_name }
    end
    return result
  end,
}
