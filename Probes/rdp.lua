-- RDP: an X.224 Connection Request carrying an RDP Negotiation Request (MS-RDPBCGR 2.2.1.1);
-- the Connection Confirm's negotiation response names the security protocol the server picked.

local protocols = { [0] = "standard RDP security", [1] = "SSL", [2] = "CredSSP (NLA)",
                    [4] = "RDSTLS", [8] = "CredSSP with Early User Authorization" }
local failures = { [1] = "SSL required by server", [2] = "SSL not allowed by server",
                   [3] = "SSL certificate not on server", [4] = "inconsistent flags",
                   [5] = "CredSSP required by server", [6] = "SSL with user auth required by server" }

return {
  name = "rdp",
  description = "RDP servers: the security protocol chosen in the X.224 negotiation",
  categories = { "default", "safe", "version" },
  ports = { 3389 },
  rarity = 3,

  run = function(host, port)
    if port.banner then return nil end -- an RDP server never speaks first
    local sock = socket.connect(host, port)
    if not sock then return nil end
    -- TPKT (version 3, length 19), X.224 CR TPDU (length indicator 14, code 0xE0, refs 0,
    -- class 0), RDP_NEG_REQ (type 1, length 8) offering TLS and CredSSP.
    sock:send(string.pack(">BBI2", 3, 0, 19) .. string.pack(">BBI2I2B", 14, 0xE0, 0, 0, 0) ..
              string.pack("<BBI2I4", 1, 0, 8, 1 | 2))
    local tpkt = sock:receive_bytes(4, 3000)
    if not tpkt then sock:close() return nil end
    local version, reserved, length = string.unpack(">BBI2", tpkt)
    if version ~= 3 or reserved ~= 0 or length < 11 or length > 512 then sock:close() return nil end
    local body = sock:receive_bytes(length - 4, 3000)
    sock:close()
    -- X.224 Connection Confirm: length indicator, code 0xD0, dst-ref, src-ref, class 0.
    if not body or body:byte(1) ~= length - 5 or body:byte(2) ~= 0xD0 or body:byte(7) & 0xF0 ~= 0 then
      return nil
    end

    local result = { name = "rdp" }
    if #body == 7 then -- a bare Connection Confirm
      result.extra = "standard RDP security (no negotiation response: an older server)"
      return result
    end
    if #body < 15 then return nil end -- X.224 parameters of some other ISO transport service
    local kind, flags, size, value = string.unpack("<BBI2I4", body, 8)
    if size ~= 8 then return nil end
    if kind == 2 then -- RDP_NEG_RSP
      result.extra = "security: " .. (protocols[value] or string.format("protocol 0x%x", value))
      -- The graphics pipeline, restricted admin and redirected authentication flags, and
      -- CredSSP, are Microsoft's server's features; other servers (xrdp...) claim none of them.
      if flags & 0x1A ~= 0 or value == 2 or value == 8 then
        result.product = "Microsoft Terminal Services"
        result.os = "Windows"
        result.cpe = "cpe:/o:microsoft:windows"
      elseif value == 1 and flags & 0xFE == 0 then
        -- TLS picked over CredSSP, and none of the newer flags: xrdp answers so (its
        -- xrdp_iso.c sets only EXTENDED_CLIENT_DATA_SUPPORTED), as Windows 7/2008 R2 set to SSL do.
        result.extra = result.extra .. "; no CredSSP, no graphics pipeline (xrdp, or an older Windows)"
      end
    elseif kind == 3 then -- RDP_NEG_FAILURE
      result.extra = "negotiation failed: " .. (failures[value] or string.format("code %d", value))
      if value == 5 then -- only Microsoft's server requires CredSSP
        result.product, result.os, result.cpe = "Microsoft Terminal Services", "Windows", "cpe:/o:microsoft:windows"
      end
    else
      return nil
    end
    return result
  end,
}
