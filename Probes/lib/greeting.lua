-- Greetings of servers that speak first (FTP, SMTP, POP3, IMAP): taken from port.banner when
-- the passive read got one, else read from a new connection (over TLS when port.tls).
local greeting = {}

-- open(host, port, multiline): connect and read the greeting. With multiline, "NNN-text" lines
-- continue the reply up to the "NNN text" line (FTP, SMTP). Returns the lines joined by "\n"
-- and the open socket, or nil.
function greeting.open(host, port, multiline)
  local sock = socket.connect(host, port, { tls = port.tls })
  if not sock then return nil end
  local lines = {}
  local line = sock:receive_line(5000)
  while line do
    lines[#lines + 1] = line
    if not (multiline and line:match("^%d%d%d%-")) or #lines >= 30 then break end
    line = sock:receive_line(3000)
  end
  if #lines == 0 then
    sock:close()
    return nil
  end
  return table.concat(lines, "\n"), sock
end

-- read(host, port, multiline): the greeting, and the socket when a connection had to be made
-- (nil when the text is port.banner). nil for a port that stayed silent.
function greeting.read(host, port, multiline)
  if not port.tls then
    if port.banner then return (port.banner:gsub("\r", ""):gsub("\n+$", "")) end
    if port.silent then return nil end
  end
  return greeting.open(host, port, multiline)
end

-- ask(host, port, sock, command, pattern): when a greeting alone does not tell the protocol,
-- send `command` (on `sock`, or on a new connection when the greeting came from port.banner)
-- and read one line. Returns the line and the socket when it matches the Lua `pattern`,
-- else closes and returns nil.
function greeting.ask(host, port, sock, command, pattern)
  if not sock then
    local text
    text, sock = greeting.open(host, port, true)
    if not text then return nil end
  end
  sock:send(command)
  local reply = sock:receive_line(3000)
  if not reply or not reply:match(pattern) then
    sock:close()
    return nil
  end
  return reply, sock
end

-- identify(text, products, result): the first entry of `products` whose Lua pattern (first
-- field) matches `text` names the product (second), its CPE (third, with the captured version
-- appended) and, when given, the OS (fourth). Fills `result`; true when one matched.
function greeting.identify(text, products, result)
  for _, p in ipairs(products) do
    local found, _, version = text:find(p[1])
    if found then
      result.product, result.version, result.os = p[2], version, p[4] or result.os
      result.cpe = version and (p[3] .. ":" .. version) or p[3]
      return true
    end
  end
  return false
end

-- Ends a session politely (QUIT / LOGOUT), when there is one.
function greeting.close(sock, farewell)
  if not sock then return end
  sock:send(farewell)
  sock:receive_line(1000)
  sock:close()
end

-- The first line of text, made printable and short, for `extra`.
function greeting.first_line(text)
  return (text:match("^[^\n]*"):gsub("[^%g ]", "."):sub(1, 100))
end

-- "Debian" or "Ubuntu" when the greeting says so, as Debian's and Ubuntu's packages do
-- ("(Debian/GNU)", "(Ubuntu)", Sendmail's "8.17.1.9/Debian-2").
function greeting.distro(text)
  return text:match("%((Debian)[/%)]") or text:match("%((Ubuntu)[/%)]") or text:match("/(Debian)%-%d")
         or text:match("/(Ubuntu)%-%d")
end

return greeting
