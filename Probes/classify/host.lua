-- Host classification: what kind of device each host is, and its operating system family.
--
-- Cartograph calls the function this file returns once per host, after identification, with
-- what the map knows of the host:
--   address, family ("ipv4" | "ipv6"), ttl (TTL of the first sweep reply, raw engine only),
--   hops (how far away: from a traceroute that reached it, else from the TTL), forwards (the
--   addresses this host forwarded our probes towards: it was a traceroute hop), hostnames,
--   discovery, neighbour_off_link (it answered with no router in between, yet its address is on
--   none of our links: an interface of a router next to us), services = { {port, protocol, name, product, version, extra_info, device_type,
--   os = {...}, tls, cpe = {...}, method}, ... }.
-- It returns
--   { device_type = {type = WORD, confidence = 0-100, evidence = {...}},
--     os = {name = FAMILY, confidence = 0-100, evidence = {...}} }
-- where WORD is one of: router, firewall, switch, load balancer, printer, web server,
-- mail server, DNS server, database server, file server, IoT/embedded, workstation, unknown.
--
-- Every rule is a row in one of the tables below: edit them (or put your own classify/host.lua
-- in a --probe-dir) to teach Cartograph about your devices. Scores add up per candidate; the
-- best wins, and its confidence is its share of all the evidence, capped at 95.

-- Services that say what a host is for. A role's first service counts `weight`, each further
-- one half of it.
local SERVICE_ROLES = {
    { type = "mail server", weight = 50, services = { "smtp", "smtps", "submission", "imap", "imaps", "pop3", "pop3s" } },
    { type = "DNS server", weight = 50, services = { "dns", "domain" } },
    { type = "database server", weight = 50,
      services = { "mysql", "postgresql", "redis", "mongodb", "memcached", "elasticsearch", "ms-sql-s", "oracle", "cassandra" } },
    { type = "file server", weight = 50, services = { "ftp", "smb", "microsoft-ds", "netbios-ssn", "nfs", "afp", "rsync" } },
    { type = "printer", weight = 70, services = { "ipp", "printer", "jetdirect", "pjl" } },
    { type = "IoT/embedded", weight = 40, services = { "mqtt", "rtsp", "telnet", "coap", "upnp" } },
    { type = "workstation", weight = 35, services = { "rdp", "ms-wbt-server", "vnc", "x11" } },
    -- Last: many devices of every kind carry a web interface.
    { type = "web server", weight = 35, services = { "http", "https", "http-proxy" } },
}

-- Words in a service's product or extra information (Lua patterns) that name a kind of device.
local PRODUCT_HINTS = {
    { pattern = "MikroTik", type = "router", weight = 60 },
    { pattern = "RouterOS", type = "router", weight = 60 },
    { pattern = "Cisco IOS", type = "router", weight = 50 },
    { pattern = "[Rr]outer", type = "router", weight = 40 },
    { pattern = "FortiGate", type = "firewall", weight = 70 },
    { pattern = "pfSense", type = "firewall", weight = 70 },
    { pattern = "OPNsense", type = "firewall", weight = 70 },
    { pattern = "[Ff]irewall", type = "firewall", weight = 40 },
    { pattern = "HAProxy", type = "load balancer", weight = 60 },
    { pattern = "BIG%-IP", type = "load balancer", weight = 70 },
    { pattern = "[Ll]oad [Bb]alancer", type = "load balancer", weight = 50 },
    { pattern = "[Ss]witch", type = "switch", weight = 40 },
    { pattern = "ProCurve", type = "switch", weight = 60 },
    { pattern = "JetDirect", type = "printer", weight = 70 },
    { pattern = "LaserJet", type = "printer", weight = 70 },
    { pattern = "CUPS", type = "printer", weight = 50 },
    { pattern = "[Pp]rinter", type = "printer", weight = 50 },
    { pattern = "[Cc]amera", type = "IoT/embedded", weight = 50 },
    { pattern = "BusyBox", type = "IoT/embedded", weight = 40 },
}

