-- The fallback: whatever a service says first, shown as it is, with a tentative guess.
local guesses = {
  { "^SSH%-", "ssh" }, { "^220[ %-].-[Ff][Tt][Pp]", "ftp" }, { "^220[ %-].-SMTP", "smtp" },
  { "^220[ %-]", "smtp" }, { "^%+OK", "pop3" }, { "^%* OK", "imap" }, { "^RFB %d", "vnc" },
  { "^HTTP/%d", "http" }, { "^%-ERR", "redis" },
}

return {
  name = "banner",
  description = "Any service that speaks first: its first line, and a tentative guess at what it is",
  categories = { "default", "safe", "discovery" },
  ports = {},
  rarity = 7, -- last of the probes tried at the default intensity

  run = function(host, port)
    local data = port.banner
    if not data and not port.silent then
      local sock = socket.connect(host, port)
      if not sock then return nil end
      data = sock:receive(3000)
      sock:close()
    end
    if not data or #data == 0 then return nil end
    local line = data:match("^[^\r\n]*"):gsub("[^%g ]", "."):sub(1, 120)
    local name = "unknown"
    for _, guess in ipairs(guesses) do
      if data:match(guess[1]) then name = guess[2] break end
    end
    return { name = name, extra = line, certain = false }
  end,
}
