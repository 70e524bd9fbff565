-- PostgreSQL: a StartupMessage (protocol 3.0, user "cartograph") is answered with an
-- authentication request or an ErrorResponse. The version is only told after a login, which
-- happens when the server trusts the user without a password (ParameterStatus server_version).

local auth_methods = {
  [0] = "none (trusted)", [2] = "Kerberos V5", [3] = "cleartext password", [5] = "MD5",
  [7] = "GSSAPI", [9] = "SSPI", [10] = "SASL",
}

-- One backend message: type byte, int32 length (including itself), body.
local function receive_message(sock, timeout)
  local head = sock:receive_bytes(5, timeout)
  if not head then return nil end
  local kind, length = string.unpack(">c1I4", head)
  if length < 4 or length > 16384 then return nil end
  local body = length > 4 and sock:receive_bytes(length - 4, timeout) or ""
  if not body then return nil end
  return kind, body
end

-- ErrorResponse fields: a code byte and a NUL-terminated text each, then a NUL.
local function error_fields(body)
  local fields = {}
  for code, text in body:gmatch("(%u)([^\0]*)\0") do fields[code] = text end
  return fields
end

return {
  name = "postgresql",
  description = "PostgreSQL servers: authentication method, or the server's error; version when trusted",
  categories = { "default", "safe", "version" },
  ports = { 5432, 5433 },
  rarity = 3,

  run = function(host, port)
    if port.banner then return nil end -- PostgreSQL never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local params = "user\0cartograph\0database\0postgres\0application_name\0cartograph\0\0"
    sock:send(string.pack(">I4I4", 8 + #params, 196608) .. params) -- 196608: protocol 3.0

    local kind, body = receive_message(sock, 3000)
    local result = { name = "postgresql", product = "PostgreSQL", cpe = "cpe:/a:postgresql:postgresql" }
    if kind == "E" then
      local fields = error_fields(body)
      if not (fields.S and fields.M) then sock:close() return nil end
      result.extra = (fields.C and "error " .. fields.C .. ": " or "") .. fields.M
    elseif kind == "R" and #body >= 4 then
      local code = string.unpack(">I4", body)
      local method = auth_methods[code]
      if not method then sock:close() return nil end
      if code == 10 then -- SASL: the mechanisms follow, NUL-terminated
        local mechanisms = {}
        for m in body:sub(5):gmatch("([^\0]+)") do mechanisms[#mechanisms + 1] = m end
        method = table.concat(mechanisms, ", ")
      end
      result.extra = "authentication: " .. method
      if code == 0 then -- logged in: ParameterStatus messages until ReadyForQuery
        for _ = 1, 32 do
          local k, b = receive_message(sock, 2000)
          if not k or k == "Z" then break end
          if k == "E" then -- e.g. the role does not exist
            result.extra = result.extra .. "; " .. (error_fields(b).M or "error")
            break
          end
          local name, value = (b or ""):match("^([^\0]*)\0([^\0]*)")
          if k == "S" and name == "server_version" then
            result.version = value:match("^(%d+[%.%d]*)")
            result.extra = result.extra .. "; " .. value
            if value:match("Debian") then result.os = "Debian" elseif value:match("Ubuntu") then result.os = "Ubuntu" end
          end
        end
        sock:send("X\0\0\0\4") -- Terminate
        if result.version then result.cpe = result.cpe .. ":" .. result.version end
      end
    else
      sock:close()
      return nil
    end
    sock:close()
    return result
  end,
}
