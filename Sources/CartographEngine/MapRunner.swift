import CartographCore
import CartographIO
import CartographDNS
import CartographNet
import CartographProbes
import Foundation
import Synchronization

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
    /// Called on the scheduler's thread with each event as it is folded into the map, and the
    /// hosts it made live for the first time (for `--format jsonl`).
    public var observe: ((MapEvent, _ newHosts: [IPAddress]) -> Void)?
    /// The last checkpoint of the map being continued (`cartograph map --resume`, or an agent
    /// taking over a map whose scanner died): its hosts and names are the map's from the start,
    /// the sweep begins where its order had settled, hosts whose port scan had ended are not
    /// scanned again, and the ports it had identified are not probed again. What the resumed
    /// stages find again (the last moments' work before the stop) is merged by address, so no
    /// host or port is listed twice.
    public var resume: MapResult?

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

    /// Opens ahead what the map of `spec` will need first (the sweep's and the scan's captures,
    /// the classifier's worker), so that they are ready by the time it gets to them: called
    /// before the map's row is written. A map that then does not run gives them back by
    /// `release()`; one that runs gives back what its stages did not use.
    public func prepare(_ spec: MapSpec) {
        guard !cancel.isCancelled else { return }
        // A domain's addresses are known once its names are looked up.
        if profile.hostDiscovery.enabled && spec.domain == nil { sweepEngine.prepare(for: spec.addresses, profile: profile) }
        if profile.informationGathering.portScan { scanEngine.prepare() }
        classifier?.prepare()
        // Those of the command's early captures that neither engine took close now, beside the
        // map, rather than at its end (each close waits out a grace period or two).
        EarlyCapture.release()
    }

    public func release() {
        sweepEngine.sweepEnded()
        scanEngine.release()
        classifier?.release()
        CapturePool.shared.drain()   // the raw runs' captures (a traceroute's may end after the scan)
    }
}

