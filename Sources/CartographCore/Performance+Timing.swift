extension Profile.Performance {
    /// nmap's `-T0`..`-T5` on top of a profile's settings. `-T3` (normal) is the profile as it
    /// is; the slow levels send one probe at a time with nmap's pauses between them; the fast
    /// ones shorten the round-trip timeouts as nmap does (docs/nmap-habits.md has the table).
    public mutating func applyTiming(_ level: Int) {
        switch level {
        case 0, 1, 2:
            // paranoid, sneaky, polite: one host and one probe at a time, nmap's scan delay.
            packetDelayMs = [300_000, 15_000, 400][level]
            parallelHosts = 1
            concurrency = 1
            hostParallelism = 1
            if level < 2 { initialRTTTimeoutMs = max(initialRTTTimeoutMs, [300_000, 15_000][level]) }
            maxRTTTimeoutMs = max(maxRTTTimeoutMs, initialRTTTimeoutMs)
        case 4:
            // aggressive: nmap's 500 ms initial and 1250 ms largest round-trip timeout.
            initialRTTTimeoutMs = min(initialRTTTimeoutMs, 500)
            maxRTTTimeoutMs = min(maxRTTTimeoutMs, 1250)
            minRTTTimeoutMs = min(minRTTTimeoutMs, initialRTTTimeoutMs)
            packetDelayMs = 0
        case 5:
            // insane: 250 ms initial, 300 ms largest, 50 ms smallest, at most one retry.
            initialRTTTimeoutMs = min(initialRTTTimeoutMs, 250)
            maxRTTTimeoutMs = min(maxRTTTimeoutMs, 300)
            minRTTTimeoutMs = min(minRTTTimeoutMs, 50)
            retries = min(retries, 1)
            packetDelayMs = 0
        default:
            break
        }
    }
}
