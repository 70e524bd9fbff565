import Foundation

/// An IPv4 or IPv6 address held as a number, so ranges and sets are plain integer arithmetic.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt128)

    public enum Family: String, Sendable, Codable { case v4 = "ipv4", v6 = "ipv6" }

    public var family: Family {
        switch self {
        case .v4: .v4
        case .v6: .v6
        }
    }

    /// The address as an integer in its family's space.
    public var value: UInt128 {
        switch self {
        case .v4(let v): UInt128(v)
        case .v6(let v): v
        }
    }

    public init(family: Family, value: UInt128) {
        switch family {
        case .v4: self = .v4(UInt32(truncatingIfNeeded: value))
        case .v6: self = .v6(value)
        }
    }

    /// Order for addresses held as text (reports, the store): numeric, IPv4 before IPv6, and
    /// anything that does not parse after them, by text.
    public static func textOrder(_ a: String, _ b: String) -> Bool {
        switch (IPAddress(a), IPAddress(b)) {
        case let (x?, y?): x < y
        case (.some, nil): true
        case (nil, .some): false
        case (nil, nil): a < b
        }
    }

    /// 127.0.0.0/8 or ::1.
    public var isLoopback: Bool {
        switch self {
        case .v4(let v): v >> 24 == 127
        case .v6(let v): v == 1
        }
    }

    /// Parses a dotted-quad IPv4 or an RFC 4291 IPv6 address; nil when `text` is neither.
    public init?(_ text: String) {
        if let v4 = IPAddress.parseV4(text) {
            self = .v4(v4)
        } else if text.contains(":"), let v6 = IPAddress.parseV6(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    static func parseV4(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCIIDigit),
                  let octet = UInt32(part), octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseV6(_ text: String) -> UInt128? {
        var storage = in6_addr()
        guard inet_pton(AF_INET6, text, &storage) == 1 else { return nil }
        return withUnsafeBytes(of: &storage) { raw in
            raw.reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        }
    }

    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\(v >> 16 & 0xff).\(v >> 8 & 0xff).\(v & 0xff)"
        case .v6(let v):
            var storage = in6_addr()
            withUnsafeMutableBytes(of: &storage) { raw in
                for i in 0..<16 { raw[i] = UInt8(truncatingIfNeeded: v >> (8 * (15 - i))) }
            }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = inet_ntop(AF_INET6, &storage, &buffer, socklen_t(buffer.count))
            let length = buffer.firstIndex(of: 0) ?? buffer.count
            return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Orders IPv4 before IPv6, then numerically.
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): a < b
        case (.v6(let a), .v6(let b)): a < b
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }
}

extension IPAddress.Family {
    /// Number of bits in an address of this family.
    public var bits: Int { self == .v4 ? 32 : 128 }
    /// The largest address value of this family.
    public var maxValue: UInt128 { self == .v4 ? UInt128(UInt32.max) : UInt128.max }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// Addresses are written as text in every encoded form.
extension IPAddress: Codable {
    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an IP address: \(text)"))
        }
        self = address
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
