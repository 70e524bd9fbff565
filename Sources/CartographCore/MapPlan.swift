/// What one map covers: its title, what it was asked to cover, and the addresses to scan.
public struct MapSpec: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// A domain map: addresses come from DNS plus the domain's netblocks.
        case domain(String)
        /// The map of all bare addresses and `none:[...]` netblocks of a request.
        case none
    }

    public let kind: Kind
    /// Netblocks given with the target (for `none`, every bare address range).
    public let netblocks: [AddressRange]
    /// Addresses that may be scanned: the netblocks, less every excluded address.
    public let addresses: AddressSet
    /// Addresses of the netblocks that were excluded and so receive nothing.
    public let excludedCount: UInt128

    /// The target as written in reports: `example.com`, `example.com:[10.0.0.0/24]`, `none:[...]`.
    public var target: String {
        let blocks = netblocks.map(\.description).joined(separator: ", ")
        switch kind {
        case .domain(let name): return netblocks.isEmpty ? name : "\(name):[\(blocks)]"
        case .none: return "none:[\(blocks)]"
        }
    }

    public var domain: String? {
        if case .domain(let name) = kind { return name }
        return nil
    }
}

/// Why a request cannot be planned.
public struct PlanError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Turns a request's targets into maps: one per domain, one for all bare addresses.
public enum Planner {
    public static func plan(targets: [Target], excluded: AddressSet) throws(PlanError) -> [MapSpec] {
        var domainOrder: [String] = []
        var domainBlocks: [String: [AddressRange]] = [:]
        var bare: [AddressRange] = []
        for target in targets {
            switch target {
            case .addresses(let range):
                bare.append(range)
            case .none(let blocks):
                bare += blocks
            case .domain(let name, let blocks):
                if domainBlocks[name] == nil {
                    domainOrder.append(name)
                    domainBlocks[name] = []
                }
                domainBlocks[name]! += blocks
            case .assetGroup(let name):
                throw PlanError(message: "asset group \"@\(name)\" is unknown: no inventory defines it")
            }
        }
        var maps: [MapSpec] = []
        for name in domainOrder {
            maps.append(spec(kind: .domain(name), blocks: domainBlocks[name]!, excluded: excluded))
        }
        if !bare.isEmpty {
            maps.append(spec(kind: .none, blocks: bare, excluded: excluded))
        }
        return maps
    }

    static func spec(kind: MapSpec.Kind, blocks: [AddressRange], excluded: AddressSet) -> MapSpec {
        var unique: [AddressRange] = []
        for block in blocks where !unique.contains(block) { unique.append(block) }
        let all = AddressSet(unique)
        let allowed = all.subtracting(excluded)
        return MapSpec(kind: kind, netblocks: unique, addresses: allowed, excludedCount: all.count - allowed.count)
    }
}
