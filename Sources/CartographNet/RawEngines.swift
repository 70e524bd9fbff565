import CartographCore

/// Live host sweep with raw packets: ICMP echo and timestamp, TCP SYN and ACK to the discovery
/// ports, UDP to the discovery UDP ports, as the profile's methods choose. Every method that
/// found a host is reported.
public struct RawSweepEngine: HostSweepEngine {
    let timing: RawTiming
    let coverage: RawCoverage
    /// The first sweep's capture, opened while the map's row is written.
    private let spare = SpareCapture()

    public init(timing: RawTiming = RawTiming(), coverage: RawCoverage = RawCoverage()) {
        self.timing = timing
        self.coverage = coverage
    }

    public func coverageWarnings() -> [String] { coverage.take() }

    public var slowestRoundTrip: UInt64? { timing.slowest }

    public func prepare(for addresses: AddressSet, profile: Profile) {
        guard RawPrivileges.available else { return }
        spare.prepare(bufferSize: PacketCapture.bufferSize(forAnswers: Self.answers(addresses, probes: Self.probes(for: profile))))
    }

    public func sweepEnded() { _ = spare.take() }

    /// The most answers a sweep of `addresses` with `probes` can draw (saturating).
    static func answers(_ addresses: AddressSet, probes: [RawProbeKind]) -> UInt128 {
        let (pairs, overflow) = addresses.count.multipliedReportingOverflow(by: UInt128(probes.count))
        return overflow ? .max : pairs
    }

    /// The raw probes the profile's methods call for.
    public static func probes(for profile: Profile) -> [RawProbeKind] {
        var probes: [RawProbeKind] = []
        for method in profile.hostDiscovery.methods {
            switch method {
            case .icmpEcho: probes.append(.icmpEcho)
            case .icmpTimestamp: probes.append(.icmpTimestamp)
            case .tcp: probes += profile.hostDiscovery.tcpPorts.map { .tcpSYN($0) }
            case .tcpACK: probes += profile.hostDiscovery.tcpPorts.map { .tcpACK($0) }
            case .udp: probes += profile.hostDiscovery.udpPorts.map { .udp($0) }
            case .arp: probes.append(.arp)
            }
        }
        var seen = Set<RawProbeKind>()
        return probes.filter { seen.insert($0).inserted }
    }

    public func sweep(_ addresses: AddressSet, profile: Profile, cancel: CancellationFlag, progress: ProgressMeter,
                      cursor: SweepCursor, found: (IPAddress, String, UInt8?) -> Void) throws {
        let probes = Self.probes(for: profile)
        let prober = try RawProber(performance: profile.performance, cancel: cancel, timing: timing, capture: spare.take(),
                                   answers: Self.answers(addresses, probes: probes))
        prober.progress = progress
        progress.addWork(ProgressMeter.units(addresses.count, times: probes.count))
        // Every method is recorded, so hosts are not dropped after their first answer.
        // A live host's other probes are not retried (the sweep proves it live, the scan follows),
        // and the retries go out only after a sign of loss.
        try prober.run(addresses, probes: probes, stopOnAnswer: false, liveEnds: true, retryOnlyAfterLoss: true, cursor: cursor) { address, probe, outcome, ttl in
            guard outcome != .unreachable else { return }
            found(address, probe.method, ttl)
        }
        coverage.record(prober.coverage, stage: "sweep")
    }
}

/// Port discovery with raw TCP SYN packets: open on SYN-ACK, closed on RST, filtered on silence
/// after the retries or on an ICMP unreachable.
public struct SynScanEngine: PortScanEngine {
    let timing: RawTiming
    let coverage: RawCoverage
    /// The first TCP scan's capture, opened before the map begins (later ones come from the
    /// `CapturePool`).
    private let spare = SpareCapture()

    public init(timing: RawTiming = RawTiming(), coverage: RawCoverage = RawCoverage()) {
        self.timing = timing
        self.coverage = coverage
    }

    public func coverageWarnings() -> [String] { coverage.take() }

    public var method: String { "tcp-syn" }
    public var slowestRoundTrip: UInt64? { timing.slowest }
    public var scansUDP: Bool { true }

    /// Opens a capture for one host's TCP ports, the most a first scan (of the first live
    /// host) takes.
    public func prepare() {
        if RawPrivileges.available { spare.prepare(bufferSize: PacketCapture.bufferSize(forAnswers: 65535)) }
    }

    /// The scan stage has ended: its sweep's and its own captures are done with.
    public func release() {
        _ = spare.take()
        CapturePool.shared.drain()
    }

    public func scan<Hosts: Sequence>(hosts: Hosts, ports: PortSelection, profile: Profile, cancel: CancellationFlag,
                                      progress: ProgressMeter, observe: (PortObservation) -> Void) throws -> Bool where Hosts.Element == IPAddress {
        let set = AddressSet(hosts.map { AddressRange($0) })
        for proto in [TransportProtocol.tcp, .udp] {
            let list = proto == .tcp ? ports.tcp : ports.udp
            guard !list.isEmpty, !set.isEmpty, !cancel.isCancelled else { continue }
            let probes = list.map { proto == .tcp ? RawProbeKind.tcpSYN($0) : .udp($0) }
            var performance = profile.performance
            // Hosts limit ICMP port unreachables (Linux: about one a second per peer after a
            // burst), so silence on UDP is cheap to misread: go slower and try once more.
            if proto == .udp {
                let asked = performance.rate ?? RawProber.defaultRate
                performance.rate = asked > 0 ? min(asked, 2_000) : 2_000
                performance.retries = max(performance.retries, 2)
            }
            let prober = try RawProber(performance: performance, cancel: cancel, timing: timing,
                                       capture: proto == .tcp ? spare.take() : nil, answers: set.count * UInt128(list.count))
            prober.progress = progress
            let answered = try prober.run(set, probes: probes, stopOnAnswer: false) { address, probe, outcome, _ in
                let port: UInt16
                switch probe {
                case .tcpSYN(let number), .udp(let number): port = number
                default: return
                }
                let state: PortState = switch outcome {
                case .open: .open
                case .closed, .alive: .closed
                case .unreachable: .filtered
                }
                observe(PortObservation(address: address, port: port, proto: proto, state: state))
            }
            coverage.record(prober.coverage, stage: "\(proto == .tcp ? "TCP" : "UDP") scan")
            if cancel.isCancelled { return false }
            // Silence after every retry: filtered for TCP, open|filtered for UDP.
            for address in set where answered.count < Int(clamping: set.count) * list.count {
                for (index, port) in list.enumerated() where !answered.contains(RawProber.Key(address: address, probe: index)) {
                    observe(PortObservation(address: address, port: port, proto: proto, state: proto == .tcp ? .filtered : .openFiltered))
                }
            }
        }
        return !cancel.isCancelled
    }
}
