-- ClickHouse's native protocol (port 9000): a client Hello as user "default" with no
-- password (ClickHouse's Connection/TCPHandler packet layout, protocol revision 54423); the
-- server's Hello names it with version, time zone and display name, or an Exception packet
-- (wrong password...) still proves ClickHouse by its "DB::Exception" name.
local CLIENT_REVISION = 54423

local function varint(n)
  local out = {}
  repeat
    local byte = n & 0x7f
    n = n >> 7
    out[#out + 1] = string.char(n > 0 and (byte | 0x80) or byte)
  until n == 0
  return table.concat(out)
end

local function str(s) return varint(#s) .. s end

-- Reads a varint at pos: value and next position (raises on truncated data).
local function read_varint(data, pos)
  local value, shift = 0, 0
  for _ = 1, 9 do
    local b = data:byte(pos)
    if not b then error("truncated") end
    value, pos, shift = value | ((b & 0x7f) << shift), pos + 1, shift + 7
    if b < 0x80 then return value, pos end
  end
  error("varint too long")
end

local function read_string(data, pos)
  local size
  size, pos = read_varint(data, pos)
  if size > 4096 or pos + size - 1 > #data then error("bad string") end
  return data:sub(pos, pos + size - 1), pos + size
end

local function parse(data)
  local kind, pos = read_varint(data, 1)
  if kind == 0 then
    local name, major, minor, revision, timezone, display, patch
    name, pos = read_string(data, pos)
    major, pos = read_varint(data, pos)
    minor, pos = read_varint(data, pos)
    revision, pos = read_varint(data, pos)
    -- Later fields come when both sides' revisions have them.
    local common = math.min(revision, CLIENT_REVISION)
    if common >= 54058 then timezone, pos = read_string(data, pos) end
    if common >= 54372 then display, pos = read_string(data, pos) end
    if common >= 54401 then patch = read_varint(data, pos) end
    local version = string.format("%d.%d", major, minor) .. (patch and ("." .. patch) or "")
    return { kind = "hello", name = name, version = version, revision = revision,
             timezone = timezone or "", display = display or "" }
  elseif kind == 2 then
    local code = string.unpack("<i4", data, pos)
    local name, message = read_string(data, pos + 4)
    message = read_string(data, message)
    return { kind = "exception", code = code, name = name, message = message }
  end
end

local reads = require("reads")
local PORTS = { 9000 }

return {
  name = "clickhouse",
  description = "ClickHouse (native protocol): version, time zone and display name from the server Hello",
  categories = { "default", "safe", "version" },
  ports = PORTS,
  rarity = 7,

  run = function(host, port)
    if port.banner then return nil end -- ClickHouse never speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    sock:send(varint(0) .. str("cartograph") .. varint(1) .. varint(0) .. varint(CLIENT_REVISION)
      .. str("") .. str("default") .. str(""))
    local data = sock:receive(reads.wait(port, PORTS))
    local all = data or ""
    for _ = 1, 4 do -- the packet may come in pieces
      if not data or #all > 8192 or pcall(parse, all) then break end
      data = sock:receive(500)
      all = all .. (data or "")
    end
    sock:close()
    local ok, packet = pcall(parse, all:sub(1, 8192))
    if not ok or not packet then return nil end
    if packet.kind == "exception" then
      if not packet.name:match("^DB::") then return nil end
      return { name = "clickhouse", product = "ClickHouse",
               extra = string.format("%s %d: %s", packet.name, packet.code, packet.message:gsub("[^%g ]", ""):sub(1, 100)) }
    end
    if packet.name ~= "ClickHouse" and not packet.name:match("^ClickHouse") then return nil end
    local result = { name = "clickhouse", product = "ClickHouse", version = packet.version,
                     cpe = "cpe:/a:clickhouse:clickhouse:" .. packet.version }
    local notes = { "revision " .. packet.revision }
    if packet.timezone ~= "" then notes[#notes + 1] = "time zone " .. packet.timezone:sub(1, 40) end
    if packet.display ~= "" then
      notes[#notes + 1] = "display name " .. packet.display:sub(1, 60)
      if packet.display:match("^[%w%.%-]+$") then result.hostnames = { packet.display } end
    end
    result.extra = table.concat(notes, "; ")
    return result
  end,
  tls = true,
}
