import Dispatch
import Synchronization

/// How far a map has got: for each stage, units of work done out of its total, plus hosts found
/// and open ports so far. Stages overlap (the sweep goes on while found hosts are scanned), so
/// each keeps its own counts; a snapshot shows the oldest stage still running (the one the rest
/// wait on), and lists every running one. Engines advance it from their own threads; the command line reads snapshots to
/// draw a progress line. Thread-safe (a mutex around plain values).
public final class ProgressMeter: Sendable {
    public enum Stage: String, Sendable, Codable {
        case names, sweep, scan, trace, identification, classification
    }

    struct Counts {
        var done = 0
        var total = 0
        var started: UInt64 = 0
    }

    struct State {
        var map = ""
        var counts: [Stage: Counts] = [:]
        /// Stages in the order they began; the running ones are not ended yet.
        var begun: [Stage] = []
        var running: Set<Stage> = []
        var hosts = 0
        var openPorts = 0

        /// The stage a snapshot shows and unbound calls count for: the oldest one still running,
        /// else the newest.
        var focus: Stage? { begun.first { running.contains($0) } ?? begun.last }
    }

    /// The counters every view of one meter shares.
    private final class Shared: Sendable {
        let state = Mutex(State())
        let clock: @Sendable () -> UInt64
        init(clock: @escaping @Sendable () -> UInt64) { self.clock = clock }
    }

    private let shared: Shared
    /// The stage this view counts for; nil counts for the focus stage.
    private let bound: Stage?

    /// `clock` gives monotonic nanoseconds; tests pass one they advance by hand.
    public init(clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        shared = Shared(clock: clock)
        bound = nil
    }

    private init(shared: Shared, bound: Stage) {
        self.shared = shared
        self.bound = bound
    }

    /// A view of this meter whose work and advances count for `stage` alone, for an engine that
    /// runs while other stages run.
    public func meter(for stage: Stage) -> ProgressMeter { ProgressMeter(shared: shared, bound: stage) }

    /// A new map starts: counts start from zero.
    public func startMap(_ target: String) {
        shared.state.withLock { $0 = State(map: target) }
    }

    /// A stage starts with `total` units of work (probes, ports, jobs); its counts start from zero.
    public func begin(_ stage: Stage, total: Int) {
        let now = shared.clock()
        shared.state.withLock {
            $0.counts[stage] = Counts(done: 0, total: max(0, total), started: now)
            $0.begun.removeAll { $0 == stage }
            $0.begun.append(stage)
            $0.running.insert(stage)
        }
    }

    /// A stage has settled all its work; the snapshot moves on to another running stage.
    public func end(_ stage: Stage) {
        shared.state.withLock { _ = $0.running.remove(stage) }
    }

    /// More work for the stage, for engines and stages that learn its size as they go.
    public func addWork(_ units: Int) {
        shared.state.withLock { state in
            guard let stage = bound ?? state.focus else { return }
            state.counts[stage, default: Counts()].total += max(0, units)
        }
    }

    public func advance(_ units: Int = 1) {
        shared.state.withLock { state in
            guard let stage = bound ?? state.focus, var counts = state.counts[stage] else { return }
            counts.done = min(counts.total, counts.done + units)
            state.counts[stage] = counts
        }
    }

    public func found(hosts: Int? = nil, openPorts: Int? = nil) {
        shared.state.withLock {
            if let hosts { $0.hosts = hosts }
            if let openPorts { $0.openPorts = openPorts }
        }
    }

    public func snapshot() -> ProgressSnapshot {
        let now = shared.clock()
        return shared.state.withLock { state in
            let stage = state.focus
            let counts = stage.flatMap { state.counts[$0] } ?? Counts(started: now)
            let elapsed = Double(now &- counts.started) / 1e9
            let rate = elapsed > 0 ? Double(counts.done) / elapsed : 0
            let eta: Double? = rate > 0 && counts.total > counts.done ? Double(counts.total - counts.done) / rate : (counts.total > 0 && counts.done >= counts.total ? 0 : nil)
            let running = state.begun.filter { state.running.contains($0) }
            return ProgressSnapshot(map: state.map, stage: stage, done: counts.done, total: counts.total,
                                    ratePerSecond: rate, hostsFound: state.hosts, openPorts: state.openPorts,
                                    elapsedSeconds: elapsed, etaSeconds: eta, running: running.count > 1 ? running : nil)
        }
    }
}

extension ProgressMeter {
    /// `count × each` as a work total, saturating at `Int.max` (an IPv6 range can hold 2^128
    /// addresses, so the product can overflow even 128 bits).
    public static func units(_ count: UInt128, times each: Int) -> Int {
        let (product, overflow) = count.multipliedReportingOverflow(by: UInt128(max(0, each)))
        return overflow ? Int.max : Int(clamping: product)
    }
}

/// One reading of a `ProgressMeter`, as `--progress json` prints it.
public struct ProgressSnapshot: Codable, Sendable, Equatable {
    public var map: String
    public var stage: ProgressMeter.Stage?
    public var done: Int
    public var total: Int
    public var ratePerSecond: Double
    public var hostsFound: Int
    public var openPorts: Int
    public var elapsedSeconds: Double
    /// Seconds left in this stage at the current rate; nil until there is a rate.
    public var etaSeconds: Double?
    /// Every stage running at once, oldest first, when more than one is.
    public var running: [ProgressMeter.Stage]?
}
