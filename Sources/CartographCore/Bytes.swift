/// Bounds-checked big-endian reads from received bytes: the decoders of packets and DNS
/// messages use only these, so hostile input yields nil, never a crash.
extension ArraySlice where Element == UInt8 {
    public func byte(at offset: Int) -> UInt8? {
        guard offset >= 0, offset < count else { return nil }
        return self[startIndex + offset]
    }

    public func u16(at offset: Int) -> UInt16? {
        guard let high = byte(at: offset), let low = byte(at: offset + 1) else { return nil }
        return UInt16(high) << 8 | UInt16(low)
    }

    public func u32(at offset: Int) -> UInt32? {
        guard let high = u16(at: offset), let low = u16(at: offset + 2) else { return nil }
        return UInt32(high) << 16 | UInt32(low)
    }

    public func address(at offset: Int, length: Int) -> IPAddress? {
        guard offset >= 0, offset + length <= count else { return nil }
        return IPAddress(bytes: self[(startIndex + offset)..<(startIndex + offset + length)])
    }
}

extension IPAddress {
    /// An address from 4 or 16 bytes in network order.
    public init?(bytes: ArraySlice<UInt8>) {
        if bytes.count == 4 {
            self = .v4(bytes.reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        } else if bytes.count == 16 {
            self = .v6(bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) })
        } else {
            return nil
        }
    }

    /// The address in network byte order (4 or 16 bytes).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value): return [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
        case .v6(let value): return (0..<16).map { UInt8(truncatingIfNeeded: value >> (8 * (15 - $0))) }
        }
    }
}
