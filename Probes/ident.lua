-- Ident (RFC 1413): the client asks "<server port>, <client port>" about a connection; the
-- server answers "<ports> : USERID : <os> : <user>" or "<ports> : ERROR : <why>". We ask about
-- a pair of ports no connection uses, so the answer is an ERROR that names no one.
return {
  name = "ident",
  description = "Ident (auth) servers: the protocol's answer to a query about a connection that does not exist",
  categories = { "default", "safe", "version" },
  ports = { 113 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- the client speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("65535, 65535\r\n")
    local line = sock:receive_line(3000)
    sock:close()
    if not line then return nil end
    line = line:sub(1, 512)
    local first, second, kind, info = line:match("^%s*(%d+)%s*,%s*(%d+)%s*:%s*([%u%-]+)%s*:%s*(.-)%s*$")
    if not first or (kind ~= "ERROR" and kind ~= "USERID") then return nil end
    local result = { name = "ident", extra = kind .. " : " .. info:sub(1, 80):gsub("[^%g ]", "") }
    if kind == "USERID" then
      -- A server that answers for any pair lies on purpose (oidentd -R, fake identd).
      result.extra = result.extra .. " (answers for a connection that does not exist)"
    end
    return result
  end,
}
