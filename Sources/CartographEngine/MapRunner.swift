import CartographCore
import CartographDNS
import CartographNet
import CartographProbes
import Foundation

/// Everything a map run needs besides its spec: the profile, the probes, and the engines.
public struct MapContext {
    public var profile: Profile
    public var probes: ProbeLibrary
    public var excluded: AddressSet
    public var cancel: CancellationFlag
    public var sweepEngine: any HostSweepEngine
    public var scanEngine: any PortScanEngine
    /// Called with one line whenever a stage starts, for progress on stderr.
    public var note: (String) -> Void
    /// Host names to guess under each domain when the profile asks for it.
    public var guessWords: [String] = []
    /// The inventory's registered netblocks, for the `registered` gathering scope.
    public var registered = AddressSet()
    /// Called with the map so far (status `running`) after each stage and at most every 2 s
    /// while hosts and ports are found, so the store keeps what an interrupted map found.
    public var checkpoint: ((MapResult) -> Void)?
    /// Gives each host a device type and OS family (the Lua rules in `Probes/classify/`).
    public var classifier: (any HostClassifying)?
    /// Where each stage reports how far it has got, for the progress line.
    public var progress = ProgressMeter()

    public init(profile: Profile, probes: ProbeLibrary, excluded: AddressSet, cancel: CancellationFlag,
                sweepEngine: any HostSweepEngine = ConnectSweepEngine(),
                scanEngine: any PortScanEngine = ConnectScanEngine(), note: @escaping (String) -> Void = { _ in }) {
        self.profile = profile
        self.probes = probes
        self.excluded = excluded
        self.cancel = cancel
        self.sweepEngine = sweepEngine
        self.scanEngine = scanEngine
        self.note = note
    }
}

/// The core scheduler: runs one map's stages in order (names, live host sweep, port discovery,
/// reverse lookups, identification) and assembles the result. Each stage hands the next a
/// plain value; a cancelled run stops sending and keeps what it found, marked interrupted.
public struct MapRunner {
    public let context: MapContext

    public init(context: MapContext) { self.context = context }

    /// Discovery methods in a stable order: by name, then by port number.
    static func discoveryOrder(_ a: String, _ b: String) -> Bool {
        let (nameA, portA) = split(a), (nameB, portB) = split(b)
        return (nameA, portA) < (nameB, portB)
    }

    /// Routers between us and a host, from its reply's TTL: replies start at 32, 64, 128 or 255.
    static func hopsFromTTL(_ ttl: Int) -> Int {
        let initial = [32, 64, 128, 255].first { $0 >= ttl } ?? 255
        return initial - ttl
    }

    static func split(_ method: String) -> (String, Int) {
        let parts = method.split(separator: ":", maxSplits: 1)
        return (String(parts.first ?? ""), parts.count > 1 ? Int(parts[1]) ?? 0 : 0)
    }

