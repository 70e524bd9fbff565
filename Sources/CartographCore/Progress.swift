import Foundation
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

        /// What the stage's units of work are, as the progress line names them.
        public var unit: String {
            switch self {
            case .names: "lookups"
            case .sweep: "probes"           // addresses times discovery probes
            case .scan: "ports"             // hosts times ports
            case .trace: "hosts"
            case .identification: "ports"
            case .classification: "hosts"
            }
        }
    }

    struct Counts {
        var done = 0
        var total = 0
        var started: UInt64 = 0
        /// What the stage does besides its first pass (`retry 1 of 2`, `cool-down`), if anything.
        var phase: String?
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

    /// What the stage is doing once its first pass is sent: `retry 1 of 2`, `cool-down`, or nil
    /// (back to counting work). The line shows it in place of an ETA, which would sit at 0.
    public func phase(_ text: String?) {
        shared.state.withLock { state in
            guard let stage = bound ?? state.focus else { return }
            state.counts[stage, default: Counts()].phase = text
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
            var snapshot = ProgressSnapshot(map: state.map, stage: stage, done: counts.done, total: counts.total,
                                            ratePerSecond: rate, hostsFound: state.hosts, openPorts: state.openPorts,
                                            elapsedSeconds: elapsed, etaSeconds: counts.phase == nil ? eta : nil,
                                            running: running.count > 1 ? running : nil)
            snapshot.phase = counts.phase
            let others = running.filter { $0 != stage }.map { other in
                let c = state.counts[other] ?? Counts()
                return ProgressSnapshot.StageCount(stage: other, done: c.done, total: c.total, phase: c.phase)
            }
            snapshot.alongside = others.isEmpty ? nil : others
            return snapshot
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
    /// The shown stage's retry or cool-down, when it is in one.
    public var phase: String?
    /// The counts of the other running stages (identification while the scan goes on).
    public var alongside: [StageCount]?

    public struct StageCount: Codable, Sendable, Equatable {
        public var stage: ProgressMeter.Stage
        public var done: Int
        public var total: Int
        public var phase: String?

        public init(stage: ProgressMeter.Stage, done: Int, total: Int, phase: String?) {
            self.stage = stage
            self.done = done
            self.total = total
            self.phase = phase
        }
    }

    public init(map: String, stage: ProgressMeter.Stage?, done: Int, total: Int, ratePerSecond: Double, hostsFound: Int,
                openPorts: Int, elapsedSeconds: Double, etaSeconds: Double?, running: [ProgressMeter.Stage]?) {
        self.map = map
        self.stage = stage
        self.done = done
        self.total = total
        self.ratePerSecond = ratePerSecond
        self.hostsFound = hostsFound
        self.openPorts = openPorts
        self.elapsedSeconds = elapsedSeconds
        self.etaSeconds = etaSeconds
        self.running = running
    }
}

extension ProgressSnapshot {
    /// `scan  41% 26843/65535 ports  12400/s  hosts 3  open 17  ETA 3 s  | identification 5/9 ports`;
    /// in a retry or the cool-down, that phase in place of the ETA.
    public var line: String {
        let s = self
        func count(_ stage: ProgressMeter.Stage?, _ done: Int, _ total: Int) -> String {
            let unit = stage.map { " \($0.unit)" } ?? ""
            return total > 0 ? "\(Int(100 * Double(done) / Double(total)))% \(done)/\(total)\(unit)" : "\(done)\(unit)"
        }
        var parts = [(s.stage?.rawValue ?? "") + "  " + count(s.stage, s.done, s.total)]
        if s.phase == nil { parts.append("\(Int(s.ratePerSecond))/s") }
        parts.append("hosts \(s.hostsFound)")
        parts.append("open \(s.openPorts)")
        if let phase = s.phase {
            parts.append(phase)
        } else if s.total > 0 && s.done >= s.total {
            parts.append("waiting for the last answers")
        } else if let eta = s.etaSeconds, s.total > 0 {
            parts.append("ETA \(humanDuration(eta))")
        }
        var out = parts.joined(separator: "  ")
        // Other stages only while they have work left: a settled count says nothing new.
        for other in s.alongside ?? [] where other.total > other.done || other.phase != nil {
            out += "  | \(other.stage.rawValue) " + count(other.stage, other.done, other.total) + (other.phase.map { " \($0)" } ?? "")
        }
        return out
    }
}

/// Durations as people read them: `4.2 s`, `3 min 12 s`, `2 h 5 min`.
public func humanDuration(_ seconds: Double) -> String {
    // An ETA at a crawling rate can be astronomical (or not a number): no Int conversion then.
    guard seconds.isFinite, seconds < 100 * 365 * 86400 else { return "more than a century" }
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    let whole = Int(seconds)
    if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
    if whole < 86400 { return "\(whole / 3600) h \(whole % 3600 / 60) min" }
    return "\(whole / 86400) d \(whole % 86400 / 3600) h"
}
