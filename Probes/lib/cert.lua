-- TLS certificate helpers for TLS-aware probes: the names a certificate reveals and a one-line
-- summary, from the table sock:certificate() returns.
local cert = {}

-- The DNS names among the subject alternative names (IP addresses left out), or nil.
function cert.dns_names(c)
  local names = {}
  for _, san in ipairs(c and c.sans or {}) do
    local name = san:gsub("^DNS:", "")
    if name:match("%a") and not name:match("[:/@%s]") then names[#names + 1] = name end
  end
  return #names > 0 and names or nil
end

-- "TLSv1.3; subject CN=a; issuer CN=b; expires 2027-01-31" ("self-signed" when issuer = subject).
function cert.summary(c)
  if not c then return nil end
  local parts = {}
  if c.version then parts[#parts + 1] = c.version end
  if c.subject and c.subject ~= "" then parts[#parts + 1] = "subject " .. c.subject end
  if c.issuer and c.issuer ~= "" then
    parts[#parts + 1] = c.issuer == c.subject and "self-signed" or "issuer " .. c.issuer
  end
  if c.not_after then parts[#parts + 1] = "expires " .. c.not_after:sub(1, 10) end
  return table.concat(parts, "; ")
end

return cert
