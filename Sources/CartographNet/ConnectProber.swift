import CartographCore
import CartographIO
import Glibc

/// Drives many non-blocking TCP connects at once: bounded concurrency, a global rate, adaptive
/// timeouts from measured round-trip times, and retries for attempts that got no answer.
///
/// Work comes as groups (one host and its ports). Groups run `parallelHosts` at a time and their
/// attempts are interleaved round-robin, so no single host takes all the connections in flight.
/// When `stopGroupOnAnswer` is set (the live host sweep), the first answer from a host cancels
/// the rest of its attempts.
final class ConnectProber {
    struct Attempt {
        var group: Int
        var port: UInt16
        var tries: Int
    }

    enum Outcome {
        case open, refused, unreachable, noAnswer
    }

    private let performance: Profile.Performance
    private let stopGroupOnAnswer: Bool
    private let cancel: CancellationFlag
    private let progress: ProgressMeter?
    private let reactor: Reactor
    private var timing: RTTEstimator
    private var limiter: RateLimiter
    private var concurrency: Int
    /// Called with how many groups, in the order they came, have all ended (every group before
    /// the first still active): where a resumed sweep may begin. Groups without ports are
    /// skipped without counting, so the count is the input's only when every group has ports.
    var settledGroups: ((Int) -> Void)?

    init(performance: Profile.Performance, stopGroupOnAnswer: Bool, cancel: CancellationFlag,
         progress: ProgressMeter? = nil) throws {
        self.performance = performance
        self.stopGroupOnAnswer = stopGroupOnAnswer
        self.cancel = cancel
        self.progress = progress
        reactor = try Reactor(capacity: 4096)
        timing = RTTEstimator(performance: performance)
        limiter = RateLimiter(performance: performance)
        // Keep a margin of descriptors for the rest of the process (probes, the store, stdio).
        let fileLimit = Sockets.raiseOpenFileLimit()
        concurrency = max(1, min(performance.concurrency, fileLimit - 64))
    }

