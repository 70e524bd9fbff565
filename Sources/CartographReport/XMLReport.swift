import CartographCore
import Foundation

/// The report in nmap's XML format (`-oX`), for tools that read nmap output: `ndiff`, Metasploit,
/// importers of vulnerability scanners. It validates against nmap's DTD (`nmap.dtd`).
///
/// Where the format and Cartograph disagree:
/// - `scanner` is `nmap` because the DTD allows no other value; `args` (the Cartograph command
///   line) and a comment at the top say who wrote the file.
/// - All maps share one `<nmaprun>`: it starts with the first map and finishes with the last.
///   ndiff matches hosts by address, so the same address in two networks reads as one host there;
///   each host's `comment` names its map and network.
/// - Hosts carry their map's start and end times: Cartograph does not time hosts one by one.
/// - Excluded hosts that DNS named appear with state `skipped` and no ports: they were never sent
///   a packet. They are not counted in `<runstats>`, whose totals are the addresses scanned.
/// - The probe that identified a service, or the port-discovery method when none did, is kept
///   in a `cartograph-method` script on the port. Probe errors are left out (see the JSON report).
/// - Times are written in UTC in the `*str` attributes, where nmap uses local time.
public enum XMLReport {
    /// `arguments` is the command line that made the report, for `args`; `version` is Cartograph's.
    public static func render(_ report: MapReport, arguments: String, version: String = "unknown") -> String {
        let maps = report.maps
        let start = maps.map(\.startedAt).min() ?? Date(timeIntervalSince1970: 0)
        let finish = maps.map(\.finishedAt).max() ?? start
        let profiles = orderedUnique(maps.map(\.profile)).joined(separator: ", ")

        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n"
        out += "<!-- Cartograph report in nmap's XML format; scanner=\"nmap\" is the only value nmap.dtd allows. -->\n"
        out += element("nmaprun", [
            ("scanner", "nmap"), ("args", arguments), ("start", seconds(start)), ("startstr", timestring(start)),
            ("version", version), ("profile_name", profiles.isEmpty ? nil : profiles), ("xmloutputversion", "1.05"),
        ], open: true) + "\n"
        out += scanInfo(maps)
        out += "<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n"
        for map in maps {
            for host in map.hosts { out += render(host, of: map) }
        }
        out += runStats(maps, start: start, finish: finish)
        out += "</nmaprun>\n"
        return out
    }

    // MARK: Header

    /// One `<scaninfo>` per protocol with open ports. Raw SYN packets make it a `syn` scan, as in
    /// nmap; Cartograph does not keep the port-discovery method once a probe names the service,
    /// so any `tcp-syn` method in the report (sweep or port) stands for the whole TCP scan.
    static func scanInfo(_ maps: [MapResult]) -> String {
        let hosts = maps.flatMap(\.hosts)
        let services = hosts.flatMap(\.services)
        let raw = (hosts.flatMap(\.discovery) + services.map(\.method)).contains { $0.hasPrefix("tcp-syn") }
        var out = ""
        for proto in Set(services.map(\.protocol)).sorted() {
            let ports = Set(services.filter { $0.protocol == proto }.map(\.port)).sorted()
            let type = proto == .udp ? "udp" : (raw ? "syn" : "connect")
            out += element("scaninfo", [
                ("type", type), ("protocol", proto.rawValue), ("numservices", String(ports.count)),
                ("services", portRanges(ports)),
            ]) + "\n"
        }
        return out
    }

    /// nmap's word for a device type in `osclass type`: the kinds it shares with ours, else
    /// "general purpose" (servers and workstations) or "specialized".
    static func nmapDeviceType(_ type: String?) -> String {
        switch type.flatMap(DeviceType.init(rawValue:)) {
        case .router?, .firewall?, .switch?, .loadBalancer?, .printer?: type!
        case .iot?: "specialized"
        default: "general purpose"
        }
    }