    public func run(_ spec: MapSpec) throws -> MapResult {
        let profile = context.profile
        let cancel = context.cancel
        let progress = context.progress
        progress.startMap(spec.target)
        let started = Date()
        var warnings = context.probes.errors.map(\.description)
        var addresses = spec.addresses
        var names: [IPAddress: [Hostname]] = [:]
        // Addresses DNS found (they are listed even when they do not answer), excluded ones DNS
        // named, and addresses whose PTR records were already asked for.
        var dnsFound = Set<IPAddress>()
        var excludedNamed = Set<IPAddress>()
        var reversed = Set<IPAddress>()

        // The map as it stands: the final result, and the checkpoints the store writes while the
        // map runs so that a map cut short keeps what it found.
        var live: [IPAddress: [String]] = [:]
        var ttls: [IPAddress: Int] = [:]
        var order: [IPAddress] = []
        var ports: [IPAddress: [PortObservation]] = [:]
        var identified: [PortKey: PortIdentification] = [:]
        // Traceroute: routers and the destinations they forwarded towards; hosts' distances.
        var routes: [IPAddress: Set<IPAddress>] = [:]
        var distances: [IPAddress: Int] = [:]
        func assemble(_ status: MapResult.Status) -> MapResult {
            let results: [HostResult] = Set(order).union(dnsFound).union(routes.keys).sorted().map { address in
                let observations = ports[address] ?? []
                // DNS methods that found the address count as discovery methods too, and so does
                // the traceroute that found a router.
                var methods = Set(live[address] ?? [])
                if dnsFound.contains(address) { methods.formUnion((names[address] ?? []).map(\.source)) }
                if routes[address] != nil { methods.insert("traceroute") }
                var host = HostResult(address: address.description, hostnames: names[address] ?? [],
                                      discovery: methods.sorted(by: Self.discoveryOrder))
                if spec.domain != nil { host.inNetblock = spec.netblocks.contains { $0.contains(address) } }
                host.ttl = ttls[address]
                host.hops = distances[address].map { $0 - 1 } ?? ttls[address].map(Self.hopsFromTTL)
                host.forwards = routes[address].map { $0.sorted().map(\.description) }
                host.closedPorts = observations.filter { $0.state == .closed }.count
                host.filteredPorts = observations.filter { $0.state == .filtered || $0.state == .openFiltered }.count
                host.services = observations.filter { $0.state == .open }
                    .sorted { ($0.proto, $0.port) < ($1.proto, $1.port) }
                    .map { observation in
                        var service = ServiceResult(port: observation.port, protocol: observation.proto,
                                                    method: context.scanEngine.method)
                        let key = PortKey(address: address, port: observation.port, proto: observation.proto)
                        if let identification = identified[key] {
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
                        }
                        return service
                    }
                return host
            }

            let excludedHosts = excludedNamed.sorted().map { address in
                var host = HostResult(address: address.description, hostnames: names[address] ?? [],
                                      discovery: Set((names[address] ?? []).map(\.source)).sorted(by: Self.discoveryOrder))
                host.excluded = true
                if spec.domain != nil { host.inNetblock = spec.netblocks.contains { $0.contains(address) } }
                return host
            }

            var result = MapResult(
                target: spec.target, profile: profile.name,
                status: status,
                startedAt: started, finishedAt: Date(),
                addressesScanned: String(addresses.count), excludedAddresses: String(spec.excludedCount),
                hosts: (results + excludedHosts).sorted { IPAddress($0.address)! < IPAddress($1.address)! }, warnings: warnings)
            result.assetGroup = spec.group
            return result
        }
        var lastCheckpoint = Date()
        /// Hands the map so far to the store; `force` at stage ends, else at most every 2 s.
        func checkpoint(force: Bool = true) {
            guard let save = context.checkpoint, force || Date().timeIntervalSince(lastCheckpoint) >= 2 else { return }
            lastCheckpoint = Date()
            save(assemble(.running))
        }

        let dnsServers = profile.dns.servers.isEmpty ? DNSClient.systemServers() : profile.dns.servers
        let dns = DNSClient(servers: dnsServers, concurrency: 64, rate: 500)

        // Names: a domain map starts from the domain's addresses, its name servers' and its mail
        // exchangers'.
        if let domain = spec.domain {
            progress.begin(.names, total: 0)
            context.note("looking up \(domain) (A, AAAA, NS, MX) at \(dnsServers.map(\.description).joined(separator: ", "))")
            var found = DomainLookup.run(domain, client: dns, profile: profile.dns, words: context.guessWords,
                                         cancel: cancel, warnings: &warnings)
            if found.isEmpty, case .success(let local)? = SystemResolver.addresses(of: domain, cancel: cancel) {
                // /etc/hosts and the like, which DNS does not see.
                found = local.map { ($0, Hostname(name: domain, source: "dns-a")) }
            }
            if found.isEmpty && spec.netblocks.isEmpty && !cancel.isCancelled {
                throw MapError(message: "\(domain) has no addresses in DNS (asked \(dnsServers.map(\.description).joined(separator: ", ")))")
            }
            for (address, hostname) in found {
                if !(names[address] ?? []).contains(hostname) { names[address, default: []].append(hostname) }
                // DNS may name an excluded host: it is listed as such, and gets no packet.
                if context.excluded.contains(address) {
                    excludedNamed.insert(address)
                    continue
                }
                addresses.insert(AddressRange(address))
                dnsFound.insert(address)
            }

            // PTR lookups over the domain's netblocks: names for addresses that may not answer.
            let blocks = AddressSet(spec.netblocks).subtracting(context.excluded)
            if profile.dns.reverseLookups && !blocks.isEmpty && blocks.count <= 65536 && !cancel.isCancelled {
                let targets = Array(blocks)
                context.note("reverse lookups of \(targets.count) netblock address(es)")
                for (address, name) in ReverseLookup.run(targets, client: dns, cancel: cancel) {
                    if !(names[address] ?? []).contains(where: { $0.name == name }) {
                        names[address, default: []].append(Hostname(name: name, source: "dns-ptr"))
                    }
                    dnsFound.insert(address)
                }
                reversed.formUnion(targets)
            }
        }

        // The hosts that may be scanned and probed further, by the profile's gathering scope.
        let scope = profile.informationGathering.scope
        let scopeSet: AddressSet? = switch scope {
        case .all: nil
        case .registered: context.registered
        case .netblock: AddressSet(spec.netblocks)
        case .none: AddressSet()
        }
        func inScope(_ address: IPAddress) -> Bool { scopeSet?.contains(address) ?? true }
        if scope == .none { addresses = AddressSet() }   // DNS only: no packet to any host

        checkpoint()

        // Live host sweep.
        let sweeping = profile.hostDiscovery.enabled
        if sweeping {
            context.note("sweeping \(addresses.count) address(es) of \(spec.target)")
            progress.begin(.sweep, total: 0)
            try context.sweepEngine.sweep(addresses, profile: profile, cancel: cancel, progress: progress) { address, method, ttl in
                if live[address] == nil {
                    order.append(address)
                    progress.found(hosts: order.count)
                }
                if !(live[address] ?? []).contains(method) { live[address, default: []].append(method) }
                if let ttl, ttls[address] == nil { ttls[address] = Int(ttl) }
                checkpoint(force: false)
            }
            warnings += context.sweepEngine.coverageWarnings()
            checkpoint()
        }

        // Port discovery. Without a sweep, every address is scanned and a host counts as live
        // when any port answered.
        let selection = PortSelection(tcp: profile.informationGathering.tcpPorts, udp: profile.informationGathering.udpPorts)
        if profile.informationGathering.portScan && !selection.isEmpty && !cancel.isCancelled {
            let engine = context.scanEngine
            // Units of scan work per host: the raw engine probes UDP ports itself.
            let perHost = selection.tcp.count + (engine.scansUDP ? selection.udp.count : 0)
            var openPorts = 0
            let observe: (PortObservation) -> Void = { observation in
                if observation.state == .open {
                    openPorts += 1
                    progress.found(openPorts: openPorts)
                }
                if observation.state == .open || observation.state == .closed, live[observation.address] == nil, !sweeping {
                    order.append(observation.address)
                    live[observation.address] = ["\(engine.method):\(observation.port)"]
                    progress.found(hosts: order.count)
                }
                ports[observation.address, default: []].append(observation)
                checkpoint(force: false)
            }
            if sweeping {
                let hosts = order.sorted().filter(inScope)
                context.note("scanning \(selection.tcp.count) port(s) on \(hosts.count) live host(s)")
                progress.begin(.scan, total: hosts.count * perHost)
                try engine.scan(hosts: hosts, ports: selection, profile: profile, cancel: cancel, progress: progress, observe: observe)
            } else {
                context.note("scanning \(selection.tcp.count) port(s) on \(addresses.count) address(es), every one assumed live")
                let scanned = scopeSet.map { addresses.subtracting(addresses.subtracting($0)) } ?? addresses
                progress.begin(.scan, total: ProgressMeter.units(scanned.count, times: perHost))
                try engine.scan(hosts: scanned, ports: selection, profile: profile, cancel: cancel, progress: progress, observe: observe)
            }
        } else if !sweeping {
            // No sweep and no scan: every address is taken as live, as the profile says.
            for address in addresses.prefix(1 << 20) where live[address] == nil {
                order.append(address)
                live[address] = ["assumed"]
            }
        }

        warnings += context.scanEngine.coverageWarnings()
        checkpoint()
        let hosts = Set(order).union(dnsFound).sorted()

        // Reverse lookups of the hosts not looked up yet.
        let unnamed = hosts.filter { !reversed.contains($0) }
        if profile.dns.enabled && profile.dns.reverseLookups && !unnamed.isEmpty && !cancel.isCancelled {
            context.note("looking up names of \(unnamed.count) host(s)")
            progress.begin(.names, total: unnamed.count)
            for (address, name) in ReverseLookup.run(unnamed, client: dns, cancel: cancel)
            where !(names[address] ?? []).contains(where: { $0.name == name }) {
                names[address, default: []].append(Hostname(name: name, source: "dns-ptr"))
            }
        }

        if !unnamed.isEmpty { checkpoint() }

        // Identification.
        if profile.probes.enabled && !cancel.isCancelled {
            let (selected, unknown) = context.probes.select(include: profile.probes.include, exclude: profile.probes.exclude)
            if !unknown.isEmpty {
                warnings.append("no probe or category named \(unknown.map { "\"\($0)\"" }.joined(separator: ", "))")
            }
            var jobs = hosts.filter(inScope).flatMap { address in
                (ports[address] ?? []).filter { $0.state == .open }.map {
                    PortJob(address: address, port: $0.port, proto: $0.proto, hostname: names[address]?.first?.name)
                }
            }
            let rawUDP = context.scanEngine.scansUDP
            if rawUDP {
                // Silent UDP ports a probe has a payload for get that payload: an answer makes
                // them open.
                let payloadPorts = Set(selected.filter { $0.proto == .udp }.flatMap(\.ports))
                for address in hosts where inScope(address) {
                    jobs += (ports[address] ?? []).filter { $0.proto == .udp && $0.state == .openFiltered && payloadPorts.contains($0.port) }
                        .map { PortJob(address: address, port: $0.port, proto: .udp, hostname: names[address]?.first?.name) }
                }
            } else if profile.informationGathering.portScan && scope != .none {
                // UDP without raw packets: a port is open when a probe's protocol payload gets
                // an answer, so only ports some probe has a payload for are tried.
                let udpScanned = udpCandidates(selection: selection, probes: selected, warnings: &warnings)
                for address in hosts where inScope(address) {
                    jobs += udpScanned.map { PortJob(address: address, port: $0, proto: .udp, hostname: names[address]?.first?.name) }
                }
            }
            if !selected.isEmpty && !jobs.isEmpty {
                context.note("identifying \(jobs.count) open port(s) with \(selected.count) probe(s)")
                progress.begin(.identification, total: jobs.count)
                var settings = ProbeSettings()
                settings.probeTimeoutMs = profile.performance.probeTimeoutMs
                settings.args = profile.probes.args
                settings.intensity = profile.probes.intensity
                settings.concurrency = max(1, min(profile.performance.concurrency, 1024))
                settings.hostParallelism = profile.performance.hostParallelism
                let identifier = ServiceIdentifier(library: context.probes, probes: selected, settings: settings)
                for result in try identifier.identify(jobs, cancel: cancel, progress: progress) {
                    identified[PortKey(address: result.address, port: result.port, proto: result.proto)] = result
                    guard result.proto == .udp else { continue }
                    var observations = ports[result.address] ?? []
                    let state: PortState = result.match == nil ? (rawUDP ? .openFiltered : .filtered) : .open
                    if let index = observations.firstIndex(where: { $0.proto == .udp && $0.port == result.port }) {
                        if state == .open { observations[index].state = .open }
                    } else {
                        observations.append(PortObservation(address: result.address, port: result.port, proto: .udp, state: state))
                    }
                    ports[result.address] = observations
                }
            }
        } else if !selection.udp.isEmpty && profile.informationGathering.portScan && !context.scanEngine.scansUDP {
            warnings.append("\(selection.udp.count) UDP port(s) were not scanned: without raw packets, UDP ports are found by probe payloads, and identification is off")
        }

