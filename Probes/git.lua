-- git daemon (git's pack protocol, gitprotocol-pack): the client asks for a repository in one
-- pkt-line, "git-upload-pack /path\0host=name\0"; for a repository it does not serve, git's
-- daemon answers an "ERR access denied or repository not exported" pkt-line and hangs up.
return {
  name = "git",
  description = "git daemons: the git protocol's answer to a request for a repository that is not there",
  categories = { "default", "safe", "version" },
  ports = { 9418 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- the client speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local request = "git-upload-pack /cartograph-probe.git\0host=" .. host.address .. "\0"
    sock:send(string.format("%04x", #request + 4) .. request)
    local head = sock:receive_bytes(4, 3000)
    if not head or not head:match("^%x%x%x%x$") then sock:close() return nil end
    local length = tonumber(head, 16)
    if length < 4 or length > 65520 then sock:close() return nil end
    local line = length > 4 and sock:receive_bytes(length - 4, 3000) or ""
    sock:close()
    if not line then return nil end
    local result = { name = "git", extra = "git protocol" }
    if line:match("^ERR ") then
      result.extra = line:sub(1, 120):gsub("[^%g ]", "")
      if line:find("access denied or repository not exported", 1, true) then result.product = "git daemon" end
      return result
    end
    -- A served repository: the first reference line, with capabilities after a NUL.
    if line:match("^%x+ ") or line:match("^version %d") then
      local agent = line:match("agent=git/([%w%.%-]+)")
      if agent then result.product, result.version = "git daemon", agent end
      return result
    end
    return nil
  end,
}
