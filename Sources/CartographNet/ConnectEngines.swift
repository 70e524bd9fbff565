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

    public func sweep(_ addresses: AddressSet, profile: Profile, cancel: CancellationFlag, progress: ProgressMeter,
                      found: (IPAddress, String, UInt8?) -> Void) throws {
        let ports = profile.hostDiscovery.tcpPorts
        guard !ports.isEmpty else { return }
        progress.addWork(ProgressMeter.units(addresses.count, times: ports.count))
        var performance = profile.performance
        // A sweep touches many hosts with few ports each: let more hosts run at once.
        performance.parallelHosts = max(performance.parallelHosts, performance.concurrency / max(1, ports.count))
        let prober = try ConnectProber(performance: performance, stopGroupOnAnswer: true, cancel: cancel, progress: progress)
        prober.run(addresses.lazy.map { ($0, ports) }) { address, port, outcome, _ in
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
                                      progress: ProgressMeter, observe: (PortObservation) -> Void) throws where Hosts.Element == IPAddress {
        guard !ports.tcp.isEmpty else { return }
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
    }
}
