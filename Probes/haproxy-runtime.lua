-- HAProxy's Runtime API ("stats socket" on TCP): one command, "show info", is answered with
-- "Name: HAProxy" and "Version: ..." lines and the connection closes. Read-only, and at the
-- socket's lowest level ("user") it still answers; an operator level socket can change the
-- load balancer, so an exposed one is worth knowing about.
return {
  name = "haproxy-runtime",
  description = "HAProxy Runtime API (stats socket over TCP): version, node, process facts",
  categories = { "default", "safe", "version" },
  ports = { 9999 },
  rarity = 8, -- niche: off its own port it is tried only at a higher intensity

  run = function(host, port)
    if port.banner then return nil end
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("show info\n")
    local fields = {}
    for _ = 1, 80 do
      local line = sock:receive_line(2000)
      if not line or line == "" then break end
      local key, value = line:sub(1, 200):match("^([%w_]+): (.*)$")
      if key then fields[key] = value end
    end
    sock:close()
    if fields.Name ~= "HAProxy" or not fields.Version then return nil end
    local version = fields.Version:match("^[%w%.%-+~]+$")
    local result = { name = "haproxy-runtime", product = "HAProxy", version = version,
                     cpe = "cpe:/a:haproxy:haproxy" .. (version and (":" .. version:match("^[%d%.]+")) or ""),
                     extra = "runtime API open" }
    if fields.node then result.extra = result.extra .. "; node " .. fields.node:sub(1, 60) end
    if fields.Nbthread then result.extra = result.extra .. "; " .. fields.Nbthread:sub(1, 6) .. " threads" end
    return result
  end,
}
