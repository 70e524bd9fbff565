-- Varnish's management CLI (varnishd -T): it speaks first with "STATUS LENGTH" on a line of
-- its own (varnish-cli(7)): 107 and a 32-character challenge when a secret file protects it,
-- 200 and a banner naming "Varnish Cache CLI" and varnishd's version when nothing does.
return {
  name = "varnish-cli",
  description = "Varnish Cache management CLI: authentication state and, when open, version",
  categories = { "default", "safe", "version" },
  ports = { 6082 },
  rarity = 7,

  run = function(host, port)
    local data = port.banner
    if not data then
      if port.silent then return nil end
      local sock = socket.connect(host, port)
      if not sock then return nil end
      data = sock:receive(3000)
      sock:close()
    end
    data = (data or ""):sub(1, 4096)
    local status, length = data:match("^(%d%d%d) (%d+) *\n")
    if not status then return nil end
    local result = { name = "varnish-cli", product = "Varnish", cpe = "cpe:/a:varnish-cache:varnish" }
    if status == "107" and data:match("^107 %d+ *\n[a-z]+\n\nAuthentication required%.") then
      result.extra = "authentication required (secret file)"
      return result
    end
    if status ~= "200" or not data:find("Varnish Cache CLI", 1, true) then return nil end
    local version = data:match("varnish%-(%d+%.%d+[%.%d]*)")
    if version then
      result.version, result.cpe = version, "cpe:/a:varnish-cache:varnish:" .. version
    end
    result.extra = "open: no secret (full control of the cache)"
    return result
  end,
}
