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
        self.tcp = Array(Set(tcp)).sorted()
        self.udp = Array(Set(udp)).sorted()
    }

    public var isEmpty: Bool { tcp.isEmpty && udp.isEmpty }
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
/// next one), `top:100` (the 100 most often open ports), `T:top:100,U:top:20`.
public enum PortSpec {
    /// Parses a `-p` argument; ports without a `T:`/`U:` prefix go to `defaultProtocol`.
    public static func parse(_ spec: String, defaultProtocol: TransportProtocol = .tcp) throws(PortSpecError) -> PortSelection {
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
            let ports = try parseItem(part, proto: proto, spec: spec)
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
