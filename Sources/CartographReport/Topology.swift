import CartographCore

/// The network one map saw, as a graph to draw: the scanner, the routers (one per device, with
/// every address it was seen with), the subnets each router serves, and the hosts in them.
///
/// Built from the map result alone, so a report rendered later from the store draws the same
/// graph. The rules that merge a router's addresses and place a host behind a router are in
/// docs/html-report.md; each one uses only what the traceroute and the sweep recorded (`forwards`,
/// `hops`, host names).
struct Topology {
    /// A router: one device, however many of its addresses the map saw.
    struct Router {
        /// Positions in the map's host list, traced hops first, then in address order.
        var members: [Int]
        /// Routers between the scanner and this one (0: the scanner's gateway); nil when unknown.
        var depth: Int?
    }

    /// Who a subnet is reached through.
    enum Gateway: Hashable {
        /// No router in between: the scanner's own link.
        case scanner
        case router(Int)
        /// Behind routers the traceroute did not see (`hops` of them, when the TTL told).
        case unknown(hops: Int?)
    }

    /// A netblock (or, for sparse ones, the prefix covering several) behind one gateway.
    struct Subnet {
        var prefix: String
        var gateway: Gateway
        /// Positions in the map's host list, in address order.
        var hosts: [Int]
        /// Netblocks merged into this node (1 for a plain /24 or /64).
        var blocks: Int
        /// Drawn as one node with counts instead of one node per host.
        var clustered = false
    }

    /// A link between two routers (`from` nil: the scanner); `inferred` when no traced path
    /// holds both ends and the link follows from distances alone.
    struct Link: Hashable {
        var from: Int?
        var to: Int
        var inferred: Bool
    }

    var routers: [Router] = []
    var links: [Link] = []
    var subnets: [Subnet] = []
    /// Router index for each member position.
    var routerOf: [Int: Int] = [:]

    /// A subnet with more hosts than this is drawn as one node.
    static let clusterAbove = 12
    /// Hosts drawn as nodes of their own in one map, at most; past it the largest subnets are
    /// clustered first, so the graph stays small enough to read and for dot to lay out fast.
    static let hostNodeBudget = 60
    /// Subnets drawn host by host in one map, at most.
    static let openSubnetBudget = 8
    /// A map with more subnets than this is an overview: every subnet is one cell or node.
    static let overviewFrom = 16
    /// Sparse netblocks (fewer hosts than this) behind one router are merged per /16 (/48)…
    static let sparseBelow = 3
    /// …when at least this many of them share it.
    static let mergeFrom = 3