        // Path: a short traceroute towards one live host per /24 or /64, whose path the block's
        // other hosts share; its hops are routers.
        if profile.hostDiscovery.traceroute && scope != .none && !order.isEmpty && !cancel.isCancelled {
            let destinations = order.sorted().filter(inScope)
            context.note("tracing the path to \(destinations.count) host(s)")
            progress.begin(.trace, total: destinations.count)
            // The first answer is awaited for a few of the slowest round trips the scan measured.
            let slowest = (ports.values.joined().compactMap(\.rttNanoseconds)
                + [context.sweepEngine.slowestRoundTrip, context.scanEngine.slowestRoundTrip].compactMap { $0 }).max()
            let timeoutMs = slowest.map { min(1500, max(100, Int(4 * $0 / 1_000_000) + 50)) } ?? 1500
            let expected = ttls.mapValues { Self.hopsFromTTL($0) + 1 }
            let paths = Traceroute.trace(destinations, expected: expected, timeoutMs: timeoutMs, cancel: cancel)
            progress.advance(destinations.count)
            let unsent = paths.reduce(0) { $0 + $1.unsent }
            if unsent > 0 { warnings.append("traceroute: \(unsent) probe(s) could not be sent (no socket); routers may be missing") }
            // A host's own answer gives its distance; a router known only as a hop is as far as
            // the nearest hop it was seen at.
            for path in paths {
                if let distance = path.distance { distances[path.destination] = distance }
            }
            let reached = Set(paths.filter { $0.distance != nil }.map(\.destination))
            for path in paths {
                for hop in path.hops where !context.excluded.contains(hop.router) && hop.router != path.destination {
                    routes[hop.router, default: []].insert(path.destination)
                    if !reached.contains(hop.router) {
                        distances[hop.router] = min(distances[hop.router] ?? hop.distance, hop.distance)
                    }
                }
            }
        }

