/// An inclusive range of addresses of one family.
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    public let family: IPAddress.Family
    public let lower: UInt128
    public let upper: UInt128

    public init(family: IPAddress.Family, lower: UInt128, upper: UInt128) {
        precondition(lower <= upper && upper <= family.maxValue, "malformed address range")
        self.family = family
        self.lower = lower
        self.upper = upper
    }

    public init(_ address: IPAddress) {
        self.init(family: address.family, lower: address.value, upper: address.value)
    }

    /// The block `base/prefix`; host bits of `base` are cleared, as nmap does.
    public init(cidr base: IPAddress, prefix: Int) {
        let bits = base.family.bits
        precondition((0...bits).contains(prefix), "prefix out of range")
        let hostBits = bits - prefix
        let hostMask: UInt128 = hostBits == 128 ? .max : (UInt128(1) << hostBits) - 1
        let lower = base.value & ~hostMask & base.family.maxValue
        self.init(family: base.family, lower: lower, upper: lower | hostMask)
    }

    /// How many addresses the range holds, saturating at `UInt128.max` for all of IPv6.
    public var count: UInt128 {
        let (span, overflow) = (upper - lower).addingReportingOverflow(1)
        return overflow ? .max : span
    }

    public func contains(_ address: IPAddress) -> Bool {
        address.family == family && address.value >= lower && address.value <= upper
    }

    public var first: IPAddress { IPAddress(family: family, value: lower) }
    public var last: IPAddress { IPAddress(family: family, value: upper) }

    /// The shortest text naming the range: one address, a CIDR block, or `first-last`.
    public var description: String {
        if lower == upper { return first.description }
        let span = upper - lower
        if span != .max, (span + 1).nonzeroBitCount == 1, lower & span == 0 {
            let prefix = family.bits - (span + 1).trailingZeroBitCount
            return "\(first)/\(prefix)"
        }
        if span == .max { return "\(first)/0" }
        return "\(first)-\(last)"
    }
}

/// A set of addresses kept as sorted, disjoint, non-adjacent ranges.
///
/// Nothing here ever lists addresses: counting, subtraction and indexing are arithmetic on the
/// ranges, so a /8 or a large IPv6 block costs a few bytes until it is walked lazily.
public struct AddressSet: Hashable, Sendable, Sequence {
    public private(set) var ranges: [AddressRange] = []

    public init() {}

    public init<S: Sequence>(_ ranges: S) where S.Element == AddressRange {
        for range in ranges { insert(range) }
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Number of addresses, saturating at `UInt128.max`.
    public var count: UInt128 {
        ranges.reduce(UInt128(0)) { total, range in
            let (sum, overflow) = total.addingReportingOverflow(range.count)
            return overflow ? .max : sum
        }
    }

    public mutating func insert(_ range: AddressRange) {
        var merged = range
        var result: [AddressRange] = []
        result.reserveCapacity(ranges.count + 1)
        var placed = false
        for existing in ranges {
            if existing.family != merged.family || !AddressSet.touches(existing, merged) {
                if !placed && AddressSet.precedes(merged, existing) {
                    result.append(merged)
                    placed = true
                }
                result.append(existing)
            } else {
                merged = AddressRange(
                    family: merged.family, lower: Swift.min(existing.lower, merged.lower),
                    upper: Swift.max(existing.upper, merged.upper))
            }
        }
        if !placed { result.append(merged) }
        ranges = result
    }

    public mutating func formUnion(_ other: AddressSet) {
        for range in other.ranges { insert(range) }
    }

    /// The addresses of `self` that are not in `other`.
    public func subtracting(_ other: AddressSet) -> AddressSet {
        var result: [AddressRange] = []
        for range in ranges {
            var pieces = [range]
            for cut in other.ranges where cut.family == range.family {
                pieces = pieces.flatMap { AddressSet.remove(cut, from: $0) }
                if pieces.isEmpty { break }
            }
            result.append(contentsOf: pieces)
        }
        var set = AddressSet()
        set.ranges = result
        return set
    }

    public func contains(_ address: IPAddress) -> Bool {
        // Binary search: ranges are sorted by family then lower bound.
        var low = 0, high = ranges.count - 1
        while low <= high {
            let mid = (low + high) / 2
            let range = ranges[mid]
            if range.contains(address) { return true }
            if AddressSet.precedes(AddressRange(address), range) { high = mid - 1 } else { low = mid + 1 }
        }
        return false
    }

    /// The address at position `index` in ascending order, without walking the set.
    public func address(at index: UInt128) -> IPAddress? {
        var remaining = index
        for range in ranges {
            if remaining < range.count { return IPAddress(family: range.family, value: range.lower + remaining) }
            remaining -= range.count
        }
        return nil
    }

    /// The set without its first `count` addresses in ascending order.
    public func droppingFirst(_ count: UInt128) -> AddressSet {
        var remaining = count
        var set = AddressSet()
        for range in ranges {
            if remaining >= range.count {
                remaining -= range.count
                continue
            }
            set.ranges.append(AddressRange(family: range.family, lower: range.lower + remaining, upper: range.upper))
            remaining = 0
        }
        return set
    }

    /// The position of `address` in ascending order (the inverse of `address(at:)`).
    public func index(of address: IPAddress) -> UInt128? {
        var offset: UInt128 = 0
        for range in ranges {
            if range.contains(address) { return offset + (address.value - range.lower) }
            offset += range.count
        }
        return nil
    }

    public func makeIterator() -> Iterator { Iterator(ranges: ranges) }

    /// Walks the set in ascending order, one address at a time.
    public struct Iterator: IteratorProtocol {
        let ranges: [AddressRange]
        var rangeIndex = 0
        var upcoming: UInt128?

        init(ranges: [AddressRange]) {
            self.ranges = ranges
            upcoming = ranges.first?.lower
        }

        public mutating func next() -> IPAddress? {
            guard rangeIndex < ranges.count, let value = upcoming else { return nil }
            let range = ranges[rangeIndex]
            if value == range.upper {
                rangeIndex += 1
                upcoming = rangeIndex < ranges.count ? ranges[rangeIndex].lower : nil
            } else {
                upcoming = value + 1
            }
            return IPAddress(family: range.family, value: value)
        }
    }

    static func precedes(_ a: AddressRange, _ b: AddressRange) -> Bool {
        if a.family != b.family { return a.family == .v4 }
        return a.lower < b.lower
    }

    /// True when the two ranges overlap or sit side by side, so they merge into one.
    static func touches(_ a: AddressRange, _ b: AddressRange) -> Bool {
        let (aNext, aOverflow) = a.upper.addingReportingOverflow(1)
        let (bNext, bOverflow) = b.upper.addingReportingOverflow(1)
        return (aOverflow || aNext >= b.lower) && (bOverflow || bNext >= a.lower)
    }

    static func remove(_ cut: AddressRange, from range: AddressRange) -> [AddressRange] {
        if cut.upper < range.lower || cut.lower > range.upper { return [range] }
        var pieces: [AddressRange] = []
        if cut.lower > range.lower {
            pieces.append(AddressRange(family: range.family, lower: range.lower, upper: cut.lower - 1))
        }
        if cut.upper < range.upper {
            pieces.append(AddressRange(family: range.family, lower: cut.upper + 1, upper: range.upper))
        }
        return pieces
    }
}
