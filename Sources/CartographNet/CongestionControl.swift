/// Backs the packet rate off when answers stop keeping up with probes, and creeps back up when
/// they do: additive increase, multiplicative decrease, per time window.
///
/// A stateless scanner cannot see which probe was lost, but it can see the share of probes that
/// draw an answer. That share is steady while the path keeps up (live hosts answer every SYN with
/// a SYN-ACK or RST; a sweep's share is whatever fraction of addresses is live); when a queue
/// overflows or a host rate-limits its ICMP errors, it falls. Two windows in a row whose share is
/// below half the running average halve the rate (one alone is often just answers arriving in a
/// burst a little late); any other window adds a sixteenth of the ceiling back.
///
/// Without a target (`--rate 0`) the rate is unlimited until the first loss: the sender goes as
/// fast as the path takes packets, and the ceiling is the fastest window measured. A back-off
/// then halves the rate of the window that saw the loss, and once the rate has crept back to the
/// ceiling it is unlimited again.
struct CongestionControl {
    /// The rate asked for (packets per second): never exceeded. Nil: as fast as the path allows.
    let target: Double?
    /// Length of a measuring window, in nanoseconds.
    let window: UInt64
    /// Packets per second now; infinite while unlimited.
    private(set) var rate: Double
    private(set) var backoffs = 0
    /// The fastest window measured (packets per second), the ceiling when there is no target.
    private(set) var peak: Double = 0
    private var baseline: Double?
    private var lossyWindows = 0
    private var windowStart: UInt64
    private var sent = 0
    private var answered = 0

    /// `target` 0 or less: no target, as fast as the path allows.
    init(target: Int, now: UInt64, window: UInt64 = 100_000_000) {
        self.target = target > 0 ? Double(target) : nil
        self.window = window
        rate = self.target ?? .infinity
        windowStart = now
    }

    /// The rate never goes below this.
    var floor: Double { max(10, (target ?? peak) / 64) }

    /// Nanoseconds between two packets at the current rate (0 while unlimited).
    var interval: UInt64 { rate.isFinite ? UInt64(1_000_000_000 / rate) : 0 }

    mutating func didSend(_ count: Int) { sent += count }
    mutating func didReceive(_ count: Int = 1) { answered += count }

    /// Closes the window when it is over and adjusts the rate.
    mutating func tick(now: UInt64) {
        guard now >= windowStart + window else { return }
        let measured = Double(sent) * 1e9 / Double(now - windowStart)
        defer {
            windowStart = now
            sent = 0
            answered = 0
        }
        guard sent >= 32 else { return }   // too few packets to judge
        peak = max(peak, measured)
        let share = Double(answered) / Double(sent)
        if let baseline, baseline > 0.02, share < baseline / 2 {
            lossyWindows += 1
            if lossyWindows >= 2 {
                rate = max(floor, (rate.isFinite ? rate : measured) / 2)
                backoffs += 1
            }
            return   // a lossy window does not lower the baseline it is judged against
        }
        lossyWindows = 0
        if let target {
            rate = min(target, rate + target / 16)
        } else if rate.isFinite {
            rate += peak / 16
            if rate >= peak { rate = .infinity }
        }
        baseline = baseline.map { 0.8 * $0 + 0.2 * share } ?? share
    }
}
