import CartographCore
import CartographIO
import CPcap

/// Versions of the packet libraries linked in, for `cartograph version`.
public enum PacketLibrary {
    public static var pcapVersion: String { String(cString: pcap_lib_version()) }
}

/// Live host sweep without privileges: TCP connects to the profile's discovery ports. An accepted
/// or a refused connection both prove the address is live; the first answer ends that host.
public struct ConnectSweepEngine: HostSweepEngine {
    public init() {}

    /// The order is the addresses' own (a host's ports go together); a resumed sweep begins at
    /// the first address whose connects had not all ended.
    public func sweep(_ addresses: AddressSet, profile: Profile, cancel: CancellationFlag, progress: ProgressMeter,
                      cursor: SweepCursor, found: (IPAddress, String, UInt8?) -> Void) throws {
        let ports = profile.hostDiscovery.tcpPorts
        guard !ports.isEmpty, addresses.count <= UInt128(UInt64.max) else { return }
        let count = UInt64(addresses.count)
        let (_, start) = cursor.begin(space: "connect " + ports.map { "tcp:\($0)" }.joined(separator: ","), count: count)
        progress.addWork(ProgressMeter.units(addresses.count, times: ports.count))
        progress.advance(ProgressMeter.units(UInt128(start), times: ports.count))
        guard start < count else { return }
        var performance = profile.performance
        // A sweep touches many hosts with few ports each: let more hosts run at once.
        performance.parallelHosts = max(performance.parallelHosts, performance.concurrency / max(1, ports.count))
        let prober = try ConnectProber(performance: performance, stopGroupOnAnswer: true, cancel: cancel, progress: progress)
        prober.settledGroups = { done in cursor.settle(through: start + UInt64(done)) }
        let rest = addresses.droppingFirst(UInt128(start))
        prober.run(rest.lazy.map { ($0, ports) }) { address, port, outcome, _ in
            if outcome == .open || outcome == .refused { found(address, "tcp-connect:\(port)", nil) }
        }
    }
}

/// Port discovery without privileges: a port is open only when a TCP connection completed.
public struct ConnectScanEngine: PortScanEngine {
    public init() {}

    public var method: String { "tcp-connect" }
    public var scansUDP: Bool { false }

    public func scan<Hosts: Sequence>(hosts: Hosts, ports: PortSelection, profile: Profile, cancel: CancellationFlag,
                                      progress: ProgressMeter, observe: (PortObservation) -> Void) throws -> Bool where Hosts.Element == IPAddress {
        guard !ports.tcp.isEmpty else { return true }
        let prober = try ConnectProber(performance: profile.performance, stopGroupOnAnswer: false, cancel: cancel,
                                       progress: progress)
        prober.run(hosts.lazy.map { ($0, ports.tcp) }) { address, port, outcome, rtt in
            let state: PortState = switch outcome {
            case .open: .open
            case .refused: .closed
            case .unreachable, .noAnswer: .filtered
            }
            observe(PortObservation(address: address, port: port, proto: .tcp, state: state, rttNanoseconds: rtt))
        }
        return !cancel.isCancelled
    }
}
