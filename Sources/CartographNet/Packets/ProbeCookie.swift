import CartographCore

/// Stateless reply validation: everything needed to recognise a reply is derived from a secret
/// key and the probe's destination, so nothing is remembered per probe sent.
///
/// A TCP probe's source port and sequence number, and an ICMP probe's identifier and sequence,
/// are keyed hashes of (destination address, destination port). A reply is ours exactly when
/// its fields are the same hashes of its source: a SYN-ACK or RST acknowledges sequence + 1 on
/// the source port we chose for that destination.
public struct ProbeCookie: Sendable {
    /// Source ports of TCP and UDP probes lie in `portBase ..< portBase + portSpan`.
    public static let portBase: UInt16 = 40000
    public static let portSpan: UInt16 = 16384

    private let k0: UInt64, k1: UInt64

    public init(key: (UInt64, UInt64) = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))) {
        k0 = key.0
        k1 = key.1
    }

    /// SipHash-2-4 of the address (as two words) and the port.
    func hash(_ address: IPAddress, _ port: UInt16) -> UInt64 {
        let value = address.value
        return SipHash.hash(k0, k1, [UInt64(truncatingIfNeeded: value >> 64), UInt64(truncatingIfNeeded: value),
                                     UInt64(port) | (address.family == .v6 ? 1 << 32 : 0)])
    }

    public func sourcePort(_ destination: IPAddress, _ port: UInt16) -> UInt16 {
        ProbeCookie.portBase + UInt16(truncatingIfNeeded: hash(destination, port) >> 48) % ProbeCookie.portSpan
    }

    public func sequence(_ destination: IPAddress, _ port: UInt16) -> UInt32 {
        UInt32(truncatingIfNeeded: hash(destination, port))
    }

    /// ICMP identifier and sequence for an echo or timestamp request to `destination`.
    public func icmpFields(_ destination: IPAddress) -> (UInt16, UInt16) {
        let h = hash(destination, 0)
        return (UInt16(truncatingIfNeeded: h >> 16), UInt16(truncatingIfNeeded: h))
    }

    /// True when a TCP reply from `source:sourcePort` to our `destinationPort`, acknowledging
    /// `acknowledgement`, answers a probe this cookie made.
    public func matchesTCP(source: IPAddress, sourcePort: UInt16, destinationPort: UInt16, acknowledgement: UInt32) -> Bool {
        destinationPort == self.sourcePort(source, sourcePort) && acknowledgement == sequence(source, sourcePort) &+ 1
    }
}

/// SipHash-2-4 over 64-bit words (the message length in bytes is 8 × words).
enum SipHash {
    static func hash(_ k0: UInt64, _ k1: UInt64, _ words: [UInt64]) -> UInt64 {
        var v0: UInt64 = 0x736f_6d65_7073_6575 ^ k0
        var v1: UInt64 = 0x646f_7261_6e64_6f6d ^ k1
        var v2: UInt64 = 0x6c79_6765_6e65_7261 ^ k0
        var v3: UInt64 = 0x7465_6462_7974_6573 ^ k1
        func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }
        func round() {
            v0 &+= v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
            v2 &+= v3; v3 = rotl(v3, 16); v3 ^= v2
            v0 &+= v3; v3 = rotl(v3, 21); v3 ^= v0
            v2 &+= v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
        }
        for m in words {
            v3 ^= m
            round(); round()
            v0 ^= m
        }
        let b = UInt64(words.count * 8) << 56
        v3 ^= b
        round(); round()
        v0 ^= b
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }
}
