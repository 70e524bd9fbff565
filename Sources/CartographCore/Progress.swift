import Dispatch
import Synchronization

/// How far a map has got: the stage it is in, units of work done out of the stage's total,
/// hosts found and open ports so far. Engines advance it from their own threads; the command
/// line reads snapshots to draw a progress line. Thread-safe (a mutex around plain values).
public final class ProgressMeter: Sendable {
    public enum Stage: String, Sendable, Codable {
        case names, sweep, scan, trace, identification, classification
    }

    struct State {
        var map = ""
        var stage: Stage?
        var done = 0
        var total = 0
        var hosts = 0
        var openPorts = 0
        var stageStarted: UInt64 = 0
    }

    private let state = Mutex(State())
    private let clock: @Sendable () -> UInt64

    /// `clock` gives monotonic nanoseconds; tests pass one they advance by hand.
    public init(clock: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        self.clock = clock
    }

    /// A new map starts: counts start from zero.
    public func startMap(_ target: String) {
        state.withLock { $0 = State(map: target) }
    }

    /// A stage starts with `total` units of work (probes, ports, jobs).
    public func begin(_ stage: Stage, total: Int) {
        let now = clock()
        state.withLock {
            $0.stage = stage
            $0.done = 0
            $0.total = max(0, total)
            $0.stageStarted = now
        }
    }

    /// More work for the current stage, for engines that learn its size as they start.
    public func addWork(_ units: Int) {
        state.withLock { $0.total += max(0, units) }
    }

    public func advance(_ units: Int = 1) {
        state.withLock { $0.done = min($0.total, $0.done + units) }
    }

    public func found(hosts: Int? = nil, openPorts: Int? = nil) {
        state.withLock {
            if let hosts { $0.hosts = hosts }
            if let openPorts { $0.openPorts = openPorts }
        }
    }

    public func snapshot() -> ProgressSnapshot {
        let now = clock()
        return state.withLock { state in
            let elapsed = Double(now &- state.stageStarted) / 1e9
            let rate = elapsed > 0 ? Double(state.done) / elapsed : 0
            let eta: Double? = rate > 0 && state.total > state.done ? Double(state.total - state.done) / rate : (state.total > 0 && state.done >= state.total ? 0 : nil)
            return ProgressSnapshot(map: state.map, stage: state.stage, done: state.done, total: state.total,
                                    ratePerSecond: rate, hostsFound: state.hosts, openPorts: state.openPorts,
                                    elapsedSeconds: elapsed, etaSeconds: eta)
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
}