    /// Sorted ports folded into nmap's list syntax: `[21, 22, 23, 80]` reads `21-23,80`.
    static func portRanges(_ ports: [UInt16]) -> String {
        var ranges: [(UInt16, UInt16)] = []
        for port in ports {
            if let last = ranges.last, last.1 < port, port - last.1 == 1 {
                ranges[ranges.count - 1].1 = port
            } else {
                ranges.append((port, port))
            }
        }
        return ranges.map { $0 == $1 ? "\($0)" : "\($0)-\($1)" }.joined(separator: ",")
    }

    // MARK: Hosts

    static func render(_ host: HostResult, of map: MapResult) -> String {
        let excluded = host.excluded == true
        var out = element("host", [
            ("starttime", seconds(map.startedAt)), ("endtime", seconds(map.finishedAt)),
            ("comment", comment(host, of: map)),
        ], open: true)
        out += element("status", [
            ("state", excluded ? "skipped" : "up"),
            ("reason", excluded ? "user-set" : reason(discovery: host.discovery.first)),
            ("reason_ttl", String(host.ttl ?? 0)),
        ]) + "\n"
        let family = IPAddress(host.address)?.family ?? (host.address.contains(":") ? .v6 : .v4)
        out += element("address", [("addr", host.address), ("addrtype", family.rawValue)]) + "\n"
        out += "<hostnames>\n"
        for name in host.hostnames {
            out += element("hostname", [("name", name.name), ("type", name.source == "dns-ptr" ? "PTR" : "user")]) + "\n"
        }
        out += "</hostnames>\n"
        if !excluded {
            out += "<ports>"
            // No <extrareasons>: the DTD makes them optional and Cartograph does not keep why
            // each closed or filtered port answered as it did.
            if host.closedPorts > 0 { out += element("extraports", [("state", "closed"), ("count", String(host.closedPorts))]) }
            if host.filteredPorts > 0 { out += element("extraports", [("state", "filtered"), ("count", String(host.filteredPorts))]) }
            out += "\n"
            for service in host.services { out += render(service) }
            out += "</ports>\n"
        }
        if let os = host.os {
            let accuracy = String(host.osConfidence ?? 0)
            out += "<os>" + element("osmatch", [("name", os), ("accuracy", accuracy), ("line", "0")], open: true)
            out += element("osclass", [("type", nmapDeviceType(host.deviceType)), ("vendor", os), ("osfamily", os),
                                       ("accuracy", accuracy)])
            out += "</osmatch></os>\n"
        }
        // nmap counts the host itself: a host on our own link is at distance 1.
        if let hops = host.hops { out += element("distance", [("value", String(hops + 1))]) + "\n" }
        out += "</host>\n"
        return out
    }

    /// The map, network and flags a host belongs to, for the host's `comment`.
    static func comment(_ host: HostResult, of map: MapResult) -> String {
        var parts = ["map " + (map.id.map { "\($0) (\(map.target))" } ?? map.target) + " in network \(map.network)"]
        if host.new == true { parts.append("new") }
        if host.rogue == true { parts.append("rogue") }
        if host.excluded == true { parts.append("excluded: not scanned") }
        if host.inNetblock == false { parts.append("outside the domain's netblocks") }
        return parts.joined(separator: "; ")
    }

    /// nmap's reason for a live host, from the method that found it. Where a method counts two
    /// answers as live and Cartograph does not record which came, both are named.
    static func reason(discovery method: String?) -> String {
        let name = method?.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
        switch name {
        case "icmp-echo": return "echo-reply"
        case "icmp-timestamp": return "timestamp-reply"
        case "arp": return "arp-response"
        case "tcp-syn": return "syn-ack"
        case "tcp-ack": return "reset"
        case "tcp-connect": return "conn-refused/syn-ack"
        case "udp": return "udp-response/port-unreach"
        // `assumed` (no sweep), DNS names, targets: the user's word, as with nmap's -Pn.
        default: return "user-set"
        }
    }

