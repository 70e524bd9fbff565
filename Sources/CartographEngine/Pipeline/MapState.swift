import CartographCore
import CartographNet
import CartographProbes
import Foundation

struct PortKey: Hashable {
    let address: IPAddress
    let port: UInt16
    let proto: TransportProtocol
}

/// What one map has found so far, folded from its stages' events in the order they arrive, and
/// the `MapResult` it makes (the final one, and the checkpoints the store writes while the map
/// runs so that a map cut short keeps what it found). Owned by the scheduler's thread.
struct MapState {
    let spec: MapSpec
    let profile: String
    let started = Date()
    /// The discovery method of services no probe identified (`tcp-syn`, `tcp-connect`).
    let scanMethod: String
    let excluded: AddressSet
    /// Without a sweep, a host is live when any of its ports answered.
    let sweeping: Bool
    /// Whether the scan engine probed UDP ports itself (silence is open|filtered, not filtered).
    let rawUDP: Bool

    var addresses: AddressSet
    var warnings: [String] = []
    var names: [IPAddress: [Hostname]] = [:]
    /// Addresses DNS found (listed even when they do not answer), and excluded ones DNS named.
    var dnsFound = Set<IPAddress>()
    var excludedNamed = Set<IPAddress>()
    var live: [IPAddress: [String]] = [:]
    var ttls: [IPAddress: Int] = [:]
    var order: [IPAddress] = []
    /// Each host's open ports, and all its UDP ports (identification may find one open).
    var ports: [IPAddress: [PortObservation]] = [:]
    /// Each host's closed and filtered TCP ports, counted: a full-port scan has 65535 a host,
    /// which the report only counts, and every checkpoint would walk again.
    var quietCounts: [IPAddress: (closed: Int, filtered: Int)] = [:]
    var openPorts = 0
    var identified: [PortKey: PortIdentification] = [:]
    var paths: [TracedPath] = []
    var classes: [String: HostClassification] = [:]
    /// Hosts whose port scan ended, in this run or the interrupted one it continues.
    var scanned = AddressSet()
    /// The closed and filtered port counts of hosts whose scan the interrupted map finished.
    var carriedCounts: [IPAddress: (closed: Int, filtered: Int)] = [:]

    init(spec: MapSpec, profile: String, scanMethod: String, excluded: AddressSet, sweeping: Bool, rawUDP: Bool) {
        self.spec = spec
        self.profile = profile
        self.scanMethod = scanMethod
        self.excluded = excluded
        self.sweeping = sweeping
        self.rawUDP = rawUDP
        addresses = spec.addresses
    }

    /// Folds one event in. Returns the address when the event made a host live for the first time.
    @discardableResult
    mutating func apply(_ event: MapEvent) -> [IPAddress] {
        switch event {
        case .live(let address, let method, let ttl):
            let new = live[address] == nil
            if new { order.append(address) }
            if !(live[address] ?? []).contains(method) { live[address, default: []].append(method) }
            if let ttl, ttls[address] == nil { ttls[address] = Int(ttl) }
            return new ? [address] : []
        case .port(let observation):
            return record(observation).map { [$0] } ?? []
        case .ports(let observations):
            return observations.compactMap { record($0) }
        case .name(let address, let hostname, let found):
            let known = names[address] ?? []
            let duplicate = hostname.source == "dns-ptr" ? known.contains { $0.name == hostname.name } : known.contains(hostname)
            if !duplicate { names[address, default: []].append(hostname) }
            guard found else { break }
            // DNS may name an excluded host: it is listed as such, and gets no packet.
            if excluded.contains(address) {
                excludedNamed.insert(address)
            } else {
                addresses.insert(AddressRange(address))
                dnsFound.insert(address)
            }
        case .identified(let result):
            identified[PortKey(address: result.address, port: result.port, proto: result.proto)] = result
            guard result.proto == .udp else { break }
            // A UDP port is open when a probe's payload drew an answer.
            var observations = ports[result.address] ?? []
            let state: PortState = result.match == nil ? (rawUDP ? .openFiltered : .filtered) : .open
            if let index = observations.firstIndex(where: { $0.proto == .udp && $0.port == result.port }) {
                if state == .open { observations[index].state = .open }
            } else {
                observations.append(PortObservation(address: result.address, port: result.port, proto: .udp, state: state))
            }
            ports[result.address] = observations
        case .scanned(let hosts):
            scanned.formUnion(hosts)
        case .path(let path):
            paths.append(path)
        case .warning(let line):
            warnings.append(line)
        case .classified(let address, let found):
            classes[address] = found
        case .finished:
            break
        }
        return []
    }

    /// One port's outcome; the address when it makes a new host (a scan without a sweep).
    private mutating func record(_ observation: PortObservation) -> IPAddress? {
        switch (observation.state, observation.proto) {
        case (.open, _), (_, .udp): ports[observation.address, default: []].append(observation)
        case (.closed, .tcp): quietCounts[observation.address, default: (0, 0)].closed += 1
        case (.filtered, .tcp), (.openFiltered, .tcp): quietCounts[observation.address, default: (0, 0)].filtered += 1
        }
        if observation.state == .open { openPorts += 1 }
        guard !sweeping, observation.state == .open || observation.state == .closed, live[observation.address] == nil else { return nil }
        order.append(observation.address)
        live[observation.address] = ["\(scanMethod):\(observation.port)"]
        return observation.address
    }

