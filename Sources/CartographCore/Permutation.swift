/// A keyed pseudo-random permutation of `0..<count`, computed one index at a time.
///
/// The raw engines walk the whole address-by-port space in a random order without ever holding
/// it: index `i` maps to `permute(i)`, a bijection. A balanced Feistel network permutes the
/// smallest even-bit-width domain covering `count`; values that land outside `0..<count` are
/// fed through again (cycle walking), which keeps it a bijection on `0..<count`. The domain is
/// at most four times `count`, so a value takes under four rounds of walking on average.
public struct Permutation: Sendable {
    public let count: UInt64
    private let halfBits: UInt64
    private let halfMask: UInt64
    private let keys: (UInt64, UInt64, UInt64, UInt64)

    public init(count: UInt64, seed: UInt64) {
        self.count = count
        var bits: UInt64 = 2
        while bits < 64 && (UInt64(1) << bits) < count { bits += 2 }
        halfBits = bits / 2
        halfMask = (UInt64(1) << halfBits) - 1
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        keys = (next(), next(), next(), next())
    }

    private func round(_ value: UInt64, _ key: UInt64) -> UInt64 {
        var z = (value ^ key) &* 0xD6E8_FEB8_6659_FD93
        z ^= z >> 32
        z = z &* 0xD6E8_FEB8_6659_FD93
        return (z ^ (z >> 29)) & halfMask
    }

    private func feistel(_ value: UInt64) -> UInt64 {
        var left = value >> halfBits, right = value & halfMask
        for key in [keys.0, keys.1, keys.2, keys.3] {
            (left, right) = (right, left ^ round(right, key))
        }
        return left << halfBits | right
    }

    /// The image of `index` (which must be below `count`).
    public func permute(_ index: UInt64) -> UInt64 {
        var value = feistel(index)
        while value >= count { value = feistel(value) }
        return value
    }
}
