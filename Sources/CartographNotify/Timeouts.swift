/// Time limits for one delivery attempt. Every wait is bounded by its own limit and by `total`,
/// so a server that accepts and then says nothing, or answers one byte at a time, cannot hold a
/// map's end for longer than that.
public struct Timeouts: Sendable, Equatable {
    public var connect: Duration
    public var read: Duration
    public var write: Duration
    public var total: Duration

    public init(connect: Duration = .seconds(10), read: Duration = .seconds(10), write: Duration = .seconds(10),
                total: Duration = .seconds(60)) {
        self.connect = connect
        self.read = read
        self.write = write
        self.total = total
    }
}

extension Duration {
    /// Whole nanoseconds, never negative.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }

    /// `10 s`, `250 ms`, `1.5 s`: short, for log lines.
    var shortText: String {
        let ms = Double(nanoseconds) / 1_000_000
        if ms < 1000 { return "\(Int(ms.rounded())) ms" }
        let seconds = ms / 1000
        return seconds == seconds.rounded() ? "\(Int(seconds)) s" : "\((seconds * 10).rounded() / 10) s"
    }
}
