-- MongoDB: the legacy OP_QUERY "isMaster" handshake every mongod and mongos answers, then
-- "buildInfo" (as OP_MSG from wire version 6, MongoDB 3.6, on) for the server version.

local OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013

-- The command document {<name>: 1}, with "$db" when sent as OP_MSG.
local function command(name, db)
  local body = string.pack("<Bzi4", 0x10, name, 1)
  if db then body = body .. string.pack("<Bzs4", 0x02, "$db", db .. "\0") end
  return string.pack("<i4", #body + 5) .. body .. "\0"
end

-- BSON element sizes after the name, for the types a reply can hold; nil: unknown type.
local fixed = { [0x01] = 8, [0x07] = 12, [0x08] = 1, [0x09] = 8, [0x0A] = 0, [0x10] = 4,
                [0x11] = 8, [0x12] = 8, [0x13] = 16, [0x06] = 0, [0x7F] = 0, [0xFF] = 0 }

-- The top-level fields of a BSON document: strings, numbers and booleans as Lua values,
-- sub-documents parsed the same way. nil when the bytes are not a well-formed document.
local function parse(doc, depth)
  if #doc < 5 or string.unpack("<i4", doc) ~= #doc or doc:byte(-1) ~= 0 then return nil end
  local fields, pos = {}, 5
  while pos < #doc do
    local kind = doc:byte(pos)
    local zero = doc:find("\0", pos + 1, true)
    if not zero then return nil end
    local key, at = doc:sub(pos + 1, zero - 1), zero + 1
    local value, size
    if fixed[kind] then
      size = fixed[kind]
      if kind == 0x01 then value = string.unpack("<d", doc, at)
      elseif kind == 0x08 then value = doc:byte(at) == 1
      elseif kind == 0x10 then value = string.unpack("<i4", doc, at)
      elseif kind == 0x12 then value = string.unpack("<i8", doc, at) end
    elseif kind == 0x02 or kind == 0x0D or kind == 0x0E then
      size = 4 + string.unpack("<i4", doc, at)
      value = doc:sub(at + 4, at + size - 2)
    elseif kind == 0x03 or kind == 0x04 then
      size = string.unpack("<i4", doc, at)
      if depth < 3 then value = parse(doc:sub(at, at + size - 1), depth + 1) end
    elseif kind == 0x05 then
      size = 5 + string.unpack("<i4", doc, at)
    else
      return nil
    end
    if size < 0 or at + size > #doc then return nil end
    fields[key] = value
    pos = at + size
  end
  return fields
end

-- Sends one message and reads the reply to it; the reply's document, parsed, or nil.
local function exchange(sock, id, opcode, body)
  sock:send(string.pack("<i4i4i4i4", 16 + #body, id, 0, opcode) .. body)
  local header = sock:receive_bytes(16, 3000)
  if not header then return nil end
  local length, _, reply_to, reply_op = string.unpack("<i4i4i4i4", header)
  if reply_to ~= id or length < 21 or length > 48000000 then return nil end
  if reply_op ~= OP_REPLY and reply_op ~= OP_MSG then return nil end
  local rest = sock:receive_bytes(length - 16, 3000)
  if not rest then return nil end
  local ok, doc = pcall(function()
    if reply_op == OP_REPLY then -- flags, cursor id, starting from, number returned, documents
      if string.unpack("<i4", rest, 17) ~= 1 then return nil end
      return parse(rest:sub(21, 20 + string.unpack("<i4", rest, 21)), 0)
    end
    if rest:byte(5) ~= 0 then return nil end -- flag bits, then a kind 0 (body) section
    return parse(rest:sub(6, 5 + string.unpack("<i4", rest, 6)), 0)
  end)
  return ok and doc or nil -- a malformed reply makes string.unpack fail: not MongoDB
end

return {
  name = "mongodb",
  description = "MongoDB servers: version from buildInfo, wire version and role from isMaster",
  categories = { "default", "safe", "version" },
  ports = { 27017, 27018, 27019 },
  rarity = 3,

  run = function(host, port)
    if port.banner then return nil end -- mongod never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local query = string.pack("<i4zi4i4", 0, "admin.$cmd", 0, -1)
    local hello = exchange(sock, 1, OP_QUERY, query .. command("isMaster"))
    if not hello or hello.ok == nil then sock:close() return nil end

    local result = { name = "mongodb", product = "MongoDB" }
    local notes = {}
    local wire = math.tointeger(hello.maxWireVersion)
    if wire then notes[#notes + 1] = "wire version " .. wire end
    if hello.msg == "isdbgrid" then notes[#notes + 1] = "mongos"
    elseif type(hello.setName) == "string" then
      notes[#notes + 1] = "replica set " .. hello.setName ..
        ((hello.ismaster or hello.isWritablePrimary) and " (primary)" or "")
    end

    local info
    if wire and wire >= 6 then
      info = exchange(sock, 2, OP_MSG, string.pack("<I4B", 0, 0) .. command("buildInfo", "admin"))
    else
      info = exchange(sock, 2, OP_QUERY, query .. command("buildInfo"))
    end
    sock:close()
    if info and type(info.version) == "string" and info.version:match("^%d+%.%d+[%w%.%-]*$") then
      result.version = info.version
      result.cpe = "cpe:/a:mongodb:mongodb:" .. info.version
      local env = info.buildEnvironment
      if type(env) == "table" and type(env.distmod) == "string" and env.distmod ~= "" then
        notes[#notes + 1] = "build " .. env.distmod
      end
      if type(info.modules) == "table" and info.modules["0"] == "enterprise" then
        result.product = "MongoDB Enterprise"
      end
    elseif info and info.codeName == "Unauthorized" then
      notes[#notes + 1] = "buildInfo needs authentication"
    end
    if #notes > 0 then result.extra = table.concat(notes, "; ") end
    return result
  end,
}
