-- memcached: the text protocol's "version" command answers "VERSION <version>".
return {
  name = "memcached",
  description = "memcached servers: version from the text protocol's version command",
  categories = { "default", "safe", "version" },
  ports = { 11211 },
  rarity = 3,

  run = function(host, port)
    if port.banner then return nil end -- memcached never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("version\r\n")
    local line = sock:receive_line(3000)
    sock:close()
    local version = line and line:match("^VERSION (%S+)$")
    if not version then return nil end
    return {
      name = "memcached", product = "memcached", version = version,
      cpe = "cpe:/a:memcached:memcached:" .. version,
    }
  end,
}
