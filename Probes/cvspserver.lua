-- CVS pserver: the client sends an authentication request (the CVS client/server protocol,
-- "BEGIN AUTH REQUEST" ... "END AUTH REQUEST"); a pserver answers "I LOVE YOU", "I HATE YOU",
-- or an "E ..."/"error ..." line naming what is wrong; CVS itself aborts with "cvs [pserver
-- aborted]: <root>: no such repository". We send a repository and a user that cannot exist.
return {
  name = "cvspserver",
  description = "CVS pserver: the answer to an authentication request for a user that does not exist",
  categories = { "default", "safe", "version" },
  ports = { 2401 },
  rarity = 8,

  run = function(host, port)
    if port.banner then return nil end -- the client speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("BEGIN AUTH REQUEST\n/cartograph-probe\ncartograph-probe\nA\nEND AUTH REQUEST\n")
    local lines = {}
    for _ = 1, 5 do
      local line = sock:receive_line(3000)
      if not line then break end
      lines[#lines + 1] = line:sub(1, 200)
      if line:match("^I HATE YOU") or line:match("^I LOVE YOU") or line:match("^error ")
         or line:match("^cvs %[pserver aborted%]") then break end
    end
    sock:close()
    local last = lines[#lines] or ""
    local first = lines[1] or ""
    -- A bare "error ..." line is not enough: other line protocols answer so too.
    if not (last:match("^I HATE YOU") or last:match("^I LOVE YOU") or last:match("^cvs %[pserver aborted%]: ")
            or (first:match("^E ") and last:match("^error %d* "))) then
      return nil
    end
    local result = { name = "cvspserver", product = "CVS pserver", cpe = "cpe:/a:nongnu:cvs" }
    local notes = {}
    for _, line in ipairs(lines) do notes[#notes + 1] = line:gsub("[^%g ]", "") end
    result.extra = table.concat(notes, " | "):sub(1, 160)
    return result
  end,
}
