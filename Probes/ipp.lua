-- IPP (RFC 8010/8011): a Get-Printer-Attributes request POSTed to "/" as application/ipp; any
-- IPP answer (even client-error-not-found from a CUPS without printers) names the service.
-- Product from the Server header (CUPS/2.4 IPP/2.1) or the printer's make and model. Over TLS
-- the service is still "ipp" (IPPS), never "https".
local http = require("http")

local function attribute(tag, name, value)
  return string.pack(">Bs2s2", tag, name, value)
end

-- The request: IPP 2.0, operation 0x000B, request id 0x43415254 ("CART").
local function request(uri)
  return "\2\0" .. string.pack(">I2I4", 0x000B, 0x43415254) .. "\1" ..
    attribute(0x47, "attributes-charset", "utf-8") ..
    attribute(0x48, "attributes-natural-language", "en") ..
    attribute(0x45, "printer-uri", uri) ..
    attribute(0x44, "requested-attributes", "printer-make-and-model") ..
    attribute(0x44, "", "printer-info") ..
    attribute(0x44, "", "ipp-versions-supported") .. "\3"
end

-- The first values of the text attributes in an IPP message, by name (bounded walk).
local function attributes(body)
  local found, pos, name = {}, 10, nil
  for _ = 1, 200 do
    local tag = body:byte(pos)
    if not tag or tag == 0x03 then break end
    if tag < 0x10 then
      pos = pos + 1 -- a group delimiter
    else
      if pos + 4 > #body then break end
      local name_length = string.unpack(">I2", body, pos + 1)
      local new_name = body:sub(pos + 3, pos + 2 + name_length)
      local value_pos = pos + 3 + name_length
      if value_pos + 1 > #body then break end
      local value_length = string.unpack(">I2", body, value_pos)
      local value = body:sub(value_pos + 2, value_pos + 1 + value_length)
      if name_length > 0 then name = new_name end
      if name and not found[name] and tag >= 0x40 then found[name] = value end
      pos = value_pos + 2 + value_length
    end
  end
  return found
end

return {
  name = "ipp",
  description = "IPP printers and print servers (CUPS): product, version, make and model",
  categories = { "default", "safe", "version" },
  ports = { 631 },
  rarity = 8, -- on any other port the http probe names it (a Server, Via or X-Squid-Error header)
  tls = true, -- IPPS: the same request over TLS

  run = function(host, port)
    if port.banner then return nil end
    local authority = http.host_header(host) .. ":" .. port.number
    local r = http.request(host, port, { method = "POST", path = "/", version = "1.1",
      headers = { "Content-Type: application/ipp" },
      body = request((port.tls and "ipps://" or "ipp://") .. authority .. "/") })
    if not r then return nil end
    local body = r.body
    local major, status, id = #body >= 8 and body:byte(1), #body >= 8 and string.unpack(">I2", body, 3),
                              #body >= 8 and string.unpack(">I4", body, 5)
    local ipp_type = (r.headers["content-type"] or ""):find("application/ipp", 1, true)
    if not (ipp_type and major and major >= 1 and major <= 2 and id == 0x43415254) then return nil end

    local result = { name = "ipp", device_type = "printer", extra = string.format("IPP %d.%d; status 0x%04x", major, body:byte(2), status) }
    local server = r.headers["server"] or ""
    local cups = server:match("^CUPS/([%d%.]+)")
    local found = attributes(body)
    if cups then
      result.product, result.version, result.device_type = "CUPS", cups, "print server"
      result.cpe = "cpe:/a:openprinting:cups:" .. cups
    elseif found["printer-make-and-model"] then
      result.product = found["printer-make-and-model"]:sub(1, 80)
    elseif server ~= "" then
      result.product = server:match("^([%w%-%._]+)")
    end
    if found["printer-info"] then result.extra = result.extra .. "; " .. found["printer-info"]:sub(1, 80) end
    if status == 0x0406 then result.extra = result.extra .. "; no default printer" end
    return result
  end,
}
