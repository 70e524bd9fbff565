-- MQTT brokers: an MQTT 3.1.1 CONNECT is answered with a CONNACK (0x20 0x02 flags code). When
-- the connection is accepted, the retained $SYS/broker/version (Mosquitto) names the broker.
local cert = require("cert")

local return_codes = {
  [0] = "accepted", [1] = "unacceptable protocol version", [2] = "identifier rejected",
  [3] = "server unavailable", [4] = "bad user name or password", [5] = "not authorized",
}

local function utf8_field(s) return string.pack(">s2", s) end

-- One control packet: first byte, then the remaining length (1-4 bytes, 7 bits each).
local function receive_packet(sock, timeout)
  local first = sock:receive_bytes(1, timeout)
  if not first then return nil end
  local length, shift = 0, 0
  for _ = 1, 4 do
    local b = sock:receive_bytes(1, timeout)
    if not b then return nil end
    b = b:byte()
    length = length | ((b & 0x7f) << shift)
    shift = shift + 7
    if b < 0x80 then break end
  end
  if length > 4096 then return nil end
  local body = length > 0 and sock:receive_bytes(length, timeout) or ""
  if not body then return nil end
  return first:byte(), body
end

-- The broker's version from $SYS, read with a QoS 0 subscription (nothing is published).
local function sys_version(sock)
  local topic = "$SYS/broker/version"
  local subscribe = string.pack(">I2", 1) .. utf8_field(topic) .. "\0"
  sock:send("\x82" .. string.char(#subscribe) .. subscribe)
  for _ = 1, 4 do
    local kind, body = receive_packet(sock, 2000)
    if not kind then return nil end
    if kind & 0xf0 == 0x30 and #body >= 2 then -- PUBLISH, QoS 0: topic then payload
      local name, pos = string.unpack(">s2", body)
      if name == topic then return body:sub(pos) end
    end
  end
  return nil
end

return {
  name = "mqtt",
  description = "MQTT brokers: whether anonymous clients are accepted, and the broker's version",
  categories = { "default", "safe", "version" },
  ports = { 1883, 8883 },
  rarity = 4,
  tls = true, -- MQTT over TLS, 8883

  run = function(host, port)
    if port.banner then return nil end -- a broker never speaks first
    local sock = socket.connect(host, port, { tls = port.tls })
    if not sock then return nil end
    local client_id = string.format("cartograph-%06x", math.random(0, 0xffffff))
    -- "MQTT", level 4 (3.1.1), flags: clean session, keep alive 60 s; payload: client id
    local connect = utf8_field("MQTT") .. "\4\2\0\60" .. utf8_field(client_id)
    sock:send("\x10" .. string.char(#connect) .. connect)
    local connack = sock:receive_bytes(4, 3000)
    if not connack or connack:sub(1, 2) ~= "\x20\x02" or connack:byte(3) > 1 then
      sock:close()
      return nil
    end
    local code = connack:byte(4)
    local result = { name = "mqtt", extra = "MQTT 3.1.1; CONNACK " .. code .. " (" ..
      (return_codes[code] or "unknown") .. ")" }
    if port.tls then result.hostnames = cert.dns_names(sock:certificate()) end
    if code == 0 then
      local version = sys_version(sock)
      local mosquitto = version and version:match("^mosquitto version (%S+)")
      if mosquitto then
        result.product, result.version = "Mosquitto", mosquitto
        result.cpe = "cpe:/a:eclipse:mosquitto:" .. mosquitto
      elseif version then
        result.extra = result.extra .. "; " .. version:gsub("[^%g ]", "."):sub(1, 80)
      end
      sock:send("\xe0\0") -- DISCONNECT
    end
    sock:close()
    return result
  end,
}