    init(_ map: MapResult) {
        let hosts = map.hosts
        var address: [Int: IPAddress] = [:]
        var live: [Int] = []
        for (position, host) in hosts.enumerated() where host.excluded != true {
            guard let parsed = IPAddress(host.address) else { continue }
            address[position] = parsed
            live.append(position)
        }
        let byAddress = Dictionary(live.map { (hosts[$0].address, $0) }, uniquingKeysWith: { a, _ in a })
        func block(_ position: Int) -> IPAddress { Self.netblock(of: address[position]!) }

        // Traced routers: hosts that forwarded probes.
        let traced = live.filter { !(hosts[$0].forwards ?? []).isEmpty }
        let tracedSet = Set(traced)
        // The distances of each netblock's hosts, and the addresses a traced router forwarded to.
        var deeper: [IPAddress: Set<Int>] = [:]
        let forwarded = Set(traced.flatMap { hosts[$0].forwards ?? [] })
        for position in live where !tracedSet.contains(position) {
            if let hops = hosts[position].hops { deeper[block(position), default: []].insert(hops) }
        }

        // Interface rule: an address as far away as the routers, in a netblock whose other hosts
        // are one router further, is that router's own address on the netblock.
        var parent = Dictionary(uniqueKeysWithValues: traced.map { ($0, $0) })
        func find(_ x: Int) -> Int {
            var x = x
            while let p = parent[x], p != x { x = p }
            return x
        }
        func union(_ a: Int, _ b: Int) {
            let (ra, rb) = (find(a), find(b))
            if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
        }
        // A host behind a router (one it forwarded to) is not that router, whatever its TTL says;
        // an address with no router to join stays a host unless it was classified a router.
        for position in live where !tracedSet.contains(position) && !forwarded.contains(hosts[position].address) {
            guard let hops = hosts[position].hops, deeper[block(position)]?.contains(hops + 1) == true else { continue }
            let here = block(position)
            let serving = traced.filter { router in
                hosts[router].hops == hops
                    && (hosts[router].forwards ?? []).contains { IPAddress($0).map(Self.netblock) == here }
            }
            let sameDepth = traced.filter { hosts[$0].hops == hops && address[$0]!.family == address[position]!.family }
            if let router = serving.first ?? (sameDepth.count == 1 ? sameDepth.first : nil) {
                parent[position] = position
                union(position, router)
            } else if hosts[position].deviceType == DeviceType.router.rawValue {
                parent[position] = position
            }
        }
        // Name rule: router addresses that share a host name are one device.
        var byName: [String: Int] = [:]
        for position in parent.keys.sorted() {
            for name in hosts[position].hostnames.map({ Self.normalized($0.name) }) where !name.isEmpty {
                if let other = byName[name] { union(position, other) } else { byName[name] = position }
            }
        }

        // Devices, ordered by their first traced address.
        var groups: [Int: [Int]] = [:]
        for position in parent.keys { groups[find(position), default: []].append(position) }
        let ordered = groups.values.map { members in
            members.sorted { a, b in
                (tracedSet.contains(a) ? 0 : 1, address[a]!) < (tracedSet.contains(b) ? 0 : 1, address[b]!)
            }
        }.sorted { address[$0[0]]! < address[$1[0]]! }
        for (index, members) in ordered.enumerated() {
            let depth = members.compactMap { hosts[$0].hops }.min()
            routers.append(Router(members: members, depth: depth))
            for member in members { routerOf[member] = index }
        }

        // Router to router: consecutive routers on the path to one destination (the path to a
        // router's own address ends at that router).
        var chains: [String: [Int]] = [:]
        for router in traced {
            for destination in hosts[router].forwards ?? [] { chains[destination, default: []].append(routerOf[router]!) }
        }
        var linkSet = Set<Link>()
        var incoming = Set<Int>()
        for (destination, chain) in chains {
            var devices = Set(chain).sorted { (routers[$0].depth ?? 0, $0) < (routers[$1].depth ?? 0, $1) }
            // A trace to one of a router's own addresses ends at that router.
            if let position = byAddress[destination], let last = routerOf[position] {
                devices.removeAll { $0 == last }
                devices.append(last)
            }
            for (a, b) in zip(devices, devices.dropFirst()) {
                linkSet.insert(Link(from: a, to: b, inferred: false))
                incoming.insert(b)
            }
        }
        for (index, router) in routers.enumerated() where !incoming.contains(index) {
            let upstream = router.depth.map { depth in routers.indices.filter { routers[$0].depth == depth - 1 } } ?? []
            if router.depth == 0 {
                linkSet.insert(Link(from: nil, to: index, inferred: false))
            } else if upstream.count == 1 {
                linkSet.insert(Link(from: upstream[0], to: index, inferred: true))
            } else {
                linkSet.insert(Link(from: nil, to: index, inferred: true))
            }
        }
        links = linkSet.sorted { ($0.from ?? -1, $0.to) < ($1.from ?? -1, $1.to) }

        // Where each host is: behind the deepest router that forwarded towards it, else behind
        // the router that owns an address in its netblock or forwarded to a neighbour there,
        // else behind the only router one hop nearer.
        var blockGateway: [IPAddress: Int] = [:]
        for (index, router) in routers.enumerated() {
            for member in router.members where !tracedSet.contains(member) { blockGateway[block(member)] = index }
        }
        var forwarder: [Int: Int] = [:]
        for (destination, chain) in chains {
            guard let position = byAddress[destination], routerOf[position] == nil else { continue }
            let deepest = chain.max { (routers[$0].depth ?? 0) < (routers[$1].depth ?? 0) }!
            forwarder[position] = deepest
            if blockGateway[block(position)] == nil { blockGateway[block(position)] = deepest }
        }
        // Hosts whose distance is unknown (no TTL seen) go where their netblock's other hosts are.
        var placed: [Gateway: [IPAddress: [Int]]] = [:]
        var blockPlaced: [IPAddress: Gateway] = [:]
        let unplaced = live.filter { routerOf[$0] == nil }
        let (known, unknown) = (unplaced.filter { hosts[$0].hops != nil || forwarder[$0] != nil },
                                unplaced.filter { hosts[$0].hops == nil && forwarder[$0] == nil })
        for position in known + unknown {
            let hops = hosts[position].hops
            let gateway: Gateway
            if hops == nil, forwarder[position] == nil {
                gateway = blockPlaced[block(position)] ?? blockGateway[block(position)].map(Gateway.router) ?? .unknown(hops: nil)
            } else if let router = forwarder[position] {
                gateway = .router(router)
            } else if hops == 0 {
                gateway = .scanner
            } else if let router = blockGateway[block(position)] {
                gateway = .router(router)
            } else if let hops, case let nearer = routers.indices.filter({ routers[$0].depth == hops - 1 }), nearer.count == 1 {
                gateway = .router(nearer[0])
            } else {
                gateway = .unknown(hops: hops)
            }
            placed[gateway, default: [:]][block(position), default: []].append(position)
            if blockPlaced[block(position)] == nil { blockPlaced[block(position)] = gateway }
        }

        // Subnets; sparse netblocks behind one gateway merge per /16 (IPv4) or /48 (IPv6).
        for (gateway, blocks) in placed {
            var sparse: [IPAddress: [IPAddress]] = [:]
            for (base, members) in blocks where members.count < Self.sparseBelow {
                sparse[Self.prefix(base, bits: base.family == .v4 ? 16 : 48), default: []].append(base)
            }
            var merged = Set<IPAddress>()
            for bases in sparse.values where bases.count >= Self.mergeFrom {
                let sorted = bases.sorted()
                let members = sorted.flatMap { blocks[$0]! }
                merged.formUnion(sorted)
                subnets.append(Subnet(prefix: Self.covering(sorted.first!, sorted.last!), gateway: gateway,
                                      hosts: members.sorted { address[$0]! < address[$1]! }, blocks: sorted.count))
            }
            for (base, members) in blocks where !merged.contains(base) {
                subnets.append(Subnet(prefix: Self.label(base), gateway: gateway,
                                      hosts: members.sorted { address[$0]! < address[$1]! }, blocks: 1))
            }
        }
        subnets.sort { address[$0.hosts[0]]! < address[$1.hosts[0]]! }

        // Clusters: big subnets (all of them in a map of many subnets), then the largest ones
        // until the host nodes and the subnets drawn host by host fit their budgets.
        var drawn = 0, open = 0
        for index in subnets.indices {
            if subnets[index].hosts.count > Self.clusterAbove || subnets.count > Self.overviewFrom {
                subnets[index].clustered = true
            } else {
                drawn += subnets[index].hosts.count
                open += 1
            }
        }
        for index in subnets.indices.sorted(by: { subnets[$0].hosts.count > subnets[$1].hosts.count })
        where drawn > Self.hostNodeBudget || open > Self.openSubnetBudget {
            guard !subnets[index].clustered else { continue }
            subnets[index].clustered = true
            drawn -= subnets[index].hosts.count
            open -= 1
        }
    }

    // MARK: Addresses

    /// The netblock a host is drawn in: its /24 (IPv4) or /64 (IPv6).
    static func netblock(of address: IPAddress) -> IPAddress {
        prefix(address, bits: address.family == .v4 ? 24 : 64)
    }

    static func prefix(_ address: IPAddress, bits: Int) -> IPAddress {
        let hostBits = address.family.bits - bits
        return IPAddress(family: address.family, value: (address.value >> hostBits) << hostBits)
    }

    static func label(_ base: IPAddress) -> String { "\(base)/\(base.family == .v4 ? 24 : 64)" }

    /// The smallest prefix holding both netblocks.
    static func covering(_ low: IPAddress, _ high: IPAddress) -> String {
        let width = low.family.bits
        let differing = low.value ^ high.value
        let common = differing == 0 ? width : width - (UInt128.bitWidth - differing.leadingZeroBitCount)
        let bits = min(common, low.family == .v4 ? 24 : 64)
        return "\(prefix(low, bits: bits))/\(bits)"
    }

    /// A host name compared for the name rule: lower case, without the root's dot.
    static func normalized(_ name: String) -> String {
        var name = name.lowercased()
        while name.hasSuffix(".") { name.removeLast() }
        return name
    }
}
