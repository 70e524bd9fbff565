-- Matrix homeservers: GET /_matrix/client/versions (the client-server API's one unauthenticated
-- call, a JSON object with "versions"), then GET /_matrix/federation/v1/version, which names
-- the server software ({"server": {"name": "Synapse", "version": "1.98.0"}}).
local text = require("text")

-- Reads one HTTP response with a Content-Length body (at most 64 KiB); status, headers, body.
local function response(sock)
  local head = sock:receive_until("\r\n\r\n", 3000)
  if not head then return nil end
  local status = tonumber(head:match("^HTTP/1%.[01] (%d%d%d)"))
  if not status then return nil end
  local headers = {}
  for line in head:sub(1, 8192):gmatch("[^\r\n]+") do
    local key, value = text.header(line)
    if key then headers[key:lower()] = value end
  end
  local length = tonumber(headers["content-length"] or "")
  local body = ""
  if length and length > 0 then body = sock:receive_bytes(math.min(length, 65536), 3000) or "" end
  return status, headers, body
end

local function get(sock, host, path)
  sock:send("GET " .. path .. " HTTP/1.1\r\nHost: " .. (host.name or host.address) ..
            "\r\nUser-Agent: cartograph\r\nAccept: application/json\r\nConnection: keep-alive\r\n\r\n")
  return response(sock)
end

return {
  name = "matrix",
  description = "Matrix homeservers: client API versions and the server software from the federation API",
  categories = { "default", "safe", "version" },
  ports = { 8008, 8448 },
  rarity = 8,
  tls = true, -- federation (8448) and most clients' endpoints are HTTPS

  run = function(host, port)
    if port.banner and not port.tls then return nil end -- HTTP: the client speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    local status, headers, body = get(sock, host, "/_matrix/client/versions")
    if status ~= 200 or not body:match('^%s*{') or not body:find('"versions"%s*:%s*%[') then
      sock:close()
      return nil
    end
    local versions = {}
    for version in (body:match('"versions"%s*:%s*%[([^%]]*)%]') or ""):gmatch('"([%w%.%-_]+)"') do
      versions[#versions + 1] = version
    end
    local shown = #versions > 4 and (versions[1] .. " to " .. versions[#versions] .. " (" .. #versions .. ")")
                  or table.concat(versions, " ")
    local result = { name = "matrix", extra = "client API " .. shown:sub(1, 120) }
    if port.tls then result.extra = result.extra .. "; over TLS" end
    local server = headers and headers["server"]
    if (headers["connection"] or ""):lower() ~= "close" then
      local fstatus, _, fbody = get(sock, host, "/_matrix/federation/v1/version")
      if fstatus == 200 and fbody then
        local block = fbody:match('"server"%s*:%s*(%b{})')
        if block then
          result.product = block:match('"name"%s*:%s*"([^"]+)"')
          result.version = block:match('"version"%s*:%s*"([^"]+)"')
        end
      end
    end
    sock:close()
    if not result.product and server then
      local product, version = server:match("^(Synapse)/([%w%.%-]+)")
      if product then result.product, result.version = product, version end
    end
    if result.product then
      result.product = result.product:sub(1, 60):gsub("[^%g ]", "")
      if result.version then result.version = result.version:sub(1, 40):gsub("[^%g ]", "") end
      if result.product == "Synapse" then
        result.cpe = "cpe:/a:matrix:synapse" .. (result.version and (":" .. result.version) or "")
      end
    end
    return result
  end,
}
