-- LPD: a "send queue state (short)" request for queue lp (RFC 1179 5.3, command 03). The
-- daemon answers with plain text and closes; known phrases of BSD lpd, LPRng and CUPS's
-- cups-lpd make it certain, other text stays a guess.
local reads = require("reads")

local phrases = {
  { "no entries", nil }, { "is ready", nil }, { "line printer access", "BSD lpd" },
  { "Host name for your address", "BSD lpd" }, { "lpd: ", nil },
  { "unknown printer", nil }, { "Printer:", "LPRng" }, { "printer", nil }, { "queue", nil },
}

return {
  name = "lpd",
  description = "LPD print servers: the short queue state of queue lp",
  categories = { "default", "safe" },
  ports = { 515 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- an LPD server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("\3lp\n")
    local all = reads.all(sock, 2000, 2048)
    sock:close()
    if all == "" or all:find("[^%g%s]") then return nil end -- LPD's answers are text
    local first = all:match("^[^\n]*"):sub(1, 120)
    local lower = all:lower()
    for _, p in ipairs(phrases) do
      if lower:find(p[1]:lower(), 1, true) then
        return { name = "printer", product = p[2], extra = first }
      end
    end
    if port.number ~= 515 then return nil end -- any text elsewhere is no sign of LPD
    return { name = "printer", extra = first, certain = false }
  end,
}
