-- Finger (RFC 1288): an empty query (CRLF) asks for the users logged in; the server answers with
-- a list or a note such as "No one logged on." and closes the connection.
local patterns = {
  -- Not a bare "Login: ": a login prompt answers a CRLF that way too.
  "^No one logged on", "^Login%s+Name%s+Tty", "^Login%s+Name", "^Login: %S+%s+Name: ", "^finger: ",
  "^No user", "^User%s+Real Name", "^Line%s+User",
}

return {
  name = "finger",
  description = "Finger servers: the answer to an empty query (who is logged in)",
  categories = { "default", "safe", "version" },
  ports = { 79 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- the client speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("\r\n")
    local data = ""
    for _ = 1, 8 do
      local more = sock:receive(3000)
      if not more then break end
      data = (data .. more):sub(1, 4096)
    end
    sock:close()
    local first = data:match("^%s*([^\r\n]*)") or ""
    for _, pattern in ipairs(patterns) do
      if first:match(pattern) then
        local users = 0
        if first:match("^Login%s+Name") then
          for _ in data:gmatch("\n[%w_%-%.]+%s") do users = users + 1 end
        end
        local extra = first:sub(1, 80):gsub("[^%g ]", "")
        if users > 0 then extra = extra .. string.format(" (%d user line%s)", users, users == 1 and "" or "s") end
        return { name = "finger", extra = extra }
      end
    end
    return nil
  end,
}
