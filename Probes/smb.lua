-- SMB: an SMB2 NEGOTIATE offering dialects 2.0.2 to 3.1.1 (MS-SMB2 2.2.3) in a NetBIOS session
-- message; the response gives the chosen dialect, the server GUID and the server's clock.
-- On 139 a NetBIOS session request for "*SMBSERVER" comes first. An anonymous NTLMSSP session
-- setup then gives the computer and domain names (and Windows' version) without logging in.

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

-- An anonymous SESSION_SETUP with an NTLMSSP NEGOTIATE in SPNEGO (MS-SMB2 2.2.5, MS-NLMP 2.2.1.1):
-- the server's CHALLENGE names the computer and domain (NetBIOS and DNS, MS-NLMP 2.2.2.1) and,
-- when it sets NEGOTIATE_VERSION, its OS version. Returns { [1] = NetBIOS computer, [2] = NetBIOS
-- domain, [3] = DNS computer, version = "6.1.7600" } or nil. Nothing is authenticated.
local function challenge(sock)
  local ntlm = "NTLMSSP\0" .. string.pack("<I4I4", 1, 0xA2088207) .. string.rep("\0", 16) ..
               string.pack("<BBI2BBBB", 6, 1, 7601, 0, 0, 0, 15)
  local token = "\x04" .. string.char(#ntlm) .. ntlm
  token = "\xA2" .. string.char(#token) .. token
  local mechs = "\xA0\x0E\x30\x0C\x06\x0A\x2B\x06\x01\x04\x01\x82\x37\x02\x02\x0A"
  local init = "\x30" .. string.char(#mechs + #token) .. mechs .. token
  init = "\xA0" .. string.char(#init) .. init
  local blob = "\x06\x06\x2B\x06\x01\x05\x05\x02" .. init
  blob = "\x60" .. string.char(#blob) .. blob
  local header = "\xFESMB" .. string.pack("<I2I2I4I2I2I4I4I8I4I4I8", 64, 0, 0, 1, 31, 0, 0, 1, 0, 0, 0)
                 .. string.rep("\0", 16)
  local body = string.pack("<I2BBI4I4I2I2I8", 25, 0, 1, 0, 0, 64 + 24, #blob, 0) .. blob
  local message = header .. body
  if not sock:send(string.pack(">I4", #message) .. message) then return nil end
  local frame = sock:receive_bytes(4, 2000)
  if not frame or frame:byte(1) ~= 0 then return nil end
  local length = string.unpack(">I4", frame) & 0xFFFFFF
  if length < 64 or length > 65536 then return nil end
  local reply = sock:receive_bytes(length, 3000)
  if not reply or reply:sub(1, 4) ~= "\xFESMB" then return nil end
  local start = reply:find("NTLMSSP\0\2\0\0\0", 65, true)
  if not start or start + 47 > #reply then return nil end
  local c = reply:sub(start)
  local flags = string.unpack("<I4", c, 21)
  local info_length, _, info_offset = string.unpack("<I2I2I4", c, 41)
  local out = {}
  if flags & 0x02000000 ~= 0 and #c >= 56 then
    local major, minor, build = string.unpack("<BBI2", c, 49)
    out.version = string.format("%d.%d.%d", major, minor, build)
  end
  local info = c:sub(info_offset + 1, info_offset + info_length)
  local at = 1
  for _ = 1, 16 do
    if at + 3 > #info then break end
    local id, size = string.unpack("<I2I2", info, at)
    if id == 0 then break end
    local value = info:sub(at + 4, at + 3 + size)
    if id >= 1 and id <= 4 then
      -- UTF-16LE, as ASCII where it is ASCII.
      local text = value:gsub("(.)(.)", function(low, high) return high == "\0" and low or "?" end)
      text = text:gsub("[^%w%.%-_]", ""):sub(1, 64)
      if text ~= "" then out[id == 1 and 1 or (id == 2 and 2 or (id == 3 and 3 or 4))] = text end
    end
    at = at + 4 + size
  end
  return out
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
    if not message then sock:close() return nil end
    if message:sub(1, 4) == "\xFFSMB" then
      sock:close()
      return { name = "smb", extra = "answered in SMB1" }
    end
    if #message < 64 or message:sub(1, 4) ~= "\xFESMB" or string.unpack("<I2", message, 5) ~= 64 then
      sock:close()
      return nil
    end
    local status, command, _, flags = string.unpack("<I4I2I2I4", message, 9)
    if command ~= 0 or flags & 1 == 0 then sock:close() return nil end -- a NEGOTIATE response

    local result = { name = "smb" }
    if status ~= 0 then
      sock:close()
      result.extra = string.format("NEGOTIATE refused, status 0x%08x", status)
      return result
    end
    if #message < 128 or string.unpack("<I2", message, 65) ~= 65 then sock:close() return nil end
    local security, dialect = string.unpack("<I2I2", message, 67)
    local server_guid = message:sub(73, 88)
    local system_time = string.unpack("<I8", message, 105)
    local name = dialects[dialect] or string.format("0x%04x", dialect)
    local notes = { "dialect " .. name }
    if security & 2 ~= 0 then notes[#notes + 1] = "signing required" end
    notes[#notes + 1] = "server GUID " .. guid(server_guid)
    local clock = filetime(system_time)
    if clock then notes[#notes + 1] = "system time " .. clock end
    local ntlm = challenge(sock)
    sock:close()
    if ntlm then
      local names = {}
      if ntlm[2] then names[#names + 1] = "domain " .. ntlm[2] end
      if ntlm[1] then names[#names + 1] = "NetBIOS name " .. ntlm[1] end
      if ntlm[3] then names[#names + 1] = "DNS name " .. ntlm[3]; result.hostnames = { ntlm[3] } end
      if ntlm.version then names[#names + 1] = "NTLM version " .. ntlm.version end
      if #names > 0 then table.insert(notes, 2, table.concat(names, ", ")) end
    end
    result.extra = table.concat(notes, "; ")
    -- Samba's smbd makes its server GUID of its NetBIOS name in lower case, padded with NULs
    -- (Windows' is random): the name gives Samba and the host away.
    local samba_name = server_guid:match("^([%l%d][%l%d%-_%.]*)%z*$")
    if samba_name then
      result.product, result.cpe = "Samba smbd", "cpe:/a:samba:samba"
      result.hostnames = result.hostnames or { samba_name }
    elseif ntlm and ntlm.version then
      result.os = "Windows" -- NTLM's version field is Windows' (Samba's is a fixed 6.1.0)
    end
    return result
  end,
}