    /// Runs every group to completion (or cancellation) and reports each attempt's final outcome.
    func run<Groups: Sequence>(
        _ groups: Groups,
        report: (IPAddress, UInt16, Outcome, UInt64?) -> Void
    ) where Groups.Element == (IPAddress, [UInt16]) {
        var source = groups.makeIterator()
        var active: [Int: ActiveGroup] = [:]      // group id -> state
        var order: [Int] = []                     // round-robin order of active groups
        var cursor = 0
        var nextGroupID = 0
        var retryQueue: [Attempt] = []
        var inFlight: [Int32: (attempt: Attempt, started: UInt64, deadline: UInt64)] = [:]
        var exhausted = false
        /// Retries started and not yet concluded, and the phase the progress line shows.
        var retriesInFlight = 0
        var shownPhase: String?
        func showPhase() {
            let retrying = retryQueue.count + retriesInFlight
            let fresh = !exhausted || active.values.contains { $0.nextPort < $0.ports.count }
            let phase: String? = retrying > 0 ? "retrying \(retrying) silent port\(retrying == 1 ? "" : "s")"
                : !fresh && !inFlight.isEmpty ? "waiting on the last \(inFlight.count) connection\(inFlight.count == 1 ? "" : "s")" : nil
            guard phase != shownPhase else { return }
            shownPhase = phase
            progress?.phase(phase)
        }

        func refill() {
            while !exhausted && active.count < performance.parallelHosts {
                guard let (address, ports) = source.next() else { exhausted = true; break }
                guard !ports.isEmpty else { continue }
                active[nextGroupID] = ActiveGroup(address: address, ports: ports)
                order.append(nextGroupID)
                nextGroupID += 1
            }
        }

        var settledPrefix = 0
        func finishIfDone(_ id: Int) {
            guard let group = active[id], group.isDone else { return }
            active[id] = nil
            order.removeAll { $0 == id }
            guard let settledGroups, id == settledPrefix else { return }
            settledPrefix = active.keys.min() ?? nextGroupID
            settledGroups(settledPrefix)
        }

        func conclude(_ attempt: Attempt, _ outcome: Outcome, rtt: UInt64?) {
            guard var group = active[attempt.group] else { return }
            group.outstanding -= 1
            progress?.advance()
            if !group.answered || !stopGroupOnAnswer {
                report(group.address, attempt.port, outcome, rtt)
            }
            if stopGroupOnAnswer && (outcome == .open || outcome == .refused) && !group.answered {
                group.answered = true
                // The ports this host will not be asked about are done too.
                progress?.advance(group.ports.count - group.nextPort)
                group.nextPort = group.ports.count
            }
            active[attempt.group] = group
            finishIfDone(attempt.group)
        }

        /// The next attempt to start: retries first, then round-robin over active groups.
        func nextAttempt() -> Attempt? {
            while let retry = retryQueue.first {
                retryQueue.removeFirst()
                if let group = active[retry.group], !group.answered { return retry }
                if var group = active[retry.group] {
                    group.outstanding -= 1
                    active[retry.group] = group
                    finishIfDone(retry.group)
                }
            }
            refill()
            var scanned = 0
            while scanned < order.count {
                if cursor >= order.count { cursor = 0 }
                let id = order[cursor]
                cursor += 1
                scanned += 1
                guard var group = active[id], group.nextPort < group.ports.count else { continue }
                let port = group.ports[group.nextPort]
                group.nextPort += 1
                group.outstanding += 1
                active[id] = group
                return Attempt(group: id, port: port, tries: 0)
            }
            return nil
        }

        func start(_ attempt: Attempt) -> Bool {
            guard let group = active[attempt.group] else { return true }
            let now = MonotonicClock.now()
            switch Sockets.startConnect(to: group.address, port: attempt.port) {
            case .connected(let fd):
                close(fd)
                timing.observe(0)
                conclude(attempt, .open, rtt: 0)
            case .inProgress(let fd):
                let deadline = now + timing.timeout
                inFlight[fd] = (attempt, now, deadline)
                if attempt.tries > 0 { retriesInFlight += 1 }
                reactor.wait(fd: fd, for: .writable, deadline: deadline, token: Int(fd))
            case .failed(let code):
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == EADDRNOTAVAIL || code == EAGAIN {
                    // Out of descriptors or local ports: hold this attempt and lower the ceiling to
                    // what is in flight, so the scan slows down instead of failing.
                    concurrency = max(1, inFlight.count)
                    retryQueue.insert(attempt, at: 0)
                    return false
                }
                conclude(attempt, Self.outcome(forErrno: code), rtt: nil)
            }
            return true
        }

        refill()
        while true {
            if cancel.isCancelled { break }
            // Launch as many attempts as concurrency and the rate allow.
            var launched = true
            while inFlight.count < concurrency && launched {
                let now = MonotonicClock.now()
                guard limiter.mayStart(at: now) else { break }
                guard let attempt = nextAttempt() else { break }
                limiter.started(at: now)
                launched = start(attempt)
            }
            // Retries belong to active groups, so this is the whole of the remaining work.
            if exhausted && active.isEmpty && inFlight.isEmpty { break }
            // At most 100 ms between looks at the cancellation flag, however slow the rate.
            let wait = inFlight.isEmpty ? min(limiter.delay(at: MonotonicClock.now()), .ms(100)) : .ms(50)
            for event in reactor.poll(maxWait: max(wait, 1_000_000)) {
                switch event {
                case .ready(let token, _):
                    let fd = Int32(token)
                    guard let entry = inFlight.removeValue(forKey: fd) else { continue }
                    if entry.attempt.tries > 0 { retriesInFlight -= 1 }
                    let code = Sockets.pendingError(fd)
                    close(fd)
                    let rtt = MonotonicClock.now() - entry.started
                    switch code {
                    case 0:
                        timing.observe(rtt)
                        conclude(entry.attempt, .open, rtt: rtt)
                    case ECONNREFUSED:
                        timing.observe(rtt)
                        conclude(entry.attempt, .refused, rtt: rtt)
                    default:
                        conclude(entry.attempt, Self.outcome(forErrno: code), rtt: nil)
                    }
                case .timeout(let token):
                    let fd = Int32(token)
                    reactor.cancel(token: token)
                    guard let entry = inFlight.removeValue(forKey: fd) else { continue }
                    if entry.attempt.tries > 0 { retriesInFlight -= 1 }
                    close(fd)
                    timing.timedOut()
                    if entry.attempt.tries < performance.retries, active[entry.attempt.group]?.answered == false {
                        var retry = entry.attempt
                        retry.tries += 1
                        retryQueue.append(retry)
                    } else {
                        conclude(entry.attempt, .noAnswer, rtt: nil)
                    }
                }
            }
            // A group can end with nothing in flight once all its ports are concluded.
            for id in order { finishIfDone(id) }
            showPhase()
        }
        if shownPhase != nil { progress?.phase(nil) }
        for fd in inFlight.keys {
            reactor.cancel(token: Int(fd))
            close(fd)
        }
    }