    /// Routers on the way (and the destinations they forward towards), and each host's distance:
    /// a host's own answer gives it; a router known only as a hop is as far as the nearest hop
    /// it was seen at.
    func routes() -> (routes: [IPAddress: Set<IPAddress>], distances: [IPAddress: Int]) {
        var routes: [IPAddress: Set<IPAddress>] = [:]
        var distances: [IPAddress: Int] = [:]
        for path in paths {
            if let distance = path.distance { distances[path.destination] = distance }
        }
        let reached = Set(paths.filter { $0.distance != nil }.map(\.destination))
        for path in paths {
            for hop in path.hops where !excluded.contains(hop.router) && hop.router != path.destination {
                routes[hop.router, default: []].insert(path.destination)
                if !reached.contains(hop.router) {
                    distances[hop.router] = min(distances[hop.router] ?? hop.distance, hop.distance)
                }
            }
        }
        return (routes, distances)
    }

    func assemble(_ status: MapResult.Status) -> MapResult {
        let (routes, distances) = routes()
        let results: [HostResult] = Set(order).union(dnsFound).union(routes.keys).sorted().map { address in
            let observations = ports[address] ?? []
            // DNS methods that found the address count as discovery methods too, and so does
            // the traceroute that found a router.
            var methods = Set(live[address] ?? [])
            if dnsFound.contains(address) { methods.formUnion((names[address] ?? []).map(\.source)) }
            if routes[address] != nil { methods.insert("traceroute") }
            var host = HostResult(address: address.description, hostnames: names[address] ?? [],
                                  discovery: methods.sorted(by: MapRunner.discoveryOrder))
            if spec.domain != nil { host.inNetblock = spec.netblocks.contains { $0.contains(address) } }
            host.ttl = ttls[address]
            host.hops = distances[address].map { $0 - 1 } ?? ttls[address].map(MapRunner.hopsFromTTL)
            host.forwards = routes[address].map { $0.sorted().map(\.description) }
            let carried = carriedCounts[address] ?? (0, 0), quiet = quietCounts[address] ?? (0, 0)
            host.closedPorts = carried.closed + quiet.closed + observations.filter { $0.state == .closed }.count
            host.filteredPorts = carried.filtered + quiet.filtered
                + observations.filter { $0.state == .filtered || $0.state == .openFiltered }.count
            host.services = observations.filter { $0.state == .open }
                .sorted { ($0.proto, $0.port) < ($1.proto, $1.port) }
                .map { observation in service(observation, of: address, host: &host) }
            if let found = classes[host.address] {
                host.deviceType = found.deviceType.rawValue
                host.deviceTypeConfidence = found.deviceTypeConfidence
                host.deviceTypeEvidence = found.deviceTypeEvidence
                host.os = found.os
                host.osConfidence = found.os == nil ? nil : found.osConfidence
                host.osEvidence = found.os == nil ? nil : found.osEvidence
            }
            return host
        }

        let excludedHosts = excludedNamed.sorted().map { address in
            var host = HostResult(address: address.description, hostnames: names[address] ?? [],
                                  discovery: Set((names[address] ?? []).map(\.source)).sorted(by: MapRunner.discoveryOrder))
            host.excluded = true
            if spec.domain != nil { host.inNetblock = spec.netblocks.contains { $0.contains(address) } }
            return host
        }

        var result = MapResult(
            target: spec.target, profile: profile,
            status: status,
            startedAt: started, finishedAt: Date(),
            addressesScanned: String(addresses.count), excludedAddresses: String(spec.excludedCount),
            hosts: (results + excludedHosts).sorted { IPAddress($0.address)! < IPAddress($1.address)! }, warnings: warnings)
        result.assetGroup = spec.group
        return result
    }

    /// One open port as the report lists it: what identified it, or the scan's method.
    private func service(_ observation: PortObservation, of address: IPAddress, host: inout HostResult) -> ServiceResult {
        var service = ServiceResult(port: observation.port, protocol: observation.proto, method: scanMethod)
        let key = PortKey(address: address, port: observation.port, proto: observation.proto)
        guard let identification = identified[key] else { return service }
        if let match = identification.match, let method = identification.method {
            service.name = match.name
            service.product = match.product
            service.version = match.version
            service.extraInfo = match.extraInfo
            service.cpe = match.cpe.isEmpty ? nil : match.cpe
            service.method = method
            service.certain = match.certain
            service.deviceType = match.deviceType
            service.os = match.osHints.isEmpty ? nil : match.osHints
            service.tls = identification.tls ? true : nil
            for name in match.hostnames where !host.hostnames.contains(where: { $0.name == name }) {
                host.hostnames.append(Hostname(name: name, source: method))
            }
        }
        if !identification.errors.isEmpty { service.probeErrors = identification.errors }
        return service
    }
}
