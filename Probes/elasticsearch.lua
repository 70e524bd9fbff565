-- Elasticsearch: GET / answers with JSON naming the node, the cluster and "version":{"number":...}
-- under the tagline "You Know, for Search". A secured node answers 401 with a security_exception;
-- the transport port (9300) answers an HTTP request with "This is not an HTTP port".

local text = require("text")

local function field(json, key)
  return json:match('"' .. key .. '"%s*:%s*"([^"]*)"')
end

return {
  name = "elasticsearch",
  description = "Elasticsearch nodes: version, cluster and node name from the root endpoint",
  categories = { "default", "safe", "version" },
  ports = { 9200, 9300 },
  rarity = 1,
  tls = true, -- 8.x serves HTTPS on 9200 by default

  run = function(host, port)
    if port.banner then return nil end -- an HTTP server never speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    local name = host.name or (host.family == "ipv6" and "[" .. host.address .. "]" or host.address)
    sock:send("GET / HTTP/1.0\r\nHost: " .. name .. "\r\nUser-Agent: cartograph\r\nAccept: application/json\r\n\r\n")
    local status, _, partial = sock:receive_line(3000)
    if (status or partial) == "This is not an HTTP port" then -- sent without a newline, then closed
      sock:close()
      return { name = "elasticsearch", product = "Elasticsearch", extra = "transport port (node-to-node protocol)" }
    end
    local code = status and status:match("^HTTP/%d%.%d (%d%d%d)")
    if not code then sock:close() return nil end

    local headers, length = {}, nil
    for _ = 1, 50 do
      local line = sock:receive_line(3000)
      if not line or line == "" then break end
      local key, value = text.header(line)
      if key then headers[key:lower()] = value end
    end
    length = tonumber(headers["content-length"] or "")
    local body
    if length then
      body = sock:receive_bytes(math.min(length, 16384), 3000) or ""
    else
      local parts = {}
      for _ = 1, 16 do
        local data = sock:receive(2000)
        if not data then break end
        parts[#parts + 1] = data
      end
      body = table.concat(parts)
    end
    sock:close()

    local product = headers["x-elastic-product"] == "Elasticsearch"
    if code == "401" and (product or body:find('"security_exception"', 1, true)) then
      return { name = "elasticsearch", product = "Elasticsearch", extra = "authentication required" }
    end
    local version_object = body:match('"version"%s*:%s*(%b{})')
    if not (body:find('"tagline"%s*:%s*"You Know, for Search"') and version_object) then return nil end

    local result = { name = "elasticsearch", product = "Elasticsearch" }
    local number = field(version_object, "number")
    if number and number:match("^%d+%.%d+[%w%.%-]*$") then
      result.version = number
      result.cpe = "cpe:/a:elastic:elasticsearch:" .. number
    end
    local notes = {}
    local cluster, node = field(body, "cluster_name"), field(body, "name")
    if cluster then notes[#notes + 1] = "cluster " .. cluster end
    if node then notes[#notes + 1] = "node " .. node end
    local lucene, flavor = field(version_object, "lucene_version"), field(version_object, "build_type")
    if lucene then notes[#notes + 1] = "Lucene " .. lucene end
    if flavor then notes[#notes + 1] = flavor .. " build" end
    if #notes > 0 then result.extra = table.concat(notes, "; ") end
    return result
  end,
}
