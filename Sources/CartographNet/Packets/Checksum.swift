import CartographCore

/// The Internet checksum (RFC 1071) and the pseudo-headers TCP, UDP and ICMPv6 sum over.
enum Checksum {
    /// Ones' complement sum of 16-bit big-endian words, not yet folded or inverted.
    static func sum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        var total = UInt64(initial)
        var index = 0
        while index + 1 < bytes.count {
            total += UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { total += UInt64(bytes[index]) << 8 }
        while total >> 16 != 0 { total = (total & 0xffff) + (total >> 16) }
        return UInt32(total)
    }

    static func finish(_ sum: UInt32) -> UInt16 {
        var folded = sum
        while folded >> 16 != 0 { folded = (folded & 0xffff) + (folded >> 16) }
        return ~UInt16(folded)
    }

    static func compute(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt16 {
        bytes.withUnsafeBytes { finish(sum($0, initial: initial)) }
    }

    /// The sum of the pseudo-header for an upper-layer segment of `length` bytes.
    static func pseudoHeader(source: IPAddress, destination: IPAddress, protocol number: UInt8, length: Int) -> UInt32 {
        // IPv4, the common case at line rate: the same words summed without building them.
        if case .v4(let from) = source, case .v4(let to) = destination {
            let total = (from >> 16) + (from & 0xffff) + (to >> 16) + (to & 0xffff) + UInt32(number) + UInt32(length & 0xffff)
            return (total & 0xffff) + (total >> 16)
        }
        var words: [UInt8] = []
        words.append(contentsOf: source.bytes)
        words.append(contentsOf: destination.bytes)
        if source.family == .v4 {
            words += [0, number, UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
        } else {
            words += [UInt8(length >> 24 & 0xff), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff),
                      0, 0, 0, number]
        }
        return words.withUnsafeBytes { sum($0) }
    }
}
