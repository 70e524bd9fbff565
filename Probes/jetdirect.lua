-- Raw printing (JetDirect, port 9100): a PJL INFO ID (HP PJL Technical Reference) is
-- answered by the printer's model; a port that accepts and says nothing stays a guess, since
-- whatever is sent there may be printed; that guess is made on ports 9100-9102 only.
return {
  name = "jetdirect",
  description = "Raw (JetDirect) printer ports: the model from PJL INFO ID",
  categories = { "default", "safe", "version" },
  ports = { 9100, 9101, 9102 },
  rarity = 9,

  run = function(host, port)
    if port.banner then return nil end
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("\27%-12345X@PJL INFO ID\r\n\27%-12345X")
    local data = sock:receive(2000)
    sock:close()
    local model = data and data:sub(1, 512):match("@PJL INFO ID\r?\n\"?([^\"\r\n]+)")
    if model then
      return { name = "jetdirect", product = model, device_type = "printer" }
    end
    if data or port.number < 9100 or port.number > 9102 then return nil end -- a guess only on 9100-9102
    return { name = "jetdirect", device_type = "printer", extra = "silent raw print port", certain = false }
  end,
}
