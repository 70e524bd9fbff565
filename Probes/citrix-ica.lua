-- Citrix ICA (XenApp / Virtual Apps listeners, TCP 1494): the server speaks first with the ICA
-- detect sequence "\x7F\x7FICA\0", repeated until the client answers.
return {
  name = "citrix-ica",
  description = "Citrix ICA listeners: the ICA detect sequence the server sends on connect",
  categories = { "default", "safe", "version" },
  ports = { 1494 },
  rarity = 7,

  run = function(host, port)
    if port.silent then return nil end
    local data = port.banner
    if not data then
      local sock = socket.connect(host, port)
      if not sock then return nil end
      data = sock:receive_bytes(6, 3000)
      sock:close()
    end
    if not data or data:sub(1, 6) ~= "\x7F\x7FICA\0" then return nil end
    return { name = "citrix-ica", product = "Citrix ICA", extra = "ICA detect sequence",
             cpe = "cpe:/a:citrix:virtual_apps_and_desktops" }
  end,
}
