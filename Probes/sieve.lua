-- ManageSieve (RFC 5804): the server speaks first with its capabilities, one quoted pair a line
-- ("IMPLEMENTATION" "Dovecot Pigeonhole", "SASL" "PLAIN", "STARTTLS", "VERSION" "1.0"), then
-- OK. IMPLEMENTATION names the server.
local function quoted(line)
  local key, value = line:match('^"([%w%-]+)"%s*"([^"]*)"')
  if key then return key, value end
  return line:match('^"([%w%-]+)"%s*$')
end

-- IMPLEMENTATION values: Lua pattern (the capture is the version), product, CPE prefix.
local products = {
  { "Pigeonhole", "Dovecot Pigeonhole", "cpe:/a:dovecot:pigeonhole" },
  { "^Cyrus timsieved v?([%d%.]+)", "Cyrus timsieved", "cpe:/a:cmu:cyrus_imap_server" },
  { "^Cyrus timsieved", "Cyrus timsieved", "cpe:/a:cmu:cyrus_imap_server" },
  { "^sieve%-connect", "sieve-connect" },
}

return {
  name = "sieve",
  description = "ManageSieve servers: implementation, SASL mechanisms and STARTTLS from the greeting",
  categories = { "default", "safe", "version" },
  ports = { 4190, 2000 },
  rarity = 6,

  run = function(host, port)
    if port.silent then return nil end
    local text, sock = port.banner, nil
    if not text or not text:find("\nOK", 1, true) then
      if text and not text:match('^"') then return nil end
      sock = socket.connect(host, port)
      if not sock then return nil end
      text = sock:receive_until("\nOK[^\r\n]*\r?\n", 3000)
    end
    if not text or not text:match('^"[%w%-]+"') then
      if sock then sock:close() end
      return nil
    end
    if sock then
      sock:send("LOGOUT\r\n")
      sock:close()
    end
    local caps, notes = {}, {}
    local ended = false
    for line in text:sub(1, 8192):gmatch("[^\r\n]+") do
      if line:match("^OK") then ended = true break end
      local key, value = quoted(line)
      if not key then return nil end
      caps[key:upper()] = value or true
    end
    if not ended or not caps.SIEVE then return nil end
    local result = { name = "sieve" }
    local implementation = type(caps.IMPLEMENTATION) == "string" and caps.IMPLEMENTATION or nil
    if implementation then
      notes[#notes + 1] = "implementation " .. implementation:sub(1, 60):gsub("[^%g ]", "")
      for _, p in ipairs(products) do
        local found, _, version = implementation:find(p[1])
        if found then
          result.product, result.version = p[2], version
          if p[3] then result.cpe = version and (p[3] .. ":" .. version) or p[3] end
          break
        end
      end
      result.os = implementation:match("%((Debian)%)") or implementation:match("%((Ubuntu)%)")
    end
    if type(caps.SASL) == "string" then notes[#notes + 1] = "SASL " .. (caps.SASL ~= "" and caps.SASL:sub(1, 60) or "(none before TLS)") end
    if caps.STARTTLS then notes[#notes + 1] = "STARTTLS" end
    if type(caps.VERSION) == "string" then notes[#notes + 1] = "version " .. caps.VERSION:sub(1, 10) end
    result.extra = table.concat(notes, "; ")
    return result
  end,
}
