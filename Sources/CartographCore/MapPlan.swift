/// What one map covers: its title, what it was asked to cover, and the addresses to scan.
public struct MapSpec: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        /// A domain map: addresses come from DNS plus the domain's netblocks.
        case domain(String)
        /// The map of all bare addresses and `none:[...]` netblocks of a request.
        case none
    }

    public let kind: Kind
    /// The asset group a `none` map holds the addresses of (`@office`), when it came from one.
    public var group: String?
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

    public init(kind: Kind, group: String? = nil, netblocks: [AddressRange], addresses: AddressSet, excludedCount: UInt128) {
        self.kind = kind
        self.group = group
        self.netblocks = netblocks
        self.addresses = addresses
        self.excludedCount = excludedCount
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

/// Which parts of an asset group `@NAME` become maps.
public enum GroupTargets: String, Sendable, CaseIterable {
    case domains, ips, both
}

/// Turns a request's targets into maps: one per domain, one for all bare addresses, and for
/// each asset group one map per domain plus one for its addresses. A registered domain given
/// without netblocks takes the inventory's; with the inventory's scope `registered`, targets
/// outside the registered domains and netblocks are refused by name.
public enum Planner {
    public static func plan(targets: [Target], excluded: AddressSet, inventory: Inventory = Inventory(),
                            groupTargets: GroupTargets = .both) throws(PlanError) -> [MapSpec] {
        var domainOrder: [String] = []
        var domainBlocks: [String: [AddressRange]] = [:]
        var bare: [AddressRange] = []
        var groupMaps: [(String, [AddressRange])] = []
        func addDomain(_ name: String, _ blocks: [AddressRange]) {
            if domainBlocks[name] == nil {
                domainOrder.append(name)
                domainBlocks[name] = []
            }
            domainBlocks[name]! += blocks
        }
        for target in targets {
            switch target {
            case .addresses(let range):
                bare.append(range)
            case .none(let blocks):
                bare += blocks
            case .domain(let name, let blocks):
                addDomain(name, blocks.isEmpty ? inventory.domain(named: name)?.netblocks ?? [] : blocks)
            case .assetGroup(let name):
                guard let group = inventory.groups.first(where: { $0.name == name }) else {
                    if inventory.file == Inventory().file {
                        throw PlanError(message: "asset group \"@\(name)\" is unknown: no inventory was loaded (--inventory FILE)")
                    }
                    let known = inventory.groups.map { "@\($0.name)" }.joined(separator: ", ")
                    throw PlanError(message: "asset group \"@\(name)\" is not in the inventory \(inventory.file)"
                                    + (known.isEmpty ? "" : " (groups: \(known))"))
                }
                if groupTargets != .ips {
                    for domain in group.domains { addDomain(domain, inventory.domain(named: domain)?.netblocks ?? []) }
                }
                if groupTargets != .domains && !group.ips.isEmpty { groupMaps.append((name, group.ips)) }
            }
        }
        if inventory.scope == .registered {
            try checkScope(domains: domainOrder, blocks: bare + groupMaps.flatMap(\.1), inventory: inventory)
        }
        var maps: [MapSpec] = []
        for name in domainOrder {
            maps.append(spec(kind: .domain(name), blocks: domainBlocks[name]!, excluded: excluded))
        }
        if !bare.isEmpty {
            maps.append(spec(kind: .none, blocks: bare, excluded: excluded))
        }
        for (name, blocks) in groupMaps {
            var map = spec(kind: .none, blocks: blocks, excluded: excluded)
            map.group = name
            maps.append(map)
        }
        return maps
    }

    static func checkScope(domains: [String], blocks: [AddressRange], inventory: Inventory) throws(PlanError) {
        var outside = domains.filter { inventory.registeredDomain(for: $0) == nil }
        let registered = inventory.registeredAddresses
        outside += blocks.filter { !AddressSet([$0]).subtracting(registered).isEmpty }.map(\.description)
        guard outside.isEmpty else {
            throw PlanError(message: "outside the registered domains and netblocks of \(inventory.file) (scope: registered): "
                            + outside.joined(separator: ", "))
        }
    }

    static func spec(kind: MapSpec.Kind, blocks: [AddressRange], excluded: AddressSet) -> MapSpec {
        var unique: [AddressRange] = []
        for block in blocks where !unique.contains(block) { unique.append(block) }
        let all = AddressSet(unique)
        let allowed = all.subtracting(excluded)
        return MapSpec(kind: kind, netblocks: unique, addresses: allowed, excludedCount: all.count - allowed.count)
    }
}

extension MapSpec {
    /// Shard `index` of `count` (`--scanner all`): the map's addresses whose place in one keyed
    /// permutation of them is `index` modulo `count`, so shards of one seed are disjoint, cover
    /// the map, and each holds an even spread of it (not one scanner the first half of a /16).
    /// Above 65,536 addresses the permutation orders runs of consecutive addresses instead of
    /// single ones, so a shard of a /8 is about 65,536 ranges, not millions of addresses.
    public func shard(_ index: Int, of count: Int, seed: UInt64) -> MapSpec {
        guard count > 1 else { return self }
        let total = addresses.count
        let run = max(1, (total + 65_535) / 65_536)
        let units = (total + run - 1) / run
        let order = Permutation(count: UInt64(units), seed: seed)
        var set = AddressSet()
        for unit in 0..<UInt64(units) where order.permute(unit) % UInt64(count) == UInt64(index) {
            let first = UInt128(unit) * run, last = min(first + run, total) - 1
            var position = first
            // A run may cross from one of the set's ranges into the next: one range per piece.
            while position <= last, let start = addresses.address(at: position) {
                var end = position
                while end < last, let next = addresses.address(at: end + 1), next.value == start.value + (end + 1 - position) { end += 1 }
                set.insert(AddressRange(family: start.family, lower: start.value, upper: start.value + (end - position)))
                position = end + 1
            }
        }
        return MapSpec(kind: kind, group: group, netblocks: netblocks, addresses: set, excludedCount: excludedCount)
    }
}
