-- SIP over UDP (RFC 3261): an OPTIONS request; the answer's Server / User-Agent names the product.
local sip = require("sip")

return {
  name = "sip",
  description = "SIP servers and phones over UDP: status of an OPTIONS request, product from Server/User-Agent",
  categories = { "default", "safe", "version" },
  protocol = "udp",
  ports = { 5060, 5061 },
  rarity = 4,

  run = function(host, port)
    local sock = socket.connect(host, port, { protocol = "udp" })
    if not sock then return nil end
    sock:send(sip.request(host, port, "UDP"))
    local answer = sock:receive(3000)
    -- A 1xx (100 Trying) may come before the final answer.
    if answer and answer:match("^SIP/2%.0 1%d%d") then answer = sock:receive(2000) or answer end
    sock:close()
    return sip.parse(answer)
  end,
}
