-- gRPC over cleartext HTTP/2 (h2c with prior knowledge, RFC 9113; the gRPC over HTTP/2
-- protocol): the connection preface, then a call of grpc.health.v1.Health/Check with an empty
-- request. A gRPC server answers ":status 200" and ends the stream with trailers (a HEADERS
-- frame carrying END_STREAM: grpc-status), which plain HTTP/2 servers do not; an HTTP/2 server
-- that is not gRPC is named http. The request headers are HPACK literals without Huffman coding
-- (RFC 7541), so no table is needed; of the answer only the indexed ":status" is read.
local function frame(kind, flags, stream, payload)
  return string.pack(">I3BBI4", #payload, kind, flags, stream) .. payload
end

local function literal(index, value) -- literal header field without indexing, indexed name
  local name = index < 15 and string.char(index) or string.char(0x0f, index - 15)
  return name .. string.char(#value) .. value
end

local statuses = { [0x88] = 200, [0x89] = 204, [0x8a] = 206, [0x8b] = 304, [0x8c] = 400, [0x8d] = 404, [0x8e] = 500 }

return {
  name = "grpc",
  description = "gRPC servers (cleartext HTTP/2): the answer to a health check call",
  categories = { "default", "safe", "discovery" },
  ports = { 50051 },
  rarity = 8, -- off its port: a gRPC server closes on HTTP/1, so the map says what answered

  run = function(host, port)
    if port.banner then return nil end
    local sock = socket.connect(host, port)
    if not sock then return nil end
    local authority = (host.name or (host.family == "ipv6" and "[" .. host.address .. "]" or host.address)) .. ":" .. port.number
    local block = "\x83\x86" .. literal(4, "/grpc.health.v1.Health/Check") .. literal(1, authority) ..
                  literal(31, "application/grpc") .. "\0\2te\8trailers"
    sock:send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" .. frame(4, 0, 0, "") .. frame(1, 4, 1, block) ..
              frame(0, 1, 1, "\0\0\0\0\0"))
    local data, h2, status, trailers, health = "", false, nil, false, nil
    for _ = 1, 16 do
      local chunk = sock:receive(2000)
      if not chunk then break end
      data = (data .. chunk):sub(1, 65536)
      -- Walk the frames received so far (again from the start: at most 64 KiB, 64 frames).
      local pos, done = 1, false
      h2, status, trailers, health = false, nil, false, nil
      for _ = 1, 64 do
        if pos + 8 > #data then break end
        local length, kind, flags, stream = string.unpack(">I3BBI4", data, pos)
        if pos + 8 + length > #data then break end
        local payload = data:sub(pos + 9, pos + 8 + length)
        if pos == 1 then h2 = kind == 4 end -- a server's first frame is SETTINGS
        if not h2 then break end
        local ours, ends = stream & 0x7fffffff == 1, flags & 0x01 ~= 0
        if ours and kind == 1 then -- HEADERS: the response's, then (ending the stream) trailers
          local skip = 1
          if flags & 0x08 ~= 0 then skip = skip + 1 + (payload:byte(1) or 0) end -- PADDED
          if flags & 0x20 ~= 0 then skip = skip + 5 end -- PRIORITY
          if status == nil then status = statuses[payload:byte(skip)] or "other" end
          trailers = trailers or ends
        elseif ours and kind == 0 and #payload >= 7 and payload:sub(1, 6) == "\0\0\0\0\2\8" then
          health = payload:byte(7) -- HealthCheckResponse.status, field 1 (varint)
        end
        done = done or (ours and (ends or kind == 3)) or kind == 7 -- END_STREAM, RST_STREAM, GOAWAY
        pos = pos + 9 + length
      end
      if not h2 or done then break end
    end
    sock:close()
    if not h2 then return nil end
    if status == 200 and trailers then
      local states = { [0] = "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" }
      return { name = "grpc", extra = "gRPC over cleartext HTTP/2; health " ..
               (health and (states[health] or tostring(health)) or "service not offered (trailers only)") }
    end
    return { name = "http", extra = "HTTP/2 cleartext (prior knowledge), not gRPC" .. (type(status) == "number" and ("; status " .. status) or "") }
  end,
}
