-- AMQP: the 0-9-1 protocol header "AMQP\0\0\9\1"; a broker answers with Connection.Start,
-- whose server-properties table names the product and version (RabbitMQ...), or, when it
-- speaks another version, with its own protocol header before closing.

-- Field tables (AMQP 0-9-1 4.2.5.5, with the type letters RabbitMQ and its errata use).
-- Each reader returns the value (nil for arrays and decimals, which are skipped) and the
-- position after it; malformed data makes string.unpack raise an error.
local read_value

local function read_table(data, pos)
  local size = string.unpack(">I4", data, pos)
  local stop, fields = pos + 4 + size, {}
  pos = pos + 4
  while pos < stop do
    local key
    key, pos = string.unpack(">s1", data, pos)
    fields[key], pos = read_value(data, data:sub(pos, pos), pos + 1)
  end
  return fields, stop
end

local fixed = { t = ">B", b = ">b", B = ">B", s = ">i2", u = ">I2", I = ">i4", i = ">I4",
                l = ">i8", L = ">i8", f = ">f", d = ">d", T = ">i8" }

read_value = function(data, kind, pos)
  if fixed[kind] then
    local value, next_pos = string.unpack(fixed[kind], data, pos)
    if kind == "t" then value = value ~= 0 end
    return value, next_pos
  elseif kind == "S" or kind == "x" then
    return string.unpack(">s4", data, pos)
  elseif kind == "F" then
    return read_table(data, pos)
  elseif kind == "A" then
    local size = string.unpack(">I4", data, pos)
    return nil, pos + 4 + size
  elseif kind == "D" then
    return nil, pos + 5
  elseif kind == "V" then
    return nil, pos
  end
  error("unknown field type")
end

return {
  name = "amqp",
  description = "AMQP brokers (RabbitMQ...): product, version and platform from Connection.Start",
  categories = { "default", "safe", "version" },
  ports = { 5672 },
  rarity = 3,

  run = function(host, port)
    if port.banner then return nil end -- an AMQP broker never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    sock:send("AMQP\0\0\9\1")
    local head = sock:receive_bytes(7, 3000)
    if not head then sock:close() return nil end

    if head:sub(1, 4) == "AMQP" then -- our version is not spoken here: the broker's instead
      local rest = sock:receive_bytes(1, 2000)
      sock:close()
      if not rest or head .. rest == "AMQP\0\0\9\1" then return nil end -- an echo, not a broker
      local id, a, b, c = (head:sub(5) .. rest):byte(1, 4)
      local version
      if id == 1 then -- the old format: class 1, instance 1, major, minor ("AMQP\1\1\8\0" is 0-8)
        version = (b == 8 and c == 0) and "0-8" or string.format("%d-%d", b, c)
      elseif a == 0 then -- 0-9-1 style: 0, 0, minor, revision
        version = string.format("0-%d-%d", b, c)
      else -- 1.0: protocol id (0 AMQP, 2 TLS, 3 SASL), major, minor, revision
        version = string.format("%d.%d.%d", a, b, c)
      end
      local layer = ({ [2] = " (TLS layer)", [3] = " (SASL layer)" })[id] or ""
      return { name = "amqp", extra = "broker speaks AMQP " .. version .. layer }
    end

    -- A method frame (type 1) on channel 0 carrying Connection.Start (class 10, method 10).
    local kind, channel, size = string.unpack(">BI2I4", head)
    if kind ~= 1 or channel ~= 0 or size < 8 or size > 65536 then sock:close() return nil end
    local payload = sock:receive_bytes(size + 1, 3000)
    sock:close()
    if not payload or payload:byte(-1) ~= 0xCE then return nil end
    local class, method, major, minor = string.unpack(">I2I2BB", payload)
    if class ~= 10 or method ~= 10 then return nil end

    local result = { name = "amqp", extra = string.format("AMQP %d-%d", major, minor) }
    local ok, properties, after = pcall(read_table, payload, 7)
    if not ok then return result end
    local notes = { result.extra }
    local product, version = properties.product, properties.version
    if type(product) == "string" then result.product = product end
    if type(version) == "string" then result.version = version end
    if product == "RabbitMQ" and result.version then
      result.cpe = "cpe:/a:vmware:rabbitmq:" .. result.version
    end
    if type(properties.platform) == "string" then notes[#notes + 1] = properties.platform end
    if type(properties.cluster_name) == "string" then
      notes[#notes + 1] = "cluster " .. properties.cluster_name
    end
    local mechanisms_ok, mechanisms = pcall(string.unpack, ">s4", payload, after)
    if mechanisms_ok and mechanisms ~= "" then notes[#notes + 1] = "auth " .. mechanisms end
    result.extra = table.concat(notes, "; ")
    return result
  end,
}