    static func render(_ service: ServiceResult) -> String {
        var out = element("port", [("protocol", service.protocol.rawValue), ("portid", String(service.port))], open: true)
        out += element("state", [("state", service.state), ("reason", reason(port: service)), ("reason_ttl", "0")])
        let named = service.name.map { !$0.isEmpty } ?? false
        let attributes: [(String, String?)] = [
            ("name", named ? service.name : "unknown"),
            ("product", nonEmpty(service.product)), ("version", nonEmpty(service.version)),
            ("extrainfo", nonEmpty(service.extraInfo)), ("ostype", nonEmpty(service.os?.first)),
            ("devicetype", nonEmpty(service.deviceType)), ("tunnel", service.tls == true ? "ssl" : nil),
            // A probe's tentative match is not a hard one: nmap's soft matches score lower too.
            ("method", named ? "probed" : "table"), ("conf", named ? (service.certain == false ? "5" : "10") : "3"),
        ]
        let cpes = service.cpe ?? []
        if cpes.isEmpty {
            out += element("service", attributes)
        } else {
            out += element("service", attributes, open: true)
            for cpe in cpes { out += "<cpe>\(escape(cpe))</cpe>" }
            out += "</service>"
        }
        // One script only: ndiff (Debian 12's) crashes sorting two script results of one port.
        out += element("script", [("id", "cartograph-method"), ("output", service.method)])
        out += "</port>\n"
        return out
    }

    /// nmap's reason for a port state: open TCP ports completed a handshake.
    static func reason(port service: ServiceResult) -> String {
        switch (service.protocol, service.state) {
        case (.tcp, "open"): "syn-ack"
        case (.udp, "open"): "udp-response"
        case (_, "open|filtered"): "no-response"
        default: "unknown"
        }
    }

    // MARK: Footer

    static func runStats(_ maps: [MapResult], start: Date, finish: Date) -> String {
        let up = maps.reduce(0) { $0 + $1.hosts.filter { $0.excluded != true }.count }
        // Address counts can exceed 2^64; past 2^128 - 1 (all of IPv6) the total falls back to `up`.
        let scanned = maps.reduce(UInt128(0) as UInt128?) { sum, map in
            guard let sum, let count = UInt128(map.addressesScanned) else { return nil }
            return sum.addingReportingOverflow(count).overflow ? nil : sum + count
        }
        let total = max(scanned ?? UInt128(up), UInt128(up))
        let elapsed = finish.timeIntervalSince(start)
        let failures = maps.filter { $0.status != .complete }.map { "map \($0.id.map(String.init) ?? $0.target) \($0.status.rawValue)" }
        let summary = "Cartograph done at \(timestring(finish)); \(total) IP address\(total == 1 ? "" : "es") "
            + "(\(up) host\(up == 1 ? "" : "s") up) scanned in \(String(format: "%.2f", elapsed)) seconds"
        var out = "<runstats>"
        out += element("finished", [
            ("time", seconds(finish)), ("timestr", timestring(finish)), ("elapsed", String(format: "%.2f", elapsed)),
            ("summary", summary), ("exit", failures.isEmpty ? "success" : "error"),
            ("errormsg", failures.isEmpty ? nil : failures.joined(separator: "; ")),
        ])
        out += element("hosts", [("up", String(up)), ("down", String(total - UInt128(up))), ("total", String(total))])
        out += "\n</runstats>\n"
        return out
    }

    // MARK: Writing XML

    /// A start tag (`open`) or an empty element; attributes whose value is nil are left out.
    static func element(_ name: String, _ attributes: [(String, String?)], open: Bool = false) -> String {
        var out = "<" + name
        for case let (key, value?) in attributes { out += " \(key)=\"\(escape(value))\"" }
        return out + (open ? ">" : "/>")
    }

    /// Text made safe for XML 1.0 content and attribute values; tab, LF and CR become character
    /// references so attribute-value normalization keeps them.
    static func escape(_ text: String) -> String {
        Markup.escape(text, apostrophe: "&apos;", whitespace: .references)
    }

    static func seconds(_ date: Date) -> String {
        String(Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    /// nmap's `startstr`/`timestr` layout (`Fri Jan 15 08:00:00 2027`), in UTC.
    static func timestring(_ date: Date) -> String {
        date.utc("EEE MMM dd HH:mm:ss yyyy")
    }

    static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    static func orderedUnique(_ items: [String]) -> [String] {
        var seen: Set<String> = []
        return items.filter { seen.insert($0).inserted }
    }
}
