import Synchronization

/// Where a running map stands, kept with each checkpoint so that a map cut short (Ctrl-C, a
/// crash, an agent that died) continues where it stopped instead of starting over: how far the
/// sweep's order has settled, and which hosts' port scans ended. What was found (hosts, ports,
/// names, identifications) is the checkpoint's own hosts; this says what need not be sent again.
public struct MapProgress: Codable, Sendable, Equatable {
    /// The sweep's position; nil when it had not begun (or the map sweeps nothing).
    public var sweep: SweepPosition?
    /// Hosts whose port scan ended with every selected port settled, as address blocks
    /// (`198.18.1.2`, `198.18.1.8/29`, `198.18.1.20-198.18.1.23`).
    public var scanned: [String]

    public init(sweep: SweepPosition? = nil, scanned: [String] = []) {
        self.sweep = sweep
        self.scanned = scanned
    }

    /// `scanned` as a set; blocks that do not parse (a store edited by hand) are skipped, which
    /// only means those hosts are scanned again.
    public var scannedHosts: AddressSet {
        AddressSet(scanned.compactMap { try? TargetParser.parseBlock($0) })
    }

    public static func blocks(_ set: AddressSet) -> [String] { set.ranges.map(\.description) }
}

/// How far a sweep has gone through its order of (address, probe) pairs: the engine's keyed
/// random order (a `Permutation` with `seed`), or the addresses' own order for engines without
/// one. Every pair before `settled` has its answer or was sent at least one cool-down ago.
public struct SweepPosition: Codable, Sendable, Equatable {
    /// What the order ranges over, as the engine names it (`raw icmp-echo,tcp-syn:443`): a
    /// resumed map whose sweep would range over something else starts its sweep over.
    public var space: String
    /// Pairs in the order.
    public var count: UInt64
    /// The order's key (below 2^53, so that every JSON reader keeps it exactly).
    public var seed: UInt64
    public var settled: UInt64

    public init(space: String, count: UInt64, seed: UInt64, settled: UInt64) {
        self.space = space
        self.count = count
        self.seed = seed
        self.settled = settled
    }
}

/// Shared by a sweep engine (which moves it on) and the map's scheduler (which reads it into
/// each checkpoint): the sweep's position, and where a resumed sweep begins.
public final class SweepCursor: Sendable {
    private let resuming: SweepPosition?
    private let state = Mutex<(position: SweepPosition?, resumedAt: UInt64?, refused: String?)>((nil, nil, nil))

    /// `resuming`: the position of the interrupted map's last checkpoint.
    public init(resuming: SweepPosition? = nil) { self.resuming = resuming }

    /// Called by the engine as its sweep begins: the key of its order and the first index to
    /// send. The interrupted sweep's position is taken only if it ranged over the same pairs.
    public func begin(space: String, count: UInt64) -> (seed: UInt64, start: UInt64) {
        state.withLock { state in
            if let resuming, state.position == nil {
                if resuming.space == space && resuming.count == count && resuming.settled <= count {
                    state.position = resuming
                    state.resumedAt = resuming.settled
                    return (resuming.seed, resuming.settled)
                }
                state.refused = resuming.space != space
                    ? "it probed with \(resuming.space), this one with \(space)"
                    : "it ranged over \(resuming.count) probes, this one over \(count)"
            }
            let seed = UInt64.random(in: 0 ..< (1 << 53))
            state.position = SweepPosition(space: space, count: count, seed: seed, settled: 0)
            return (seed, 0)
        }
    }

    /// Every pair before `index` has settled (an index below the one already recorded is ignored).
    public func settle(through index: UInt64) {
        state.withLock { state in
            guard var position = state.position, index > position.settled else { return }
            position.settled = min(index, position.count)
            state.position = position
        }
    }

    /// The position; before the sweep begins, the interrupted one's (so a checkpoint written
    /// before then loses nothing).
    public var position: SweepPosition? { state.withLock { $0.position ?? resuming } }
    /// Where the resumed sweep began, when it continued the interrupted one.
    public var resumedAt: UInt64? { state.withLock { $0.resumedAt } }
    /// Why the interrupted sweep's position could not be used, when it could not.
    public var refused: String? { state.withLock { $0.refused } }
}
