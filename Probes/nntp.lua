-- NNTP (RFC 3977): the server greets first with 200 (posting allowed) or 201 (no posting) and
-- usually its software; CAPABILITIES (101, with VERSION and IMPLEMENTATION) confirms it, or HELP
-- (100) on servers older than RFC 3977.
local greeting = require("greeting")

-- Lua pattern (the capture is the version), product, CPE prefix.
local products = {
  { "InterNetNews server INN ([%d%.]+)", "INN", "cpe:/a:isc:inn" },
  { "InterNetNews NNRP server INN ([%d%.]+)", "INN", "cpe:/a:isc:inn" },
  { "Leafnode NNTP Daemon, version ([%d%.]+)", "Leafnode", "cpe:/a:leafnode:leafnode" },
  { "Diablo ([%d%.]+)", "Diablo", "cpe:/a:diablo:diablo" },
  { "DNEWS Version ([%d%.]+)", "DNEWS", "cpe:/a:netwinsite:dnews" },
  { "NNTP Service ([%d%.]+)", "Microsoft NNTP Service", "cpe:/a:microsoft:internet_information_services" },
  { "Typhoon", "Typhoon NNTP", nil },
  { "Highwind", "Highwind", nil },
}

return {
  name = "nntp",
  description = "NNTP news servers: product and version from the greeting or the IMPLEMENTATION capability",
  categories = { "default", "safe", "version" },
  ports = { 119, 563 },
  rarity = 6,
  tls = true, -- NNTPS (563)

  run = function(host, port)
    local text, sock = greeting.read(host, port, false)
    if not text or not text:match("^20[01][ %-]") then
      if sock then sock:close() end
      return nil
    end
    if not sock then -- the greeting was the passive read's: a connection of our own
      local _
      _, sock = greeting.open(host, port, false)
      if not sock then return nil end
    end
    local result = { name = "nntp", extra = text:match("^201") and "no posting" or "posting allowed" }
    sock:send("CAPABILITIES\r\n")
    local reply = sock:receive_line(3000) or ""
    local confirmed = false
    if reply:match("^101") then
      confirmed = true
      for _ = 1, 60 do
        local line = sock:receive_line(2000)
        if not line or line == "." then break end
        local name, version = line:match("^IMPLEMENTATION (%S+) v?(%d[%w%.%-]*)")
        if name and not result.product then result.product, result.version = name:sub(1, 40), version:sub(1, 20) end
        local protocol = line:match("^VERSION (%d+)")
        if protocol then result.extra = result.extra .. "; NNTP version " .. protocol end
      end
    elseif reply:match("^5%d%d") then
      sock:send("HELP\r\n")
      local help = sock:receive_line(3000) or ""
      confirmed = help:match("^100") ~= nil
    end
    greeting.close(sock, "QUIT\r\n")
    if greeting.identify(text, products, result) then confirmed = true end
    if not confirmed then return nil end
    result.extra = greeting.first_line(text):sub(5, 64) .. "; " .. result.extra
    return result
  end,
}
