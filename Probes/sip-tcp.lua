-- SIP over TCP and TLS (RFC 3261): an OPTIONS request; the answer's Server / User-Agent names
-- the product.
local sip = require("sip")

return {
  name = "sip-tcp",
  description = "SIP servers over TCP and TLS: status of an OPTIONS request, product from Server/User-Agent",
  categories = { "default", "safe", "version" },
  ports = { 5060, 5061 },
  rarity = 8,
  tls = true, -- SIPS (5061)

  run = function(host, port)
    if port.banner then return nil end -- the client speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    sock:send(sip.request(host, port, port.tls and "TLS" or "TCP"))
    local answer = ""
    for _ = 1, 6 do
      local more = sock:receive(3000)
      if not more then break end
      answer = (answer .. more):sub(1, 16384)
      if answer:match("^SIP/2%.0 1%d%d") then
        local finish = answer:find("\r\n\r\n", 1, true)
        if finish then answer = answer:sub(finish + 4) end
      elseif answer:find("\r\n\r\n", 1, true) then
        break
      end
    end
    sock:close()
    return sip.parse(answer)
  end,
}
