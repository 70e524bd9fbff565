-- HTTP/1.x client for probes: one request, one bounded response. Every read is capped (60
-- header lines of 1 KiB, a body of at most `limit` bytes, 16 receives) so that a hostile or
-- endless server costs a few seconds at most.
local text = require("text")

local http = {}

-- The Host header for a target: its name, else its address ([...] for IPv6).
function http.host_header(host)
  return host.name or (host.family == "ipv6" and "[" .. host.address .. "]" or host.address)
end

-- The request text. opts: method (GET), path (/), version ("1.0"), headers (a list of
-- "Key: value" lines), body.
function http.format(host, opts)
  local lines = { (opts.method or "GET") .. " " .. (opts.path or "/") .. " HTTP/" .. (opts.version or "1.0"),
                  "Host: " .. (opts.host or http.host_header(host)), "User-Agent: cartograph",
                  "Accept: */*" }
  for _, h in ipairs(opts.headers or {}) do lines[#lines + 1] = h end
  if opts.body then lines[#lines + 1] = "Content-Length: " .. #opts.body end
  lines[#lines + 1] = "Connection: close"
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (opts.body or "")
end

-- Opens a connection (over TLS when port.tls) and sends the request; the socket, or nil.
function http.send(host, port, opts)
  local sock = socket.connect(host, port, { tls = port.tls, sni = host.name, timeout = opts.connect_timeout })
  if not sock then return nil end
  if not sock:send(http.format(host, opts)) then
    sock:close()
    return nil
  end
  return sock
end

-- A chunked body, decoded as far as it goes (a cut or malformed tail ends it).
local function dechunk(raw)
  local parts, pos = {}, 1
  for _ = 1, 64 do
    local size_end = raw:find("\r\n", pos, true)
    if not size_end then break end
    local size = tonumber(raw:sub(pos, size_end - 1):match("^%x+") or "", 16)
    if not size or size == 0 then break end
    parts[#parts + 1] = raw:sub(size_end + 2, size_end + 1 + size)
    pos = size_end + 2 + size + 2
  end
  return table.concat(parts)
end

-- Reads one response from sock and closes it. Returns nil when the first line is not an HTTP
-- status line, else { code = 404, version = "1.1", reason = "Not Found", status = line,
-- headers = { lowercased name = first value }, names = { names as sent, in order },
-- body = up to limit (16384) bytes }.
function http.read(sock, limit, timeout)
  limit = limit or 16384
  local status = sock:receive_line(timeout or 5000)
  local version, code, reason = (status or ""):sub(1, 512):match("^HTTP/(%d%.%d) (%d%d%d) ?(.*)")
  if not code then
    sock:close()
    return nil, status
  end
  local r = { code = tonumber(code), version = version, reason = reason, status = status:sub(1, 512),
              headers = {}, names = {} }
  for _ = 1, 60 do
    local line = sock:receive_line(3000)
    if not line or line == "" then break end
    local key, value = text.header(line)
    if key then
      local lower = key:lower()
      if #r.names < 60 then r.names[#r.names + 1] = key end
      if not r.headers[lower] then r.headers[lower] = value end
    end
  end
  local length = tonumber(r.headers["content-length"] or "")
  local parts, size = {}, 0
  if length then limit = math.min(limit, length) end
  for _ = 1, 16 do
    if size >= limit then break end
    local data = sock:receive(2000)
    if not data then break end
    parts[#parts + 1] = data
    size = size + #data
  end
  sock:close()
  r.body = table.concat(parts):sub(1, limit)
  if (r.headers["transfer-encoding"] or ""):lower():find("chunked", 1, true) then r.body = dechunk(r.body) end
  return r
end

-- One request and its response (see http.read), or nil.
function http.request(host, port, opts)
  opts = opts or {}
  local sock = http.send(host, port, opts)
  if not sock then return nil end
  return http.read(sock, opts.limit, opts.timeout)
end

-- "nginx/1.22.1 (Debian)" -> "nginx", "1.22.1", "Debian"; the first product token of a
-- Server or Via value.
function http.product(server)
  if not server then return nil end
  server = server:sub(1, 256)
  local product, version = server:match("^([%w%-%._]+)/([%w%.%-~+]+)")
  product = product or server:match("^([%w%-%._]+)")
  local os = server:match("%((%a+)%)")
  return product, version, os
end

-- What an HTTP server answers to bytes that are not HTTP: never a gateway protocol's answer.
local parser_errors = { ["400"] = true, ["405"] = true, ["408"] = true, ["411"] = true, ["413"] = true,
                        ["414"] = true, ["431"] = true, ["501"] = true, ["505"] = true }

-- The status code of an application's first line behind a gateway protocol (uwsgi, SCGI): a
-- status line or a CGI "Status:" header, and not an HTTP server's parser error; or nil.
function http.gateway_status(line)
  line = (line or ""):sub(1, 200)
  local code = line:match("^HTTP/%d%.%d (%d%d%d)") or line:match("^Status: (%d%d%d)")
  if not code or parser_errors[code] then return nil end
  return code
end

-- The value of a "key": "value" (or "key": number) in a JSON text, or nil.
function http.json_field(json, key)
  local s = json:sub(1, 65536)
  local at = s:find('"' .. key .. '"', 1, true)
  if not at then return nil end
  return s:match('^"[^"]*"%s*:%s*"([^"]*)"', at) or s:match('^"[^"]*"%s*:%s*([%d%.%-]+)', at)
end

return http
