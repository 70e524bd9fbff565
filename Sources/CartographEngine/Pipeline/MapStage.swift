import CartographCore
import CartographNet
import CartographProbes
import Foundation

/// What a stage tells the map as it finds things. The scheduler folds events into the map's
/// state and routes what they found on to the stages that want it.
public enum MapEvent: Sendable {
    /// A host answered `method` (an engine's discovery method), with its reply's TTL if seen.
    case live(IPAddress, method: String, ttl: UInt8?)
    /// One port's outcome.
    case port(PortObservation)
    /// Several ports' outcomes at once: the closed and filtered ports of a scan, which nothing
    /// waits for, go in batches rather than one event (and one wake of the scheduler) a packet.
    case ports([PortObservation])
    /// These hosts' port scans ended: every selected port has its outcome (for checkpoints).
    case scanned(AddressSet)
    /// A name for an address, and whether DNS found the address itself (forward lookups and
    /// PTR records of a domain's netblocks list an address even when it does not answer).
    case name(IPAddress, Hostname, found: Bool)
    case identified(PortIdentification)
    case path(TracedPath)
    /// A host's device type and OS family.
    case classified(String, HostClassification)
    case warning(String)
    /// The stage has settled all its work (or stopped: `failure` says why).
    case finished(ProgressMeter.Stage, failure: String?)
}

/// One stage of a map's pipeline (sweep, scan, reverse lookups, identification, trace,
/// classification): it takes its work from an inbox as the work arrives, in batches of what
/// has arrived, and reports what it finds as events, on a thread of its own. It returns once
/// its inbox is closed and drained, or the map is cancelled.
public protocol MapStage: Sendable {
    associatedtype Work: Sendable
    /// The progress stage its work counts for.
    var kind: ProgressMeter.Stage { get }
    /// Runs until `inbox` is closed and empty. `meter` counts this stage's work alone.
    func run(_ inbox: StageQueue<Work>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) throws
}

extension MapStage {
    /// Runs the stage on a thread of its own; `.finished` is its last event, whatever happens.
    func start(_ inbox: StageQueue<Work>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) {
        let thread = Thread { [self] in
            var failure: String?
            do { try run(inbox, meter: meter, emit: emit) } catch { failure = "\(error)" }
            // Whatever was still queued is dropped: the producer must not wait on a dead stage.
            inbox.close()
            emit(.finished(kind, failure: failure))
        }
        thread.stackSize = 4 << 20
        thread.start()
    }
}

/// Hands a value that is not Sendable to the one thread that will use it from then on.
struct Handover<Value>: @unchecked Sendable {
    let value: Value
}
