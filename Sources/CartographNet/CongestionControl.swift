/// Backs the packet rate off when answers stop keeping up with probes, and creeps back up when
/// they do: additive increase, multiplicative decrease, per time window.
///
/// A stateless scanner cannot see which probe was lost, but it can see the share of probes that
/// draw an answer. That share is steady while the path keeps up (live hosts answer every SYN with
/// a SYN-ACK or RST; a sweep's share is whatever fraction of addresses is live); when a queue
/// overflows or a host rate-limits its ICMP errors, it falls. Two windows in a row whose share is
/// below half the running average halve the rate (one alone is often just answers arriving in a
/// burst a little late); any other window adds a sixteenth of the target back.
struct CongestionControl {
    /// The rate asked for (packets per second): never exceeded.
    let target: Double
    /// The rate never goes below this.
    let floor: Double
    /// Length of a measuring window, in nanoseconds.
    let window: UInt64
    private(set) var rate: Double
    private(set) var backoffs = 0
    private var baseline: Double?
    private var lossyWindows = 0
    private var windowStart: UInt64
    private var sent = 0
    private var answered = 0

    init(target: Int, now: UInt64, window: UInt64 = 100_000_000) {
        self.target = Double(max(1, target))
        floor = max(10, self.target / 64)
        self.window = window
        rate = self.target
        windowStart = now
    }

    /// Nanoseconds between two packets at the current rate.
    var interval: UInt64 { UInt64(1_000_000_000 / rate) }

    mutating func didSend(_ count: Int) { sent += count }
    mutating func didReceive(_ count: Int = 1) { answered += count }

    /// Closes the window when it is over and adjusts the rate.
    mutating func tick(now: UInt64) {
        guard now >= windowStart + window else { return }
        defer {
            windowStart = now
            sent = 0
            answered = 0
        }
        guard sent >= 32 else { return }   // too few packets to judge
        let share = Double(answered) / Double(sent)
        if let baseline, baseline > 0.02, share < baseline / 2 {
            lossyWindows += 1
            if lossyWindows >= 2 {
                rate = max(floor, rate / 2)
                backoffs += 1
            }
            return   // a lossy window does not lower the baseline it is judged against
        }
        lossyWindows = 0
        rate = min(target, rate + target / 16)
        baseline = baseline.map { 0.8 * $0 + 0.2 * share } ?? share
    }
}