    static func outcome(forErrno code: Int32) -> Outcome {
        switch code {
        case ECONNREFUSED: .refused
        case EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN, EACCES, EPERM: .unreachable
        default: .noAnswer
        }
    }

    struct ActiveGroup {
        let address: IPAddress
        let ports: [UInt16]
        var nextPort = 0
        var outstanding = 0
        var answered = false

        init(address: IPAddress, ports: [UInt16]) {
            self.address = address
            self.ports = ports
        }

        var isDone: Bool { nextPort >= ports.count && outstanding == 0 }
    }
}

/// Connect timeouts from measured round-trip times, in the manner of RFC 6298: smoothed RTT
/// plus four deviations, clamped to the profile's bounds, backing off while answers are missing.
struct RTTEstimator {
    private var smoothed: Double?
    private var deviation: Double = 0
    private let minimum: Double
    private let maximum: Double
    private let initial: Double
    private var backoff: Double = 1

    init(performance: Profile.Performance) {
        minimum = Double(UInt64.ms(performance.minRTTTimeoutMs))
        maximum = Double(UInt64.ms(performance.maxRTTTimeoutMs))
        initial = Double(UInt64.ms(performance.initialRTTTimeoutMs))
    }

    var timeout: UInt64 {
        guard let smoothed else { return UInt64(min(maximum, max(minimum, initial))) }
        return UInt64(min(maximum, max(minimum, (smoothed + 4 * deviation) * backoff)))
    }

    mutating func observe(_ rtt: UInt64) {
        let sample = Double(rtt)
        if let current = smoothed {
            deviation = 0.75 * deviation + 0.25 * abs(current - sample)
            smoothed = 0.875 * current + 0.125 * sample
        } else {
            smoothed = sample
            deviation = sample / 2
        }
        backoff = max(1, backoff * 0.9)
    }

    mutating func timedOut() {
        backoff = min(4, backoff * 1.05)
    }
}

/// Spaces attempts to honour `rate` (per second) and `packet_delay_ms`; both 0 means no limit.
struct RateLimiter {
    private let interval: UInt64
    private var next: UInt64 = 0

    init(performance: Profile.Performance) {
        var interval: UInt64 = 0
        if let rate = performance.rate, rate > 0 { interval = 1_000_000_000 / UInt64(rate) }
        interval = max(interval, .ms(performance.packetDelayMs))
        self.interval = interval
    }

    func mayStart(at now: UInt64) -> Bool { interval == 0 || now >= next }

    mutating func started(at now: UInt64) {
        guard interval > 0 else { return }
        // Allow a small burst after idling, never a flood.
        next = max(next, now - min(now, interval * 8)) + interval
    }

    func delay(at now: UInt64) -> UInt64 { next > now ? next - now : 0 }
}
