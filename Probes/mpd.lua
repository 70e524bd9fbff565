-- MPD (Music Player Daemon): the server greets with "OK MPD <protocol version>"; the protocol
-- version follows the daemon's release series.
local greeting = require("greeting")

return {
  name = "mpd",
  description = "Music Player Daemon: protocol version from its greeting",
  categories = { "default", "safe", "version" },
  ports = { 6600 },
  rarity = 7,

  run = function(host, port)
    local data, sock = greeting.read(host, port)
    if sock then sock:close() end
    local version = data and data:sub(1, 64):match("^OK MPD (%d+%.%d+%.?%d*)")
    if not version then return nil end
    return { name = "mpd", product = "Music Player Daemon", version = version,
             extra = "protocol " .. version, cpe = "cpe:/a:musicpd:music_player_daemon:" .. version }
  end,
}
