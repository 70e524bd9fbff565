import CartographCore
import CartographNet

/// The path to the hosts, traced as they are found: the first live host of each /24 (IPv4) or
/// /64 (IPv6) is traced, and a later host of that block whose reply TTL puts it as far away
/// shares the path at once, with no packet. So the trace runs beside the scan and the map's
/// last host costs nothing more once its block is known.
public struct TraceStage: MapStage {
    /// A host to trace, and the hop limit its reply's TTL says reaches it (nil: not seen).
    public struct Work: Sendable {
        public var address: IPAddress
        public var expected: Int?
        public init(address: IPAddress, expected: Int?) {
            self.address = address
            self.expected = expected
        }
    }

    /// Traces destinations with the hop limits expected to reach them, waiting `timeoutMs` for a
    /// first answer and never past the cutoff: `Traceroute.trace` on the network, a script in tests.
    /// `routersKnown`: an earlier trace of this map found a router (see `Traceroute.trace`).
    public typealias Tracer = @Sendable (_ destinations: [IPAddress], _ expected: [IPAddress: Int], _ timeoutMs: Int,
                                         _ cancel: CancellationFlag, _ cutoff: @escaping () -> UInt64?,
                                         _ routersKnown: Bool) -> [TracedPath]

    /// How long the trace may go on once the rest of the map has settled: a router that answers
    /// once a second is not worth holding the map's end for.
    public static let grace: UInt64 = 300_000_000

    let cancel: CancellationFlag
    /// The slowest round trip measured so far (nanoseconds), from which the wait is sized.
    let slowest: @Sendable () -> UInt64?
    /// When the rest of the map settled (monotonic nanoseconds), once it has.
    let othersSettled: @Sendable () -> UInt64?
    let tracer: Tracer

    public init(cancel: CancellationFlag, slowest: @escaping @Sendable () -> UInt64?,
                othersSettled: @escaping @Sendable () -> UInt64? = { nil },
                tracer: @escaping Tracer = { Traceroute.trace($0, expected: $1, timeoutMs: $2, cancel: $3, cutoff: $4, routersKnown: $5) }) {
        self.cancel = cancel
        self.slowest = slowest
        self.othersSettled = othersSettled
        self.tracer = tracer
    }

    public var kind: ProgressMeter.Stage { .trace }

    /// The wait for a first answer: a few of the slowest round trips measured, 100 ms to 1.5 s.
    static func timeout(slowest: UInt64?) -> Int {
        slowest.map { min(1500, max(100, Int(4 * $0 / 1_000_000) + 50)) } ?? 1500
    }

    public func run(_ inbox: StageQueue<Work>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) throws {
        var known: [IPAddress: TracedPath] = [:]   // block → a reached host's path
        while let batch = inbox.take() {
            meter.addWork(batch.count)
            var direct: [IPAddress] = []
            var expected: [IPAddress: Int] = [:]
            for work in batch {
                if let distance = work.expected, let path = known[Traceroute.block(of: work.address)], path.distance == distance {
                    emit(.path(path.shared(with: work.address)))
                    meter.advance()
                    continue
                }
                direct.append(work.address)
                expected[work.address] = work.expected
            }
            guard !direct.isEmpty else { continue }
            let routersKnown = known.values.contains { !$0.hops.isEmpty }
            for path in tracer(direct, expected, Self.timeout(slowest: slowest()), cancel, { othersSettled().map { $0 + Self.grace } },
                               routersKnown) {
                if path.distance != nil, known[Traceroute.block(of: path.destination)] == nil {
                    known[Traceroute.block(of: path.destination)] = path
                }
                emit(.path(path))
            }
            meter.advance(direct.count)
        }
    }
}
