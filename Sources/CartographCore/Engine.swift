import Synchronization

/// What a port discovery attempt concluded.
public enum PortState: String, Codable, Sendable {
    /// A connection completed (TCP) or the service answered (UDP).
    case open
    /// The host refused: it is live, nothing listens.
    case closed
    /// No answer after every retry, or the network said the host cannot be reached.
    case filtered
    /// UDP only: silence, which is what an open port that ignores the payload and a filtered
    /// one both give.
    case openFiltered = "open|filtered"
}

/// One port's outcome, as an engine reports it.
public struct PortObservation: Sendable, Equatable {
    public var address: IPAddress
    public var port: UInt16
    public var proto: TransportProtocol
    public var state: PortState
    /// Round-trip time of the answer, when there was one.
    public var rttNanoseconds: UInt64?

    public init(address: IPAddress, port: UInt16, proto: TransportProtocol, state: PortState, rttNanoseconds: UInt64? = nil) {
        self.address = address
        self.port = port
        self.proto = proto
        self.state = state
        self.rttNanoseconds = rttNanoseconds
    }
}

/// Set once (by Ctrl-C, or a test) to make every stage stop sending and return what it has.
public final class CancellationFlag: Sendable {
    private let state = Atomic<Bool>(false)
    public init() {}
    public var isCancelled: Bool { state.load(ordering: .relaxed) }
    public func cancel() { state.store(true, ordering: .relaxed) }
}

/// A live host sweep technique.
public protocol HostSweepEngine {
    /// Reports live addresses with the method that found them (e.g. `tcp-connect:443`) and the
    /// TTL of the reply when the engine sees packets (raw engines).
    /// Adds its units of work (probes) to `progress` when it starts and advances it as it goes.
    /// `cursor` gives the order's key and where to begin (a resumed map), and is moved on as
    /// the sweep's pairs settle.
    func sweep(_ addresses: AddressSet, profile: Profile, cancel: CancellationFlag, progress: ProgressMeter,
               cursor: SweepCursor, found: (IPAddress, String, UInt8?) -> Void) throws
    /// What the sweep could not confirm (lost packets, collapsed answers), for the map's warnings.
    func coverageWarnings() -> [String]
    /// The slowest round trip the engine measured so far, in nanoseconds (nil: none measured),
    /// from which later stages size their waits.
    var slowestRoundTrip: UInt64? { get }
    /// Called before a map begins (while its store row is written): an engine may open what
    /// its first sweep, of `addresses` with `profile`, will need meanwhile.
    func prepare(for addresses: AddressSet, profile: Profile)
    /// Called once the sweep stage ends: what `prepare` opened and no sweep used goes.
    func sweepEnded()
}

public extension HostSweepEngine {
    var slowestRoundTrip: UInt64? { nil }
    func coverageWarnings() -> [String] { [] }
    func prepare(for addresses: AddressSet, profile: Profile) {}
    func sweepEnded() {}
}

/// A port discovery technique.
public protocol PortScanEngine {
    /// The method name recorded on services no probe identified, e.g. `tcp-connect`.
    var method: String { get }
    /// Whether the engine scans UDP ports itself (raw packets); otherwise UDP ports are found
    /// through probe payloads during identification.
    var scansUDP: Bool { get }
    /// Reports one observation per (host, port) of `ports` that the engine handles.
    /// Advances `progress` by one for each (host, port) it settles; the caller sets the total.
    /// Returns whether every (host, port) has its outcome: false when cancelled before then.
    @discardableResult
    func scan<Hosts: Sequence>(hosts: Hosts, ports: PortSelection, profile: Profile, cancel: CancellationFlag,
                               progress: ProgressMeter, observe: (PortObservation) -> Void) throws -> Bool where Hosts.Element == IPAddress
    /// What the scan could not confirm (lost packets, collapsed answers), for the map's warnings.
    func coverageWarnings() -> [String]
    /// The slowest round trip the engine measured so far, in nanoseconds (nil: none measured).
    var slowestRoundTrip: UInt64? { get }
    /// Called before a map begins (while its store row is written): an engine may open what
    /// its first scan will need meanwhile.
    func prepare()
    /// Called once the stage has no more hosts: what `prepare` opened and no scan used goes.
    func release()
}

public extension PortScanEngine {
    var slowestRoundTrip: UInt64? { nil }
    func coverageWarnings() -> [String] { [] }
    func prepare() {}
    func release() {}
}
