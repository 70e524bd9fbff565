-- Subversion's svn protocol (svnserve): the server speaks first with
-- "( success ( minver maxver ( mechs ) ( capabilities ) ) )" (libsvn_ra_svn/protocol).
return {
  name = "svn",
  description = "Subversion svnserve: protocol versions and capabilities from the greeting",
  categories = { "default", "safe", "version" },
  ports = { 3690 },
  rarity = 6,

  run = function(host, port)
    if port.silent then return nil end
    local greeting = port.banner
    if not greeting then
      local sock = socket.connect(host, port)
      if not sock then return nil end
      greeting = sock:receive(3000)
      sock:close()
    end
    greeting = (greeting or ""):sub(1, 2048)
    local low, high, rest = greeting:match("^%( success %( (%d+) (%d+) %( [^%)]*%) %( ([^%)]*)%)")
    if not low then return nil end
    local result = { name = "svn", product = "Subversion svnserve", cpe = "cpe:/a:apache:subversion",
                     extra = "protocol " .. (low == high and low or (low .. "-" .. high)) }
    if rest ~= "" then result.extra = result.extra .. "; capabilities: " .. rest:gsub("%s+$", ""):sub(1, 200) end
    return result
  end,
}