-- Operating system families from what services say of themselves (product, extra
-- information, a probe's OS hints, CPE).
local OS_HINTS = {
    { pattern = "Debian", os = "Linux", weight = 60 },
    { pattern = "Ubuntu", os = "Linux", weight = 60 },
    { pattern = "Red Hat", os = "Linux", weight = 60 },
    { pattern = "CentOS", os = "Linux", weight = 60 },
    { pattern = "Fedora", os = "Linux", weight = 60 },
    { pattern = "Alpine", os = "Linux", weight = 50 },
    { pattern = "Linux", os = "Linux", weight = 50 },
    { pattern = "Windows", os = "Windows", weight = 60 },
    { pattern = "Microsoft", os = "Windows", weight = 40 },
    { pattern = "FreeBSD", os = "BSD", weight = 60 },
    { pattern = "OpenBSD", os = "BSD", weight = 60 },
    { pattern = "NetBSD", os = "BSD", weight = 60 },
    { pattern = "Darwin", os = "macOS", weight = 50 },
    { pattern = "macOS", os = "macOS", weight = 60 },
    { pattern = "Cisco IOS", os = "Cisco IOS", weight = 70 },
    { pattern = "RouterOS", os = "RouterOS", weight = 70 },
}

-- Initial TTL families: a reply's TTL is the sender's initial TTL minus the hops it crossed.
local TTL_FAMILIES = {
    { initial = 32, os = "Windows", weight = 10, note = "old Windows or embedded systems" },
    { initial = 64, os = "Linux", weight = 20, note = "Linux, BSD or macOS" },
    { initial = 128, os = "Windows", weight = 30, note = "Windows" },
    { initial = 255, os = "Cisco IOS", weight = 15, note = "network equipment or Solaris", device = "router", device_weight = 10 },
}

-- The words a device type may be (Cartograph refuses any other).
local DEVICE_TYPES = {}
for _, word in ipairs({ "router", "firewall", "switch", "load balancer", "printer", "web server", "mail server",
                        "DNS server", "database server", "file server", "IoT/embedded", "workstation" }) do
    DEVICE_TYPES[word] = true
end

-- Forwarding our probes is the surest sign of a router.
local FORWARDING_WEIGHT = 80
-- An adjacent device that answers for an address off our link routes for it.
local NEIGHBOUR_WEIGHT = 70
-- A probe that names the device type outright.
local PROBE_DEVICE_WEIGHT = 60

local function add(scores, key, weight, evidence)
    local entry = scores[key]
    if not entry then
        entry = { score = 0, evidence = {} }
        scores[key] = entry
    end
    entry.score = entry.score + weight
    entry.evidence[#entry.evidence + 1] = evidence
end

local function best(scores)
    local total, winner, top = 0, nil, 0
    local names = {}
    for name in pairs(scores) do names[#names + 1] = name end
    table.sort(names)   -- ties go the same way every run
    for _, name in ipairs(names) do
        local entry = scores[name]
        total = total + entry.score
        if entry.score > top then winner, top = name, entry.score end
    end
    if not winner then return nil end
    local confidence = math.min(95, math.floor(100 * top / (total + 20) + 0.5))
    return winner, confidence, scores[winner].evidence
end

local function texts(service)
    local list = {}
    for _, key in ipairs({ "product", "extra_info", "version" }) do
        if service[key] then list[#list + 1] = service[key] end
    end
    for _, hint in ipairs(service.os or {}) do list[#list + 1] = hint end
    for _, cpe in ipairs(service.cpe or {}) do list[#list + 1] = cpe end
    return list
end

local function where(service)
    return (service.name or "unknown") .. " on " .. service.port .. "/" .. service.protocol
end

return function(host)
    local devices, systems = {}, {}

    if #host.forwards > 0 then
        add(devices, "router", FORWARDING_WEIGHT, "forwarded probes towards " .. table.concat(host.forwards, ", ")
            .. " (a traceroute hop)")
    end

    if host.neighbour_off_link then
        add(devices, "router", NEIGHBOUR_WEIGHT, host.address .. " answers with no router in between, yet is not on our link:"
            .. " an interface of a neighbouring router")
    end

    local counted = {}
    for _, service in ipairs(host.services) do
        if service.device_type and DEVICE_TYPES[service.device_type] then
            add(devices, service.device_type, PROBE_DEVICE_WEIGHT, "the " .. (service.method or "?") .. " probe on "
                .. service.port .. "/" .. service.protocol .. " says " .. service.device_type)
        end
        for _, role in ipairs(SERVICE_ROLES) do
            for _, name in ipairs(role.services) do
                if service.name == name then
                    local first = not counted[role.type]
                    counted[role.type] = true
                    add(devices, role.type, first and role.weight or role.weight / 2, where(service))
                end
            end
        end
        -- Each hint counts once per service, however many of its texts match.
        local seen = {}
        local function match(hints, key, scores, verb)
            for _, text in ipairs(texts(service)) do
                for _, hint in ipairs(hints) do
                    if not seen[hint] and string.find(text, hint.pattern) then
                        seen[hint] = true
                        add(scores, hint[key], hint.weight, where(service) .. " " .. verb .. " \"" .. text .. "\"")
                    end
                end
            end
        end
        match(PRODUCT_HINTS, "type", devices, "mentions")
        match(OS_HINTS, "os", systems, "says")
    end

    if host.ttl then
        for _, family in ipairs(TTL_FAMILIES) do
            if host.ttl <= family.initial then
                local hops = family.initial - host.ttl
                local evidence = "TTL " .. host.ttl .. ": initial " .. family.initial .. " (" .. family.note .. "), "
                    .. hops .. " hop" .. (hops == 1 and "" or "s") .. " away"
                add(systems, family.os, family.weight, evidence)
                if family.device then add(devices, family.device, family.device_weight, evidence) end
                break
            end
        end
    end

    local result = {}
    local device, device_confidence, device_evidence = best(devices)
    if device then
        result.device_type = { type = device, confidence = device_confidence, evidence = device_evidence }
    else
        result.device_type = { type = "unknown", confidence = 0, evidence = {} }
    end
    local os, os_confidence, os_evidence = best(systems)
    if os then result.os = { name = os, confidence = os_confidence, evidence = os_evidence } end
    return result
end