/// The core scheduler: a pipeline of stages that overlap. A domain's forward lookups come first
/// (they decide the map's addresses); then the sweep runs, and each host it finds enters the
/// port scan, the reverse lookups and the trace at once, while each open port the scan finds
/// enters identification at once. Stages talk through bounded queues (`StageQueue`) and report
/// what they find as events (`MapEvent`), which this thread folds into the map (`MapState`) and
/// routes on. The map ends when the last stage settles, then its hosts are classified.
/// A cancelled map stops every stage and keeps what was found, marked interrupted.
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
        let profile = context.profile, cancel = context.cancel, progress = context.progress
        progress.startMap(spec.target)
        var state = MapState(spec: spec, profile: profile.name, scanMethod: context.scanEngine.method,
                             excluded: context.excluded, sweeping: profile.hostDiscovery.enabled,
                             rawUDP: context.scanEngine.scansUDP)
        state.warnings = context.probes.mapWarnings
        // What stages find after a Ctrl-C still counts, so this queue is never cancelled.
        let events = StageQueue<MapEvent>(capacity: .max, cancel: CancellationFlag())
        let emit: @Sendable (MapEvent) -> Void = { events.put($0) }
        let observe = context.observe
        func drain() {
            while events.count > 0, let batch = events.take() {
                // Applied first: `observe?(…)` would skip evaluating its arguments when nil.
                for event in batch {
                    let newHosts = state.apply(event)
                    observe?(event, newHosts)
                }
            }
        }

        let dnsServers = profile.dns.servers.isEmpty ? DNSClient.systemServers() : profile.dns.servers
        let dns = DNSClient(servers: dnsServers, concurrency: 64, rate: 500)
        if let domain = spec.domain {
            progress.begin(.names, total: 0)
            context.note("looking up \(domain) (A, AAAA, NS, MX) at \(dnsServers.map(\.description).joined(separator: ", "))")
            let inbox = StageQueue<String>(capacity: 1, cancel: cancel)
            inbox.put(domain)
            inbox.close()
            try NamesStage(client: dns, settings: profile.dns, words: context.guessWords, cancel: cancel)
                .run(inbox, meter: progress.meter(for: .names), emit: emit)
            progress.end(.names)
            drain()
            if state.dnsFound.isEmpty && state.excludedNamed.isEmpty && spec.netblocks.isEmpty && !cancel.isCancelled {
                throw MapError(message: "\(domain) has no addresses in DNS (asked \(dnsServers.map(\.description).joined(separator: ", ")))")
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
        if scope == .none { state.addresses = AddressSet() }   // DNS only: no packet to any host
        let cursor = SweepCursor(resuming: context.resume?.progress?.sweep)
        // Before the first checkpoint, which replaces what the store holds.
        let (carried, carriedOpen) = carryOver(into: &state, observe: observe)
        checkpoint(state, cursor: cursor, force: true)

        // The stages this profile runs, each on its own thread behind its inbox.
        var running = Set<ProgressMeter.Stage>()
        func start<Stage: MapStage>(_ stage: Stage, capacity: Int = 4096) -> StageQueue<Stage.Work> {
            let inbox = StageQueue<Stage.Work>(capacity: capacity, cancel: cancel)
            progress.begin(stage.kind, total: 0)
            running.insert(stage.kind)
            stage.start(inbox, meter: progress.meter(for: stage.kind), emit: emit)
            return inbox
        }
        let sweeping = profile.hostDiscovery.enabled
        let selection = PortSelection(tcp: profile.informationGathering.tcpPorts, udp: profile.informationGathering.udpPorts)
        let scanning = profile.informationGathering.portScan && !selection.isEmpty
        let sweep = sweeping ? start(SweepStage(engine: context.sweepEngine, profile: profile, cancel: cancel, cursor: cursor), capacity: 1) : nil
        let scan = scanning ? start(ScanStage(engine: context.scanEngine, ports: selection, profile: profile, cancel: cancel)) : nil
        let identification = identificationStage(selection: selection, warnings: &state.warnings)
        let identify = identification.map { start(IdentifyStage(identifier: $0.identifier, cancel: cancel)) }
        let reverse = profile.dns.enabled && profile.dns.reverseLookups ? start(ReverseStage(client: dns, cancel: cancel), capacity: 65536) : nil
        let roundTrips = RoundTrips(engines: Handover(value: (context.sweepEngine, context.scanEngine)))
        let tracing = profile.hostDiscovery.traceroute && scope != .none
        let othersSettled = Moment()
        let trace = tracing ? start(TraceStage(cancel: cancel, slowest: { roundTrips.slowest },
                                               othersSettled: { othersSettled.value })) : nil
        // The classifier's worker process starts now, so the map's end does not wait for it.
        if !cancel.isCancelled { context.classifier?.prepare() }
        defer { context.classifier?.release() }
        if sweeping { context.note("sweeping \(state.addresses.count) address(es) of \(spec.target)") }
        if scanning { context.note("scanning \(selection.tcp.count) port(s) on each live host as it is found") }

        // What enters the pipeline: the target, and the hosts DNS already found.
        var reversed = Set<IPAddress>()
        if spec.domain != nil, profile.dns.reverseLookups, let reverse {
            // PTR records over the domain's netblocks: names for addresses that may not answer.
            let blocks = AddressSet(spec.netblocks).subtracting(context.excluded)
            if !blocks.isEmpty && blocks.count <= 65536 {
                for address in blocks where reverse.put(ReverseStage.Work(address: address, lists: true)) { reversed.insert(address) }
            }
        }
        sweep?.put(state.addresses)
        sweep?.close()
        if !sweeping, let scan {
            let scanned = scopeSet.map { state.addresses.subtracting(state.addresses.subtracting($0)) } ?? state.addresses
            scan.put(scanned.subtracting(state.scanned))
            scan.close()
        }
        if !sweeping && !scanning {
            // No sweep and no scan: every address is taken as live, as the profile says.
            for address in state.addresses.prefix(1 << 20) {
                let event = MapEvent.live(address, method: "assumed", ttl: nil)
                let newHosts = state.apply(event)
                observe?(event, newHosts)
            }
        }

        /// A host the map will list: it is named, traced and its UDP ports tried as it comes.
        func hostFound(_ address: IPAddress, live: Bool) {
            progress.found(hosts: state.order.count)
            if reversed.insert(address).inserted { reverse?.put(ReverseStage.Work(address: address, lists: false)) }
            guard inScope(address) else { return }
            if live && sweeping && !state.scanned.contains(address) { scan?.put(AddressSet([AddressRange(address)])) }
            if live { trace?.put(TraceStage.Work(address: address, expected: state.ttls[address].map { Self.hopsFromTTL($0) + 1 })) }
            for port in identification?.udpPorts ?? [] {
                identify?.put(PortJob(address: address, port: port, proto: .udp, hostname: state.names[address]?.first?.name))
            }
        }
        /// A port's outcome: open ports are identified; silent UDP ports a probe has a payload
        /// for get that payload, and an answer makes them open.
        func portFound(_ observation: PortObservation) {
            if observation.state == .open { progress.found(openPorts: state.openPorts) }
            if let rtt = observation.rttNanoseconds { roundTrips.observe(rtt) }
            guard inScope(observation.address), let identification else { return }
            let key = PortKey(address: observation.address, port: observation.port, proto: observation.proto)
            if let known = carried[key] {
                // Identified before the map stopped: what the probe said then stands.
                if state.identified[key] == nil {
                    let event = MapEvent.identified(known)
                    state.apply(event)
                    observe?(event, [])
                }
                return
            }
            if observation.state == .open
                || (observation.proto == .udp && observation.state == .openFiltered && identification.payloadPorts.contains(observation.port)) {
                identify?.put(PortJob(address: observation.address, port: observation.port, proto: observation.proto,
                                      hostname: state.names[observation.address]?.first?.name))
            }
        }
        /// No host can be found any more: the stages fed by hosts get no more work.
        func hostsSettled() {
            for inbox in [reverse.map { $0.close }, trace.map { $0.close }, identify.map { $0.close }] { inbox?() }
        }
        for address in state.dnsFound.sorted() { hostFound(address, live: false) }
        for address in state.order { hostFound(address, live: true) }
        for observation in carriedOpen { portFound(observation) }
        if !scanning && !sweeping { hostsSettled() }

        var failure: String?
        while !running.isEmpty, let batch = events.take() {
            for event in batch {
                let newHosts = state.apply(event)
                observe?(event, newHosts)
                for newHost in newHosts { hostFound(newHost, live: true) }
                switch event {
                case .port(let observation):
                    portFound(observation)
                case .ports(let observations):
                    for observation in observations { portFound(observation) }
                case .finished(let kind, let stageFailure):
                    running.remove(kind)
                    progress.end(kind)
                    context.note(String(format: "%@ settled after %.2f s", kind.rawValue, Date().timeIntervalSince(state.started)))
                    if let stageFailure, failure == nil {
                        failure = stageFailure
                        for close in [sweep?.close, scan?.close, reverse?.close, trace?.close, identify?.close] { close?() }
                    }
                    if kind == .sweep {
                        scan?.close()
                        if let refused = cursor.refused { context.note("the sweep started over: \(refused)") }
                    }
                    // Only the trace is left: it gets a short grace, not the map's end.
                    if running == [.trace] { othersSettled.mark() }
                    if kind == .scan || (kind == .sweep && !scanning) { hostsSettled() }
                    checkpoint(state, cursor: cursor, force: true)
                default:
                    break
                }
            }
            checkpoint(state, cursor: cursor, force: false)
        }
        if let failure { throw MapError(message: failure) }

        if !dns.unresponsive.isEmpty {
            let list = dns.unresponsive.map(\.description).joined(separator: ", ")
            state.warnings.append("DNS: \(list) never answered and \(dns.unresponsive.count == 1 ? "was" : "were") dropped after its first timeouts"
                + (dns.abandoned > 0 ? "; \(dns.abandoned) lookup(s) were given up with no server left" : ""))
        }
        if let classifier = context.classifier, !cancel.isCancelled {
            let hosts = state.assemble(.running).hosts.filter { $0.excluded != true }
            context.note("classifying \(hosts.count) host(s)")
            progress.begin(.classification, total: 0)
            let inbox = StageQueue<HostResult>(capacity: max(1, hosts.count), cancel: cancel)
            for host in hosts { inbox.put(host) }
            inbox.close()
            try ClassifyStage(classifier: classifier).run(inbox, meter: progress.meter(for: .classification), emit: emit)
            progress.end(.classification)
            drain()
        }
        if cancel.isCancelled {
            var result = state.assemble(.interrupted)
            result.progress = mapProgress(state, cursor: cursor)
            return result
        }
        return state.assemble(.complete)
    }

    /// Where the map stands, for its checkpoints and an interrupted map's last save.
    private func mapProgress(_ state: MapState, cursor: SweepCursor) -> MapProgress {
        MapProgress(sweep: cursor.position, scanned: MapProgress.blocks(state.scanned))
    }

    /// Folds the resumed checkpoint's hosts into the map (live by the methods that found them,
    /// with their names) and returns the identifications of its ports, which are not probed
    /// again. Hosts whose port scan had ended keep their ports (open ones are returned, to be
    /// identified unless they were) and are not scanned again.
    private func carryOver(into state: inout MapState, observe: ((MapEvent, [IPAddress]) -> Void)?)
        -> (known: [PortKey: PortIdentification], open: [PortObservation]) {
        guard let resume = context.resume else { return ([:], []) }
        var known: [PortKey: PortIdentification] = [:]
        var open: [PortObservation] = []
        let scanned = resume.progress?.scannedHosts ?? AddressSet()
        var scannedHosts = 0
        for host in resume.hosts where host.excluded != true {
            guard let address = IPAddress(host.address), state.addresses.contains(address) || state.dnsFound.contains(address) else { continue }
            var events: [MapEvent] = []
            for hostname in host.hostnames where !hostname.source.hasPrefix("dns") || hostname.source == "dns-ptr" {
                events.append(.name(address, hostname, found: false))
            }
            for method in host.discovery where !method.hasPrefix("dns") && method != "traceroute" {
                events.append(.live(address, method: method, ttl: host.ttl.map { UInt8(clamping: $0) }))
            }
            for event in events {
                let newHosts = state.apply(event)
                observe?(event, newHosts)
            }
            if scanned.contains(address) && state.live[address] != nil {
                scannedHosts += 1
                state.scanned.insert(AddressRange(address))
                state.carriedCounts[address] = (host.closedPorts, host.filteredPorts)
                for service in host.services {
                    let observation = PortObservation(address: address, port: service.port, proto: service.protocol, state: .open)
                    let event = MapEvent.port(observation)
                    state.apply(event)
                    observe?(event, [])
                    open.append(observation)
                }
            }
            for service in host.services {
                guard let name = service.name else { continue }
                var match = ProbeMatch(name: name)
                match.product = service.product
                match.version = service.version
                match.extraInfo = service.extraInfo
                match.cpe = service.cpe ?? []
                match.deviceType = service.deviceType
                match.osHints = service.os ?? []
                match.certain = service.certain ?? true
                var identification = PortIdentification(address: address, port: service.port, proto: service.protocol,
                                                        errors: service.probeErrors ?? [])
                identification.match = match
                identification.method = service.method
                identification.tls = service.tls ?? false
                known[PortKey(address: address, port: service.port, proto: service.protocol)] = identification
            }
        }
        var resumed = ["\(resume.hosts.count) host(s) carried over"]
        if let sweep = resume.progress?.sweep, sweep.settled > 0 {
            resumed.append("the sweep goes on after \(sweep.settled) of its \(sweep.count) probe(s)")
        }
        if scannedHosts > 0 { resumed.append("\(scannedHosts) host(s) already scanned") }
        if !known.isEmpty { resumed.append("\(known.count) identified port(s) not probed again") }
        context.note("resuming: " + resumed.joined(separator: ", "))
        return (known, open)
    }

    /// Hands the map so far to the store; `force` at stage ends, else at most every 2 s.
    private func checkpoint(_ state: MapState, cursor: SweepCursor, force: Bool) {
        guard let save = context.checkpoint else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastCheckpoint.value) >= 2 else { return }
        lastCheckpoint.value = now
        var result = state.assemble(.running)
        result.progress = mapProgress(state, cursor: cursor)
        save(result)
    }

    private let lastCheckpoint = Box(Date.distantPast)

    /// What identification needs from the plan: the identifier with the selected probes, and
    /// the UDP ports each host gets a probe payload on.
    struct Identification {
        let identifier: ServiceIdentifier
        /// UDP ports a selected probe has a payload for.
        let payloadPorts: Set<UInt16>
        /// Without raw packets: the UDP ports every host is tried on (a port is open when a
        /// probe's payload gets an answer).
        let udpPorts: [UInt16]
    }

    func identificationStage(selection: PortSelection, warnings: inout [String]) -> Identification? {
        let profile = context.profile
        guard profile.probes.enabled && !context.cancel.isCancelled else {
            if !selection.udp.isEmpty && profile.informationGathering.portScan && !context.scanEngine.scansUDP {
                warnings.append("\(selection.udp.count) UDP port(s) were not scanned: without raw packets, UDP ports are found by probe payloads, and identification is off")
            }
            return nil
        }
        let (selected, unknown) = context.probes.select(include: profile.probes.include, exclude: profile.probes.exclude)
        if !unknown.isEmpty {
            warnings.append("no probe or category named \(unknown.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        guard !selected.isEmpty else { return nil }
        var udpPorts: [UInt16] = []
        if !context.scanEngine.scansUDP && profile.informationGathering.portScan && profile.informationGathering.scope != .none {
            udpPorts = udpCandidates(selection: selection, probes: selected, warnings: &warnings)
        }
        context.note("identifying each open port as it is found, with \(selected.count) probe(s)")
        var settings = ProbeSettings()
        settings.probeTimeoutMs = profile.performance.probeTimeoutMs
        settings.args = profile.probes.args
        settings.intensity = profile.probes.intensity
        settings.concurrency = max(1, min(profile.performance.concurrency, 1024))
        settings.hostParallelism = profile.performance.hostParallelism
        return Identification(identifier: ServiceIdentifier(library: context.probes, probes: selected, settings: settings),
                              payloadPorts: Set(selected.filter { $0.proto == .udp }.flatMap(\.ports)), udpPorts: udpPorts)
    }
}

/// The slowest round trip the map measured so far: the engines' own, and the ports' answers.
/// The trace stage reads it from its thread while this one writes it.
final class RoundTrips: Sendable {
    private let engines: Handover<(any HostSweepEngine, any PortScanEngine)>
    private let ports = Atomic<UInt64>(0)

    init(engines: Handover<(any HostSweepEngine, any PortScanEngine)>) { self.engines = engines }

    func observe(_ rtt: UInt64) {
        var current = ports.load(ordering: .relaxed)
        while rtt > current {
            let (exchanged, original) = ports.compareExchange(expected: current, desired: rtt, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
    }

    var slowest: UInt64? {
        let port = ports.load(ordering: .relaxed)
        return ([port > 0 ? port : nil, engines.value.0.slowestRoundTrip, engines.value.1.slowestRoundTrip].compactMap { $0 }).max()
    }
}

/// A moment one thread marks and others read (monotonic nanoseconds), nil until marked.
final class Moment: Sendable {
    private let time = Atomic<UInt64>(0)
    func mark() { time.store(MonotonicClock.now(), ordering: .relaxed) }
    var value: UInt64? {
        let time = time.load(ordering: .relaxed)
        return time == 0 ? nil : time
    }
}

/// A mutable value a non-mutating method updates (the time of the last checkpoint).
final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// A map that cannot run at all (its domain does not resolve and it has no netblocks).
public struct MapError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
