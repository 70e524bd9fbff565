import CartographCore

/// Live host sweep with raw packets: ICMP echo and timestamp, TCP SYN and ACK to the discovery
/// ports, UDP to the discovery UDP ports, as the profile's methods choose. Every method that
/// found a host is reported.
public struct RawSweepEngine: HostSweepEngine {
    let timing: RawTiming

    public init(timing: RawTiming = RawTiming()) { self.timing = timing }

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
            }
        }
        var seen = Set<RawProbeKind>()
        return probes.filter { seen.insert($0).inserted }
    }

    public func sweep(_ addresses: AddressSet, profile: Profile, cancel: CancellationFlag,
                      found: (IPAddress, String, UInt8?) -> Void) throws {
        let prober = try RawProber(performance: profile.performance, cancel: cancel, timing: timing)
        // Every method is recorded, so hosts are not dropped after their first answer.
        try prober.run(addresses, probes: Self.probes(for: profile), stopOnAnswer: false) { address, probe, outcome, ttl in
            guard outcome != .unreachable else { return }
            found(address, probe.method, ttl)
        }
    }
}

/// Port discovery with raw TCP SYN packets: open on SYN-ACK, closed on RST, filtered on silence
/// after the retries or on an ICMP unreachable.
public struct SynScanEngine: PortScanEngine {
    let timing: RawTiming

    public init(timing: RawTiming = RawTiming()) { self.timing = timing }

    public var method: String { "tcp-syn" }

    public func scan<Hosts: Sequence>(hosts: Hosts, ports: PortSelection, profile: Profile, cancel: CancellationFlag,
                                      observe: (PortObservation) -> Void) throws where Hosts.Element == IPAddress {
        guard !ports.tcp.isEmpty else { return }
        let set = AddressSet(hosts.map { AddressRange($0) })
        let probes = ports.tcp.map { RawProbeKind.tcpSYN($0) }
        let prober = try RawProber(performance: profile.performance, cancel: cancel, timing: timing)
        var answered = Set<RawProber.Key>()
        answered = try prober.run(set, probes: probes, stopOnAnswer: false) { address, probe, outcome, _ in
            guard case .tcpSYN(let port) = probe else { return }
            let state: PortState = switch outcome {
            case .open: .open
            case .closed, .alive: .closed
            case .unreachable: .filtered
            }
            observe(PortObservation(address: address, port: port, proto: .tcp, state: state))
        }
        if cancel.isCancelled { return }
        // Silence after every retry: filtered.
        for address in set {
            for (index, port) in ports.tcp.enumerated() where !answered.contains(RawProber.Key(address: address, probe: index)) {
                observe(PortObservation(address: address, port: port, proto: .tcp, state: .filtered))
            }
        }
    }
}
