-- Telnet: the server speaks first with option negotiation (IAC DO/WILL ..., RFC 854/855),
-- then usually an issue text and a login prompt. We refuse every option but echo and
-- suppress-go-ahead, read the text, and take the daemon from its opening options and the
-- system from the text.

local lines_text = require("text")

local IAC, SB, WILL, WONT, DO, DONT = 255, 250, 251, 252, 253, 254

-- Opening negotiations that give a daemon away.
local daemons = {
  ["\xFF\xFD\x18\xFF\xFD\x20\xFF\xFD\x23\xFF\xFD\x27"] = "Linux telnetd",  -- netkit-telnetd
  ["\xFF\xFD\x01\xFF\xFD\x1F\xFF\xFB\x01\xFF\xFB\x03"] = "BusyBox telnetd",
  -- GNU inetutils telnetd built with authentication and encryption (Debian's): WILL AUTHENTICATION,
  -- WILL ENCRYPT, then DO TTYPE, TSPEED, XDISPLOC, NEW-ENVIRON, OLD-ENVIRON.
  ["\xFF\xFB\x25\xFF\xFB\x26\xFF\xFD\x18\xFF\xFD\x20\xFF\xFD\x23\xFF\xFD\x27\xFF\xFD\x24"] = "GNU inetutils telnetd",
}

local systems = {
  { "Debian GNU/Linux", "Debian" }, { "Ubuntu", "Ubuntu" }, { "Raspbian", "Raspbian" },
  { "CentOS", "CentOS" }, { "Red Hat", "Red Hat" }, { "FreeBSD", "FreeBSD" },
  { "OpenBSD", "OpenBSD" }, { "NetBSD", "NetBSD" }, { "OpenWrt", "OpenWrt" }, { "BusyBox", "Linux" },
}

local prompts = { "[Ll]ogin: *$", "[Uu]ser ?[Nn]ame: *$", "[Pp]assword: *$" }

-- Splits data into text and negotiation: returns the text, the replies we owe, and the bytes
-- of an unfinished command (kept for the next read). `answered` stops negotiation loops.
local function parse(data, answered)
  local text, replies, i = {}, {}, 1
  while i <= #data do
    local byte = data:byte(i)
    if byte ~= IAC then
      local stop = data:find("\xFF", i, true) or #data + 1
      text[#text + 1] = data:sub(i, stop - 1)
      i = stop
    else
      local command, option = data:byte(i + 1), data:byte(i + 2)
      if not command then break end
      if command == IAC then
        text[#text + 1] = "\xFF"
        i = i + 2
      elseif command == SB then
        local finish = data:find("\xFF\xF0", i + 2, true)
        if not finish then break end
        i = finish + 2
      elseif command >= WILL and command <= DONT then
        if not option then break end
        local reply
        if command == DO then reply = WONT
        elseif command == WILL then reply = (option == 1 or option == 3) and DO or DONT end
        local key = command * 256 + option
        if reply and not answered[key] then
          answered[key] = true
          replies[#replies + 1] = string.char(IAC, reply, option)
        end
        i = i + 3
      else
        i = i + 2 -- a two-byte command (NOP, GA, ...)
      end
    end
  end
  return table.concat(text), table.concat(replies), data:sub(i)
end

local function prompted(text)
  for _, pattern in ipairs(prompts) do
    if text:match(pattern) then return true end
  end
  return false
end

return {
  name = "telnet",
  description = "Telnet servers: the daemon from its option negotiation, the system from its issue text",
  categories = { "default", "safe", "version" },
  ports = { 23, 2323 },
  rarity = 3,

  run = function(host, port)
    if port.silent then return nil end
    local first, sock = port.banner, nil
    if not first then
      sock = socket.connect(host, port)
      if not sock then return nil end
      first = sock:receive(3000)
      if not first then sock:close() return nil end
    end
    local negotiates = first:match("^\xFF[\xFA-\xFE]") ~= nil
    local answered = {}
    local text, replies, rest = parse(first, answered)
    text = text:gsub("%z", "")
    if not negotiates then
      -- No negotiation at all: only a bare login prompt says telnet, and only tentatively.
      if sock then sock:close() end
      if not prompted(text) or text:find("[^%g%s]") then return nil end
      return { name = "telnet", extra = text:match("^%s*([^\r\n]*)"):sub(1, 80), certain = false }
    end

    local opening = 0 -- the length of the option commands before anything else
    while first:match("^\xFF[\xFB-\xFE]", opening + 1) and #first >= opening + 3 do
      opening = opening + 3
    end
    local daemon = daemons[first:sub(1, opening)]

    -- Answer the negotiation until the server shows a prompt or goes quiet.
    if not prompted(text) then
      if not sock then
        sock = socket.connect(host, port)
        if sock then
          first = sock:receive(3000) or ""
          answered = {}
          text, replies, rest = parse(first, answered)
        end
      end
      local rounds = 0
      while sock and rounds < 8 and not prompted(text) do
        rounds = rounds + 1
        if #replies > 0 then sock:send(replies) end
        local data = sock:receive(2000)
        if not data then break end
        local more
        more, replies, rest = parse(rest .. data, answered)
        text = text .. more:gsub("%z", "")
      end
    end
    if sock then sock:close() end

    local result = { name = "telnet", product = daemon }
    local lines = {}
    for line in text:gmatch("[^\r\n]+") do
      line = lines_text.trim((line:sub(1, 1024):gsub("[^%g ]", "")))
      if line ~= "" then lines[#lines + 1] = line end
    end
    if #lines > 0 then result.extra = table.concat(lines, " | "):sub(1, 120) end
    for _, system in ipairs(systems) do
      if text:find(system[1], 1, true) then result.os = system[2] break end
    end
    local name = text:match("([%w][%w%.%-]*) login: *$")
    if name then result.hostnames = { name } end
    local busybox = text:match("BusyBox v(%d[%w%.%-]*)")
    if busybox then result.product, result.version = "BusyBox telnetd", busybox end
    return result
  end,
}
