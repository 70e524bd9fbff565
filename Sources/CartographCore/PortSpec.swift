/// Transport protocol of a port.
public enum TransportProtocol: String, Hashable, Sendable, Codable, Comparable {
    case tcp, udp
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// TCP and UDP port lists, each sorted and without duplicates.
public struct PortSelection: Hashable, Sendable {
    public var tcp: [UInt16]
    public var udp: [UInt16]

    public init(tcp: [UInt16] = [], udp: [UInt16] = []) {
        self.tcp = PortBits(tcp).ports
        self.udp = PortBits(udp).ports
    }

    public var isEmpty: Bool { tcp.isEmpty && udp.isEmpty }
}

/// A set of port numbers as one bit each (8 KiB): membership and a sorted list without
/// duplicates in time linear in the ports, where a hashed set and a sort of all 65535 ports
/// cost several milliseconds at the start and end of every full-port map.
public struct PortBits: Hashable, Sendable {
    private var words = [UInt64](repeating: 0, count: 1024)

    public init(_ ports: [UInt16]) {
        words.withUnsafeMutableBufferPointer { words in
            for port in ports { words[Int(port >> 6)] |= 1 << UInt64(port & 63) }
        }
    }

    public func contains(_ port: UInt16) -> Bool { words[Int(port >> 6)] & (1 << UInt64(port & 63)) != 0 }

    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// These ports without `other`'s.
    public func subtracting(_ other: PortBits) -> PortBits {
        var result = self
        for index in result.words.indices { result.words[index] &= ~other.words[index] }
        return result
    }

    /// The ports, ascending.
    public var ports: [UInt16] {
        var result: [UInt16] = []
        result.reserveCapacity(count)
        for (index, word) in words.enumerated() where word != 0 {
            var rest = word
            while rest != 0 {
                result.append(UInt16(index << 6 | rest.trailingZeroBitCount))
                rest &= rest - 1
            }
        }
        return result
    }
}

/// A port specification that does not parse.
public struct PortSpecError: Error, Equatable, CustomStringConvertible {
    public let spec: String
    public let reason: String
    public var description: String { "invalid port specification \"\(spec)\": \(reason)" }
}

/// Parses port lists in nmap's `-p` syntax, plus `top:N`.
///
/// `22,80`, `1-1024`, `-` (all), `-1024`, `60000-`, `T:22,80,U:53` (a prefix applies until the
/// next one), `top:100` (the 100 most often open ports), `T:top:100,U:top:20`, and service names
/// (`ssh,http`, `U:snmp`) looked up in `names`.
public enum PortSpec {
    /// Parses a `-p` argument; ports without a `T:`/`U:` prefix go to `defaultProtocol`.
    /// `names` is read only when the list names a service (`/etc/services` takes milliseconds).
    public static func parse(_ spec: String, defaultProtocol: TransportProtocol = .tcp,
                             names: @autoclosure () -> ServiceNames = .builtIn) throws(PortSpecError) -> PortSelection {
        var table: ServiceNames?
        var tcp: [UInt16] = []
        var udp: [UInt16] = []
        var proto = defaultProtocol
        let trimmed = spec.trimmed(" \t")
        guard !trimmed.isEmpty else { throw PortSpecError(spec: spec, reason: "empty port list") }
        for rawPart in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            var part = rawPart.trimmed(" \t")
            if part.isEmpty { throw PortSpecError(spec: spec, reason: "empty item between commas") }
            let upper = part.uppercased()
            if upper.hasPrefix("T:") { proto = .tcp; part = String(part.dropFirst(2)) }
            else if upper.hasPrefix("U:") { proto = .udp; part = String(part.dropFirst(2)) }
            else if upper.hasPrefix("S:") || upper.hasPrefix("P:") {
                throw PortSpecError(spec: spec, reason: "SCTP and IP-protocol ports (\(part.prefix(2))) are not supported")
            }
            let ports: [UInt16]
            if part.contains(where: \.isLetter) && !part.lowercased().hasPrefix("top:") {
                let known = table ?? names()
                table = known
                guard let named = known.ports(part, proto: proto) else {
                    throw PortSpecError(spec: spec, reason: "\"\(part)\" is neither a port number nor a \(proto.rawValue) service name known to \(known.source)")
                }
                ports = named
            } else {
                ports = try parseItem(part, proto: proto, spec: spec)
            }
            if proto == .tcp { tcp += ports } else { udp += ports }
        }
        return PortSelection(tcp: tcp, udp: udp)
    }