        if !dns.unresponsive.isEmpty {
            let list = dns.unresponsive.map(\.description).joined(separator: ", ")
            warnings.append("DNS: \(list) never answered and \(dns.unresponsive.count == 1 ? "was" : "were") dropped after its first timeouts"
                + (dns.abandoned > 0 ? "; \(dns.abandoned) lookup(s) were given up with no server left" : ""))
        }
        var result = assemble(cancel.isCancelled ? .interrupted : .complete)
        if let classifier = context.classifier, !cancel.isCancelled {
            let indices = result.hosts.indices.filter { result.hosts[$0].excluded != true }
            context.note("classifying \(indices.count) host(s)")
            progress.begin(.classification, total: indices.count)
            // Off our link yet with no router in between: an interface of a neighbouring router.
            let neighbours = Set(indices.map { result.hosts[$0] }.filter { host in
                guard host.hops == 0, let address = IPAddress(host.address), !address.isLoopback else { return false }
                return !LocalLinks.isAttached(address)
            }.map(\.address))
            let classes = classifier.classify(indices.map { result.hosts[$0] }, neighbours: neighbours, warnings: &warnings)
            progress.advance(indices.count)
            for (index, found) in zip(indices, classes) {
                guard let found else { continue }
                result.hosts[index].deviceType = found.deviceType.rawValue
                result.hosts[index].deviceTypeConfidence = found.deviceTypeConfidence
                result.hosts[index].deviceTypeEvidence = found.deviceTypeEvidence
                result.hosts[index].os = found.os
                result.hosts[index].osConfidence = found.os == nil ? nil : found.osConfidence
                result.hosts[index].osEvidence = found.os == nil ? nil : found.osEvidence
            }
            result.warnings = warnings
        }
        return result
    }
}

