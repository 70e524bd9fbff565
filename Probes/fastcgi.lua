-- FastCGI (the FastCGI 1.0 specification): an FCGI_GET_VALUES management record is answered by
-- FCGI_GET_VALUES_RESULT with the application's limits. A request for a script that does not
-- exist then shows who answers: PHP-FPM writes "Primary script unknown" on FCGI_STDERR.
local function record(kind, id, content)
  return string.pack(">BBI2I2BB", 1, kind, id, #content, 0, 0) .. content
end

local function pairs_of(list)
  local parts = {}
  for i = 1, #list, 2 do parts[#parts + 1] = string.char(#list[i], #list[i + 1]) .. list[i] .. list[i + 1] end
  return table.concat(parts)
end

-- The records of a reply, as {type, content}, until FCGI_END_REQUEST or the data ends.
local function records(data)
  local list, pos = {}, 1
  for _ = 1, 64 do
    if pos + 7 > #data then break end
    local version, kind, _, length, padding = string.unpack(">BBI2I2B", data, pos)
    if version ~= 1 then return nil end
    list[#list + 1] = { kind = kind, content = data:sub(pos + 8, pos + 7 + length),
                        whole = #data >= pos + 7 + length + padding }
    pos = pos + 8 + length + padding
    if kind == 3 then break end
  end
  return list
end

-- Sends request and reads records until one of type `last` has come whole (or 16 KiB).
local function exchange(host, port, request, last)
  local sock = socket.connect(host, port)
  if not sock then return nil end
  sock:send(request)
  local data = ""
  for _ = 1, 8 do
    local chunk = sock:receive(2000)
    if not chunk then break end
    data = data .. chunk
    local list = records(data)
    if not list or #data > 16384 then break end
    local final = list[#list]
    if final and final.kind == last and final.whole then break end
  end
  sock:close()
  return data:sub(1, 16384)
end

return {
  name = "fastcgi",
  description = "FastCGI applications (PHP-FPM, ...): the answer to FCGI_GET_VALUES, and who answers",
  categories = { "default", "safe", "version" },
  ports = { 9000 },
  rarity = 8, -- niche: off its own port it is tried only at a higher intensity

  run = function(host, port)
    if port.banner then return nil end
    local reply = exchange(host, port, record(9, 0, pairs_of({ "FCGI_MAX_CONNS", "", "FCGI_MAX_REQS", "", "FCGI_MPXS_CONNS", "" })), 10)
    local list = reply and records(reply)
    if not (list and list[1] and list[1].kind == 10) then return nil end
    local values, content, pos = {}, list[1].content, 1
    for _ = 1, 8 do
      local nlen, vlen = content:byte(pos, pos + 1)
      if not vlen or nlen > 127 or vlen > 127 then break end
      values[#values + 1] = content:sub(pos + 2, pos + 1 + nlen) .. "=" .. content:sub(pos + 2 + nlen, pos + 1 + nlen + vlen)
      pos = pos + 2 + nlen + vlen
    end
    local result = { name = "fastcgi", extra = #values > 0 and table.concat(values, " ") or "FCGI_GET_VALUES answered" }

    local params = pairs_of({ "SCRIPT_FILENAME", "/cartograph-no-such-script.php", "SCRIPT_NAME", "/cartograph-no-such-script.php",
                              "REQUEST_METHOD", "GET", "REQUEST_URI", "/cartograph-no-such-script.php",
                              "SERVER_PROTOCOL", "HTTP/1.1", "GATEWAY_INTERFACE", "CGI/1.1" })
    local answer = exchange(host, port, record(1, 1, "\0\1\0\0\0\0\0\0") .. record(4, 1, params) .. record(4, 1, "") .. record(5, 1, ""), 3)
    for _, r in ipairs(answer and records(answer) or {}) do
      if r.kind == 7 and r.content:find("Primary script unknown", 1, true) then
        result.product, result.cpe = "PHP-FPM", "cpe:/a:php:php"
      elseif r.kind == 6 then
        local php = r.content:sub(1, 2048):match("X%-Powered%-By: PHP/(%d+%.%d+[%.%d]*)")
        if php then result.product, result.version, result.cpe = "PHP-FPM", php, "cpe:/a:php:php:" .. php end
        local status = r.content:match("^Status: (%d%d%d)")
        if status then result.extra = result.extra .. "; a missing script: status " .. status end
      end
    end
    return result
  end,
}