    static func parseItem(_ item: String, proto: TransportProtocol, spec: String) throws(PortSpecError) -> [UInt16] {
        if item.lowercased().hasPrefix("top:") {
            let countText = item.dropFirst(4)
            guard let count = Int(countText), count > 0 else {
                throw PortSpecError(spec: spec, reason: "top:N needs a positive number, not \"\(countText)\"")
            }
            return topPorts(count, proto: proto)
        }
        if item == "-" { return Array(1...UInt16.max) }
        if let dash = item.firstIndex(of: "-") {
            let lowText = item[..<dash], highText = item[item.index(after: dash)...]
            let low = lowText.isEmpty ? 1 : try port(String(lowText), spec: spec)
            let high = highText.isEmpty ? 65535 : try port(String(highText), spec: spec)
            guard low <= high else { throw PortSpecError(spec: spec, reason: "range \(item) ends before it starts") }
            return Array(low...high)
        }
        return [try port(item, spec: spec)]
    }

    static func port(_ text: String, spec: String) throws(PortSpecError) -> UInt16 {
        guard !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let value = Int(text) else {
            throw PortSpecError(spec: spec, reason: "\"\(text)\" is not a port number")
        }
        guard (1...65535).contains(value) else {
            throw PortSpecError(spec: spec, reason: "port \(value) is out of range (1-65535)")
        }
        return UInt16(value)
    }

    /// The `count` most often open ports of a protocol; beyond the ranked list, the rest in order.
    public static func topPorts(_ count: Int, proto: TransportProtocol) -> [UInt16] {
        let ranked = proto == .tcp ? TopPorts.tcp : TopPorts.udp
        if count <= ranked.count { return Array(ranked.prefix(count)) }
        let seen = Set(ranked)
        let rest = (1...UInt16.max).lazy.filter { !seen.contains($0) }.prefix(count - ranked.count)
        return ranked + rest
    }
}

/// Service names for `-p ssh,http`: `/etc/services` (netbase) when the system has it, else a
/// short built-in table of the common IANA names.
public struct ServiceNames: Sendable {
    var tcp: [String: [UInt16]] = [:]
    var udp: [String: [UInt16]] = [:]
    /// Where the names come from, for error messages.
    public var source: String

    /// The IANA names of the ports people name most, for systems without /etc/services.
    public static let builtIn: ServiceNames = {
        var names = ServiceNames(source: "the built-in table")
        let both: [(String, UInt16)] = [("domain", 53), ("dns", 53), ("kerberos", 88), ("ntp", 123), ("snmp", 161), ("ldap", 389)]
        let tcpOnly: [(String, UInt16)] = [
            ("ftp", 21), ("ssh", 22), ("telnet", 23), ("smtp", 25), ("http", 80), ("www", 80), ("pop3", 110),
            ("sunrpc", 111), ("imap", 143), ("https", 443), ("microsoft-ds", 445), ("smb", 445), ("submission", 587),
            ("ldaps", 636), ("imaps", 993), ("pop3s", 995), ("mysql", 3306), ("ms-wbt-server", 3389), ("rdp", 3389),
            ("postgresql", 5432), ("vnc", 5900), ("redis", 6379), ("http-alt", 8080),
        ]
        let udpOnly: [(String, UInt16)] = [("bootps", 67), ("tftp", 69), ("netbios-ns", 137), ("syslog", 514), ("mdns", 5353)]
        for (name, port) in both + tcpOnly { names.tcp[name, default: []].append(port) }
        for (name, port) in both + udpOnly { names.udp[name, default: []].append(port) }
        return names
    }()

    public init(source: String) { self.source = source }

    /// Reads `/etc/services` text: `name port/proto aliases... # comment`. The built-in names
    /// stay underneath, so `smb` and `rdp` (the probes' names) work as well.
    public static func parse(services text: String, source: String) -> ServiceNames {
        var names = builtIn
        names.source = source
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = (line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
                .split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2 else { continue }
            let portProto = fields[1].split(separator: "/")
            guard portProto.count == 2, let port = UInt16(portProto[0]), port > 0 else { continue }
            for name in [fields[0]] + fields.dropFirst(2) {
                let key = name.lowercased()
                switch portProto[1] {
                case "tcp" where !(names.tcp[key] ?? []).contains(port): names.tcp[key, default: []].append(port)
                case "udp" where !(names.udp[key] ?? []).contains(port): names.udp[key, default: []].append(port)
                default: break
                }
            }
        }
        return names
    }

    public func ports(_ name: String, proto: TransportProtocol) -> [UInt16]? {
        (proto == .tcp ? tcp : udp)[name.lowercased()]
    }
}