/// PTR lookups of many addresses at once; returns the names found.
enum ReverseLookup {
    static func run(_ addresses: [IPAddress], client: DNSClient, cancel: CancellationFlag) -> [(IPAddress, String)] {
        let questions = addresses.map { DNSQuestion(DNSMessage.reverseName($0), .ptr) }
        let responses = client.resolve(questions, cancel: cancel)
        var found: [(IPAddress, String)] = []
        for (address, question) in zip(addresses, questions) {
            for record in responses[question]?.answers ?? [] {
                if case .name(let name) = record.data { found.append((address, name)) }
            }
        }
        return found
    }
}

/// Forward lookups of a domain: its A and AAAA records (`dns-a`), and the addresses of its name
/// servers (`dns-ns`) and mail exchangers (`dns-mx`), named after those hosts.
enum DomainLookup {
    static func run(_ domain: String, client: DNSClient, profile: Profile.DNSSettings, words: [String],
                    cancel: CancellationFlag, warnings: inout [String]) -> [(IPAddress, Hostname)] {
        var found: [(IPAddress, Hostname)] = []
        func add(_ response: DNSResponse?, name: String, source: String) {
            for record in response?.answers ?? [] {
                if case .address(let address) = record.data,
                   !found.contains(where: { $0.0 == address && $0.1.name == name }) {
                    found.append((address, Hostname(name: name, source: source)))
                }
            }
        }
        let first = client.resolve([DNSQuestion(domain, .a), DNSQuestion(domain, .aaaa), DNSQuestion(domain, .ns),
                                    DNSQuestion(domain, .mx)], cancel: cancel)
        add(first[DNSQuestion(domain, .a)], name: domain, source: "dns-a")
        add(first[DNSQuestion(domain, .aaaa)], name: domain, source: "dns-a")
        var servers: [(String, String)] = []
        for record in first[DNSQuestion(domain, .ns)]?.answers ?? [] {
            if case .name(let host) = record.data { servers.append((host, "dns-ns")) }
        }
        for record in first[DNSQuestion(domain, .mx)]?.answers ?? [] {
            if case .mx(_, let host) = record.data, !host.isEmpty { servers.append((host, "dns-mx")) }
        }
        let second = client.resolve(servers.flatMap { [DNSQuestion($0.0, .a), DNSQuestion($0.0, .aaaa)] }, cancel: cancel)
        for (host, source) in servers {
            add(second[DNSQuestion(host, .a)], name: host, source: source)
            add(second[DNSQuestion(host, .aaaa)], name: host, source: source)
        }

        // Zone transfer from every authoritative server; a refusal is noted, not an error.
        if profile.zoneTransfer {
            let nameServers = servers.filter { $0.1 == "dns-ns" }.map(\.0)
            var asked = Set<IPAddress>()
            for host in nameServers {
                for record in (second[DNSQuestion(host, .a)]?.answers ?? []) + (second[DNSQuestion(host, .aaaa)]?.answers ?? []) {
                    guard case .address(let server) = record.data, asked.insert(server).inserted else { continue }
                    switch client.transfer(zone: domain, from: server, cancel: cancel) {
                    case .records(let records):
                        for record in records {
                            if case .address(let address) = record.data,
                               !found.contains(where: { $0.0 == address && $0.1.name == record.name }) {
                                found.append((address, Hostname(name: record.name, source: "dns-axfr")))
                            }
                        }
                    case .refused(let rcode):
                        warnings.append("zone transfer of \(domain) from \(host) (\(server)) refused (rcode \(rcode))")
                    case .failed(let reason):
                        warnings.append("zone transfer of \(domain) from \(host) (\(server)) failed: \(reason)")
                    }
                }
            }
        }

        // Name guessing from the word list.
        if profile.guessNames && !words.isEmpty {
            let names = words.map { "\($0).\(domain)" }
            let guesses = client.resolve(names.flatMap { [DNSQuestion($0, .a), DNSQuestion($0, .aaaa)] }, cancel: cancel)
            for name in names {
                for question in [DNSQuestion(name, .a), DNSQuestion(name, .aaaa)] {
                    for record in guesses[question]?.answers ?? [] {
                        if case .address(let address) = record.data, !found.contains(where: { $0.0 == address && $0.1.name == name }) {
                            found.append((address, Hostname(name: name, source: "dns-guess")))
                        }
                    }
                }
            }
        }
        return found
    }
}

struct PortKey: Hashable {
    let address: IPAddress
    let port: UInt16
    let proto: TransportProtocol
}

/// The UDP ports of `selection` that a selected UDP probe declares (it has a payload for them).
/// The others are left out, with a warning.
func udpCandidates(selection: PortSelection, probes: [ProbeDefinition], warnings: inout [String]) -> [UInt16] {
    guard !selection.udp.isEmpty else { return [] }
    let payloadPorts = Set(probes.filter { $0.proto == .udp }.flatMap(\.ports))
    let candidates = selection.udp.filter(payloadPorts.contains)
    let skipped = selection.udp.count - candidates.count
    if skipped > 0 {
        warnings.append("\(skipped) UDP port(s) were not scanned: without raw packets, only ports a UDP probe has a payload for can be tried")
    }
    return candidates
}

/// A map that cannot run at all (its domain does not resolve and it has no netblocks).
public struct MapError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
