-- rsync daemon: the server speaks first with "@RSYNCD: <protocol>[.<sub>] [checksums]"; after our
-- own greeting, "#list" lists the public modules (the daemon's side of rsync's protocol).
local text = require("text")

return {
  name = "rsync",
  description = "rsync daemons: protocol version and the modules listed",
  categories = { "default", "safe", "version" },
  ports = { 873 },
  rarity = 4,

  run = function(host, port)
    if port.silent then return nil end
    local banner = port.banner
    local sock
    if not banner then
      sock = socket.connect(host, port)
      if not sock then return nil end
      banner = sock:receive_line(3000)
    end
    local protocol = (banner or ""):match("^@RSYNCD: (%d+%.?%d*)")
    if not protocol then
      if sock then sock:close() end
      return nil
    end
    local result = { name = "rsync", product = "rsync", extra = "protocol " .. protocol }
    -- The protocol number follows rsync's releases: 32 is 3.4, 31 3.1-3.3, 30 3.0.
    local major = tonumber(protocol:match("^%d+"))
    if major == 32 then result.extra = result.extra .. " (rsync 3.4 or later)"
    elseif major == 31 then result.extra = result.extra .. " (rsync 3.1 to 3.3)"
    elseif major == 30 then result.extra = result.extra .. " (rsync 3.0)" end

    if not sock then
      sock = socket.connect(host, port)
      if not sock or not sock:receive_line(3000) then return result end
    end
    -- Protocol 30 and later want the digests we accept: the server's own list.
    local digests = (banner or ""):match("^@RSYNCD: [%d%.]+ ([%w ]+)") or ""
    sock:send("@RSYNCD: " .. protocol .. (digests ~= "" and (" " .. digests:sub(1, 80)) or "") .. "\n#list\n")
    local modules = {}
    for _ = 1, 50 do
      local line = sock:receive_line(2000)
      if not line or line:match("^@RSYNCD: EXIT") or line:match("^@ERROR") then break end
      local module = line:match("^([%w%._%-]+)")
      if module then modules[#modules + 1] = text.trim((line:sub(1, 120):gsub("[^%g]+", " "))) end
    end
    sock:close()
    if #modules > 0 then result.extra = result.extra .. "; modules: " .. table.concat(modules, ", "):sub(1, 200) end
    return result
  end,
}
