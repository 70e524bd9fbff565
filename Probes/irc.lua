-- IRC: we register (NICK, USER; RFC 2812 3.1) and read the welcome numerics: 002 "Your host is
-- <server>, running version <version>" and 004 "<server> <version> <user modes> <chan modes>".
-- Many servers greet first with NOTICEs ("*** Looking up your hostname").
local function split_version(text)
  -- "ngircd-26.1", "InspIRCd-3", "UnrealIRCd-6.1.0", "hybrid-8.2.43", "solanum-1.0"
  local product, version = text:match("^([%a][%w_]-)[%-%.]v?(%d[%w%.%-%+]*)$")
  if product then return product, version end
  return text
end

local known = { ngircd = "ngIRCd", inspircd = "InspIRCd", unrealircd = "UnrealIRCd", hybrid = "ircd-hybrid",
                ["ircd-hybrid"] = "ircd-hybrid", solanum = "Solanum", charybdis = "Charybdis",
                ["ircd-ratbox"] = "ircd-ratbox", ratbox = "ircd-ratbox", bahamut = "Bahamut",
                ergo = "Ergo", oragono = "Oragono", ["ircd-seven"] = "ircd-seven", u2 = "ircu" }

return {
  name = "irc",
  description = "IRC servers: server name and software version from the registration numerics",
  categories = { "default", "safe", "version" },
  ports = { 6667, 6660, 6661, 6662, 6663, 6664, 6665, 6666, 6668, 6669, 6697, 7000, 194 },
  rarity = 8,
  tls = true, -- IRC over TLS (6697)

  run = function(host, port)
    local first = port.banner
    if first and not (first:match("^:[^ ]+ NOTICE ") or first:match("^NOTICE ") or first:match("^:[^ ]+ %d%d%d ")
                      or first:match("^PING ")) then
      return nil
    end
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    local nick = "cg" .. string.format("%06d", math.random(0, 999999))
    sock:send("NICK " .. nick .. "\r\nUSER cartograph 0 * :Cartograph probe\r\n")
    local result, server, lines = nil, nil, 0
    for _ = 1, 40 do
      local line = sock:receive_line(4000)
      if not line then break end
      line = line:sub(1, 512)
      lines = lines + 1
      local ping = line:match("^PING :?(%S+)")
      if ping then sock:send("PONG :" .. ping .. "\r\n") end
      local source, code, rest = line:match("^:(%S+) (%d%d%d) %S+ ?(.*)$")
      if code then
        result = result or { name = "irc" }
        server = server or source
        if code == "002" then
          local version = rest:match("running version ([%w%._%-%+]+)")
          if version then result.product, result.version = split_version(version) end
        elseif code == "004" then
          local name, version = rest:match("^(%S+) (%S+)")
          if name and not result.product then result.product, result.version = split_version(version) end
          break
        elseif code == "433" or code == "432" or code == "465" or code:match("^4[67]") then
          break -- nickname refused, banned, ...: still IRC
        end
      elseif line:match("^ERROR ") then
        result = result or { name = "irc", extra = line:sub(1, 120):gsub("[^%g ]", "") }
        break
      elseif not (line:match("^:%S+ NOTICE ") or line:match("^NOTICE ") or line:match("^PING ")
                  or line:match("^:%S+ %u+ ")) then
        if lines == 1 then sock:close() return nil end
      end
    end
    sock:send("QUIT :cartograph\r\n")
    sock:close()
    if not result then return nil end
    if result.product then result.product = known[result.product:lower()] or result.product end
    if server then
      result.extra = "server " .. server:gsub("[^%w%.%-%*]", "")
      if server:match("%a") and server:find(".", 1, true) then result.hostnames = { server } end
    end
    return result
  end,
}
