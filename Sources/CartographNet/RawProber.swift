import CartographCore
import CartographIO
import CIOShims
import Glibc
import Synchronization

/// One kind of raw probe sent to every address of a run.
public enum RawProbeKind: Hashable, Sendable {
    case icmpEcho, icmpTimestamp
    case tcpSYN(UInt16), tcpACK(UInt16)
    case udp(UInt16)
    /// ARP request, to IPv4 addresses on a directly attached segment only.
    case arp

    /// The discovery method name recorded on hosts it finds (`icmp-echo`, `tcp-syn:443`, …).
    public var method: String {
        switch self {
        case .icmpEcho: "icmp-echo"
        case .icmpTimestamp: "icmp-timestamp"
        case .tcpSYN(let port): "tcp-syn:\(port)"
        case .tcpACK(let port): "tcp-ack:\(port)"
        case .udp(let port): "udp:\(port)"
        case .arp: "arp"
        }
    }
}

/// What a reply said about one probe.
public enum RawOutcome: Sendable, Equatable {
    /// SYN-ACK, or a UDP answer.
    case open
    /// RST, or ICMP port unreachable from the host itself: live, nothing listening.
    case closed
    /// An echo or timestamp reply, or a RST to an ACK: the host is live.
    case alive
    /// An ICMP error other than port unreachable: filtered on the way.
    case unreachable
}

/// Sends raw probes to every (address, probe) pair in a keyed random order and matches replies
/// statelessly (see `ProbeCookie`). The order is a `Permutation` of the index space computed on
/// the fly, so memory does not grow with the target; only replies are remembered, to drop
/// duplicates and to skip answered probes when retrying. A global rate spaces the packets; after
/// the last one, a cool-down sized from the round-trip times seen (echoed timestamps) waits for
/// late replies. Cancellation stops sending at once and keeps what was found.
final class RawProber {
    private let performance: Profile.Performance
    private let cancel: CancellationFlag
    private let cookie = ProbeCookie()
    private let sender: RawSender
    private let capture: PacketCapture
    private let sources = SourceAddresses()
    private let timing: RawTiming
    /// Packets generated and sent, for benchmarks.
    private(set) var sent = 0
    /// "Host unreachable" (ICMPv6: address unreachable) answers from routers: the last router
    /// failed to resolve the address on its segment.
    private var hostUnreachables = 0

    /// Default packet rate when the profile sets none: fast, yet far below what a veth or a LAN
    /// port drops. A rate of 0 is no limit at all: as fast as the path takes packets, with
    /// congestion control still backing off on loss.
    static let defaultRate = 100_000

    /// Advanced once per (address, probe) on the first pass.
    var progress: ProgressMeter?
    /// What the run says about its own coverage: lost packets, collapsed answers, re-sends.
    private(set) var coverage = RawCoverage.Run()

    /// New addresses a re-send touches per second: a default Linux router keeps 1024
    /// neighbours (gc_thresh3) and an unresolved one holds its entry about 3 s, so a directly
    /// attached segment swept faster than this loses hosts to neighbour-table overflow.
    static let recoveryAddressRate = 250
    /// Entries a default Linux neighbour table holds (gc_thresh3), and how long after a sweep's
    /// first packets a router that could not resolve them has said so: it gives up after 3
    /// solicitations a second apart, and its "host unreachable" needs a little longer to come.
    static let neighbourTableSize = 1024
    static let neighbourResolution: UInt64 = 3_250_000_000
    /// Longest the re-sends of one run may take; what is left unsent is named in the warning.
    static let recoveryBudget: UInt64 = 60_000_000_000

    /// The filter of every run's capture: answers to our probes (their source port or ICMP
    /// identifier is in our range) and the ICMP and ARP that may say something about them.
    static let captureFilter: String = {
        let ports = "\(ProbeCookie.portBase)-\(ProbeCookie.portBase + ProbeCookie.portSpan - 1)"
        return "(tcp and dst portrange \(ports)) or (udp and dst portrange \(ports)) or icmp or icmp6 or arp"
    }()

    /// `capture`: one opened ahead of the run (see `SpareCapture`), else one is opened here,
    /// its ring sized for `answers`.
    init(performance: Profile.Performance, cancel: CancellationFlag, timing: RawTiming,
         capture spare: PacketCapture? = nil, answers: UInt128 = .max) throws(RawError) {
        self.performance = performance
        self.cancel = cancel
        self.timing = timing
        sender = try RawSender()
        let bufferSize = PacketCapture.bufferSize(forAnswers: answers)
        // A spare whose ring is too small for this run waits in the pool for a smaller one.
        var fitting = spare
        if let spare, spare.bufferSize < bufferSize {
            CapturePool.shared.give(spare)
            fitting = nil
        }
        if let ready = fitting ?? CapturePool.shared.take(bufferSize: bufferSize) {
            try ready.filter(Self.captureFilter)
            capture = ready
        } else {
            capture = try PacketCapture(filter: Self.captureFilter, bufferSize: bufferSize)
        }
    }

    /// The capture goes back to the pool for the next run.
    deinit { CapturePool.shared.give(capture) }

    struct Key: Hashable, Sendable {
        let address: IPAddress
        let probe: Int
    }

    /// Probes every address with every probe. `report` gets each first answer; with
    /// `stopOnAnswer`, a host that answered any probe gets no more. With `liveEnds` (the sweep,
    /// which records every method that finds a host), a host that answered any probe is live:
    /// its other probes are not retried, and once every address has answered, the wait for
    /// late answers ends after two of the slowest round trips instead of the whole cool-down.
    /// With `retryOnlyAfterLoss` (the sweep, whose probe kinds already stand in for one
    /// another), the retries are sent only when the first pass saw a sign of loss (a packet that
    /// could not leave, a back-off, a router saying it could not resolve an address), so a
    /// silent address costs one packet per probe.
    /// With a `cursor` (the sweep), the order's key and first index come from it (a resumed map
    /// begins where the interrupted one had settled), and it is moved on as pairs settle: a
    /// pair sent a cool-down ago has had its time to answer. A resumed run's retries and
    /// re-sends cover only its own part of the order, except the slow re-sends after loss,
    /// which walk every address not answered in this run.
    /// Returns the keys that were answered.
    @discardableResult
    func run(_ addresses: AddressSet, probes: [RawProbeKind], stopOnAnswer: Bool, liveEnds: Bool = false,
             retryOnlyAfterLoss: Bool = false, cursor: SweepCursor? = nil,
             report: (IPAddress, RawProbeKind, RawOutcome, UInt8) -> Void) throws(RawError) -> Set<Key> {
        var answered = Set<Key>()
        var inapplicable = Set<Key>()
        var liveHosts = Set<IPAddress>()
        var respondents = Set<IPAddress>()
        var unreachables = Set<IPAddress>()
        let probeCount = UInt64(probes.count)
        guard probeCount > 0, !addresses.isEmpty else { return answered }
        guard addresses.count <= UInt128(UInt64.max / probeCount) else {
            throw RawError(message: "too many addresses for one raw run (\(addresses.count))")
        }
        let total = UInt64(addresses.count) * probeCount
        // The index space's name is only for a cursor (a full-port scan has 65535 probes).
        let (seed, start) = cursor?.begin(space: "raw " + probes.map(\.method).joined(separator: ","), count: total)
            ?? (UInt64.random(in: .min ... .max), 0)
        let order = Permutation(count: total, seed: seed)
        // The interrupted run's part of the order counts as done.
        if start > 0 { progress?.advance(Int(clamping: start)) }
        guard start < total else { return answered }
        /// First-pass indices and when they were sent, oldest first: the cursor settles them
        /// once a cool-down has passed.
        var marks: [(index: UInt64, at: UInt64)] = []
        var settledMark = 0
        func settleMarks(_ cursor: SweepCursor, now: UInt64) {
            let wait = cooldown()
            var reached: UInt64?
            while settledMark < marks.count && marks[settledMark].at + wait <= now {
                reached = marks[settledMark].index
                settledMark += 1
            }
            if let reached { cursor.settle(through: reached) }
            if settledMark > 4096 {
                marks.removeFirst(settledMark)
                settledMark = 0
            }
        }
        // 0 stays 0 (no target) unless a packet delay asks for a rate.
        var rate = performance.rate ?? Self.defaultRate
        if performance.packetDelayMs > 0 {
            let delayed = max(1, 1000 / performance.packetDelayMs)
            rate = rate > 0 ? min(rate, delayed) : delayed
        }
        var control = CongestionControl(target: rate, now: MonotonicClock.now())
        let batchSize = rate > 0 ? max(1, min(64, rate / 1000)) : 64

        let arp = ARPSender()
        let probeIndex = ProbeIndex(probes)

        // Pass 0 is the first, then the retries, then re-sends (recovery) after answers were lost.
        var currentPass = 0
        var recovering = false
        var roundFinds = 0
        func handle(_ packet: ReceivedPacket) {
            // Only addresses of this run count: the kernel's own ARP traffic, say, is not ours.
            guard let (address, probe, outcome) = match(packet, probes: probeIndex), addresses.contains(address) else { return }
            let key = Key(address: address, probe: probe)
            guard answered.insert(key).inserted else { return }
            control.didReceive()
            // An unreachable settles the probe (it reached the last router) but finds nothing.
            let finds = outcome != .unreachable
            if !finds { unreachables.insert(address) }
            if recovering {
                coverage.recoveredAnswers += 1
                if finds { roundFinds += 1 }
                if finds && respondents.insert(address).inserted { coverage.recoveredAddresses += 1 }
            } else {
                // A port answering only a retry is ordinary loss; an address whose every first
                // probe went unanswered is a path dropping silently.
                if finds && respondents.insert(address).inserted && currentPass > 0 { coverage.lateAddresses += 1 }
            }
            if stopOnAnswer {
                guard outcome != .unreachable, liveHosts.insert(address).inserted else { return }
            }
            report(address, probes[probe], outcome, packet.ttl)
        }

        /// Queues one probe; false when it was settled without a packet.
        func queue(_ address: IPAddress, _ probe: Int) throws(RawError) -> Bool {
            // A probe that does not apply (ARP off the attached segments, ICMP timestamp over
            // IPv6) is settled at once, so it does not hold the run open.
            if probes[probe] == .arp {
                if !arp.request(address) { inapplicable.insert(Key(address: address, probe: probe)) }
                return false
            }
            guard let packet = try makePacket(probes[probe], to: address) else {
                inapplicable.insert(Key(address: address, probe: probe))
                return false
            }
            sender.add(PacketEncoder.encode(packet), to: address)
            return true
        }

        let passes = 1 + performance.retries
        var firstPassStart: UInt64 = 0
        // Helpers of a pass that ended by an error stop claiming at once.
        var sharing: SendShare?
        defer { sharing?.stop.store(true, ordering: .relaxed) }
        func settled() -> Bool { answered.count + inapplicable.count >= Int(clamping: total - start) }
        func allLive() -> Bool { liveEnds && start == 0 && UInt128(respondents.count) >= addresses.count }
        for pass in 0..<passes where !settled() && !allLive() {
            if pass > 0 && retryOnlyAfterLoss {
                // A router resolves the addresses of its own segments one by one and says "host
                // unreachable" only once resolution fails (Linux: 3 s); while its neighbour table
                // is full it drops the rest without a word. So before a first pass that left more
                // addresses silent than a table holds is called clean, that window is waited out.
                let silent = Int(clamping: addresses.count) - respondents.count
                if silent >= Self.neighbourTableSize {
                    try wait(until: firstPassStart + Self.neighbourResolution, handle) { settled() }
                }
                if sender.errors.isEmpty && control.backoffs == 0 && hostUnreachables == 0 { break }
            }
            currentPass = pass
            if pass == 0 { firstPassStart = MonotonicClock.now() }
            // The progress line says so: a retry resends to the silent ones, counted in the first pass.
            progress?.phase(pass > 0 ? "retry \(pass) of \(passes - 1): resending to the silent ones" : nil)
            // Without a rate limit the first pass is shared with helper threads (`SendShare`).
            let share = pass == 0 && control.target == nil ? startHelpers(addresses, probes, order, start: start, total: total,
                                                                          exclusive: cursor != nil || stopOnAnswer) : nil
            sharing = share
            var helperSent = 0
            var index = start, limit = total
            var passStart = start
            var due = MonotonicClock.now()
            while share != nil || index < total, !cancel.isCancelled {
                if let share {
                    guard let range = share.claim() else { break }
                    (index, limit, passStart) = (range.lowerBound, range.upperBound, range.lowerBound)
                }
                var queued = 0
                while queued < batchSize && index < limit {
                    let key = Key(index, of: order, over: addresses, probeCount: probeCount)
                    let address = key.address, probe = key.probe
                    index += 1
                    if pass > 0 && (answered.contains(key) || inapplicable.contains(key)) { continue }
                    if stopOnAnswer && liveHosts.contains(address) { continue }
                    if pass > 0 && liveEnds && respondents.contains(address) { continue }
                    if try queue(address, probe) { queued += 1 }
                }
                sent += sender.flush()
                control.didSend(queued)
                if let share {
                    let helpers = share.helperSent.load(ordering: .relaxed)
                    control.didSend(helpers - helperSent)
                    helperSent = helpers
                }
                if pass == 0 { progress?.advance(Int(index - passStart)) }
                passStart = index
                try capture.drain(handle)
                // Keep to the rate: each packet owns one interval of time at the current rate.
                let now = MonotonicClock.now()
                if pass == 0, let cursor {
                    marks.append((index, now))
                    settleMarks(cursor, now: now)
                }
                control.tick(now: now)
                // Loss set a rate: this thread alone keeps to it.
                if control.rate.isFinite { share?.stop.store(true, ordering: .relaxed) }
                due += UInt64(queued) * control.interval
                if due > now + 2_000_000 {
                    try wait(until: due, handle)
                } else if now > due + 50_000_000 {
                    due = now   // fell behind: do not burst to catch up
                }
            }
            if let share {
                let helped = share.join()
                sent += helped.sent
                sender.absorb(errors: helped.errors)
                for key in helped.inapplicable { inapplicable.insert(key) }
                if let failure = helped.failure { throw failure }
            }
            if cancel.isCancelled { break }
            // Late replies: wait out the cool-down, or less once every probe has its answer
            // (with `liveEnds`: once every address has answered and two round trips passed).
            let passEnd = MonotonicClock.now(), deadline = passEnd + cooldown()
            progress?.phase(String(format: "cool-down: up to %.1f s for late replies", Double(deadline - passEnd) / 1e9))
            if liveEnds {
                try wait(until: min(deadline, passEnd + max(.ms(10), 2 * timing.maxRTT)), handle) { settled() }
                try wait(until: deadline, handle) { settled() || allLive() }
            } else {
                try wait(until: deadline, handle) { settled() }
            }
            // The first pass and its cool-down are over: every pair had its time to answer.
            if pass == 0 && !cancel.isCancelled { cursor?.settle(through: total) }
        }
        coverage.sendErrors = sender.errors
        coverage.backoffs = control.backoffs
        coverage.probes = total - start
        // "Host unreachable" from a router means it resolves the segment's addresses by ARP or
        // neighbour discovery one by one; addresses that drew nothing at all may then have been
        // dropped by it without a word (a full neighbour table sends no error, and the errors it
        // does send are rate-limited).
        let answering = respondents.count + unreachables.subtracting(respondents).count
        if hostUnreachables >= 8, addresses.count <= UInt128(Int.max), Int(addresses.count) > answering {
            coverage.mixedSilence = Int(addresses.count) - answering
        }

        // Answers were lost (packets that never left, answer shares that collapsed, hosts only a
        // retry found): re-send every unanswered probe slowly, one address at a time, until a
        // round finds nothing new, so what the first passes lost is found or known to be absent.
        coverage.unanswered = Int(clamping: total - start) - answered.count - inapplicable.count
        guard coverage.lossSeen, !settled(), !cancel.isCancelled else { return answered }
        recovering = true
        let started = MonotonicClock.now()
        // Let the neighbour entries the fast passes left (unresolved for about 3 s) expire first.
        try wait(until: started + 3_000_000_000, handle)
        // An eighth of the rate the fast passes ended at (of the fastest measured, without a limit).
        let endRate = control.rate.isFinite ? control.rate : max(control.peak, 8000)
        let packetGap = max(UInt64(1e9 / max(1000, endRate / 8)), 1)
        let addressGap = UInt64(1_000_000_000 / Self.recoveryAddressRate)
        for _ in 0..<2 where !cancel.isCancelled && !settled() {
            roundFinds = 0
            coverage.recoveryRounds += 1
            var due = MonotonicClock.now()
            var complete = true
            walk: for address in addresses {
                if cancel.isCancelled { break }
                if stopOnAnswer && liveHosts.contains(address) { continue }
                if MonotonicClock.now() - started > Self.recoveryBudget {
                    complete = false
                    break walk
                }
                var queued = 0
                for probe in 0..<probes.count {
                    let key = Key(address: address, probe: probe)
                    if answered.contains(key) || inapplicable.contains(key) { continue }
                    if try queue(address, probe) { queued += 1 }
                }
                guard queued > 0 else { continue }
                coverage.resent += sender.flush()
                due += max(addressGap, UInt64(queued) * packetGap)
                try wait(until: due, handle)
            }
            if !complete { coverage.recoveryCutShort = true }
            try wait(until: MonotonicClock.now() + cooldown(), handle) { settled() }
            coverage.lastRoundFound = roundFinds
            if coverage.lastRoundFound == 0 || !complete { break }
        }
        coverage.sendErrors = sender.errors
        coverage.unanswered = Int(clamping: total - start) - answered.count - inapplicable.count
        return answered
    }

    /// Starts helper threads for a first pass, where this machine has the cores and the run the
    /// pairs; nil for a run its own thread sends alone. `exclusive`: the batches must go in
    /// order or depend on answers (a cursor to settle, `stopOnAnswer`).
    private func startHelpers(_ addresses: AddressSet, _ probes: [RawProbeKind], _ order: Permutation,
                              start: UInt64, total: UInt64, exclusive: Bool) -> SendShare? {
        let helpers = SendShare.helpers(for: total - start)
        guard helpers > 0, !exclusive, !probes.contains(.arp) else { return nil }
        let share = SendShare(start: start, end: total)
        let cookie = cookie, probeCount = UInt64(probes.count)
        for _ in 0..<helpers {
            share.startHelper(progress: progress, pair: { index in
                Key(index, of: order, over: addresses, probeCount: probeCount)
            }, build: { key, sources throws(RawError) in
                try Self.makePacket(probes[key.probe], to: key.address, cookie: cookie, sources: sources)
            })
        }
        return share
    }

    /// Waits for late replies: three times the slowest round trip seen, within the profile's
    /// bounds; the initial timeout when no round trip was measured.
    func cooldown() -> UInt64 {
        let low = UInt64.ms(performance.minRTTTimeoutMs), high = UInt64.ms(performance.maxRTTTimeoutMs)
        guard timing.samples > 0 else { return min(high, max(low, .ms(performance.initialRTTTimeoutMs))) }
        return min(high, max(low, 3 * timing.maxRTT + .ms(20)))
    }

    private func wait(until deadline: UInt64, _ handle: (ReceivedPacket) -> Void,
                      done: () -> Bool = { false }) throws(RawError) {
        var pollSet = pollfd(fd: capture.selectableFD, events: Int16(POLLIN), revents: 0)
        while !cancel.isCancelled && !done() {
            let now = MonotonicClock.now()
            guard now < deadline else { return }
            _ = poll(&pollSet, 1, Int32(min(50, (deadline - now) / 1_000_000 + 1)))
            try capture.drain(handle)
        }
    }

    private func timestamp() -> UInt32 { Self.timestamp() }
    private static func timestamp() -> UInt32 { UInt32(truncatingIfNeeded: MonotonicClock.now() / 1_000_000) }

    private func observeRTT(_ echoed: UInt32?) {
        guard let echoed else { return }
        let elapsed = timestamp() &- echoed
        guard elapsed < 60_000 else { return }   // not one of ours, or wrapped
        timing.observe(.ms(Int(elapsed)))
    }

    func makePacket(_ probe: RawProbeKind, to address: IPAddress) throws(RawError) -> ProbePacket? {
        try Self.makePacket(probe, to: address, cookie: cookie, sources: sources)
    }

    /// The packet of one probe, from any thread with its own `sources`.
    static func makePacket(_ probe: RawProbeKind, to address: IPAddress, cookie: ProbeCookie,
                           sources: SourceAddresses) throws(RawError) -> ProbePacket? {
        guard let kind = packetKind(probe, to: address, cookie: cookie, timestamp: timestamp()) else { return nil }
        return ProbePacket(source: try sources.source(for: address), destination: address, kind: kind)
    }

    /// The packet a probe sends to `address`; nil for probes that are not IP packets (ARP) or do
    /// not exist for the address's family (ICMP timestamp over IPv6).
    static func packetKind(_ probe: RawProbeKind, to address: IPAddress, cookie: ProbeCookie, timestamp: UInt32) -> ProbePacket.Kind? {
        switch probe {
        case .icmpEcho:
            let (identifier, sequence) = cookie.icmpFields(address)
            return .icmpEcho(identifier: identifier, sequence: sequence, timestamp: timestamp)
        case .icmpTimestamp:
            guard address.family == .v4 else { return nil }   // ICMPv6 has no timestamp request
            let (identifier, sequence) = cookie.icmpFields(address)
            return .icmpTimestamp(identifier: identifier, sequence: sequence)
        case .tcpSYN(let port):
            return .tcpSYN(sourcePort: cookie.sourcePort(address, port), destinationPort: port,
                           sequence: cookie.sequence(address, port), timestamp: timestamp)
        case .tcpACK(let port):
            return .tcpACK(sourcePort: cookie.sourcePort(address, port), destinationPort: port,
                           acknowledgement: cookie.sequence(address, port))
        case .udp(let port):
            return .udp(sourcePort: cookie.sourcePort(address, port), destinationPort: port,
                        payload: UDPPayloads.payload(for: port))
        case .arp:
            return nil
        }
    }

    /// Which of our probes a packet answers, and what it says; nil for anything else.
    func match(_ packet: ReceivedPacket, probes: ProbeIndex) -> (IPAddress, Int, RawOutcome)? {
        switch packet.kind {
        case .tcp(let sport, let dport, let sequence, let acknowledgement, let flags, let echoed):
            if flags & 0x12 == 0x12 || flags & 0x04 != 0,
               let index = probes[.tcpSYN(sport)],
               cookie.matchesTCP(source: packet.source, sourcePort: sport, destinationPort: dport, acknowledgement: acknowledgement) {
                observeRTT(echoed)
                return (packet.source, index, flags & 0x04 != 0 ? .closed : .open)
            }
            // A RST answering our ACK carries our acknowledgement number as its sequence.
            if flags & 0x04 != 0, let index = probes[.tcpACK(sport)],
               dport == cookie.sourcePort(packet.source, sport), sequence == cookie.sequence(packet.source, sport) {
                return (packet.source, index, .alive)
            }
            return nil
        case .icmpEchoReply(let identifier, let sequence, let echoed):
            guard let index = probes[.icmpEcho], (identifier, sequence) == cookie.icmpFields(packet.source) else { return nil }
            observeRTT(echoed)
            return (packet.source, index, .alive)
        case .icmpTimestampReply(let identifier, let sequence):
            guard let index = probes[.icmpTimestamp], (identifier, sequence) == cookie.icmpFields(packet.source) else { return nil }
            return (packet.source, index, .alive)
        case .udp(let sport, let dport, _):
            guard let index = probes[.udp(sport)], dport == cookie.sourcePort(packet.source, sport) else { return nil }
            return (packet.source, index, .open)
        case .icmpUnreachable(let type, let code, let destination, let proto, let sport, let dport):
            guard sport == cookie.sourcePort(destination, dport) else { return nil }
            let probe: RawProbeKind = proto == 6 ? .tcpSYN(dport) : .udp(dport)
            guard proto == 6 || proto == 17, let index = probes[probe] else { return nil }
            // Port unreachable from the target itself: it is live and the UDP port is closed.
            let portUnreachable = (destination.family == .v4 && type == 3 && code == 3) || (destination.family == .v6 && type == 1 && code == 4)
            if proto == 17 && portUnreachable && packet.source == destination { return (destination, index, .closed) }
            if packet.source != destination && ((destination.family == .v4 && type == 3 && code == 1)
                                                || (destination.family == .v6 && type == 1 && code == 3)) {
                hostUnreachables += 1
            }
            return (destination, index, .unreachable)
        case .arpReply:
            // ARP carries no cookie: a reply counts when it comes from an address we asked for
            // (the run's address set) and is addressed to us.
            guard let index = probes[.arp], packet.destination.family == .v4 else { return nil }
            return (packet.source, index, .alive)
        }
    }
}

extension RawProber.Key {
    /// The pair at `index` of a run's order: the permuted value is address × probes + probe.
    init(_ index: UInt64, of order: Permutation, over addresses: AddressSet, probeCount: UInt64) {
        let value = order.permute(index)
        self.init(address: addresses.address(at: UInt128(value / probeCount))!, probe: Int(value % probeCount))
    }
}

/// Each probe's place in a run's list, found by kind: a table by port for the TCP and UDP kinds
/// (a full-port scan has 65535 of them, and every answer is looked up), a dictionary for the rest.
struct ProbeIndex {
    private var syn: [UInt32] = [], ack: [UInt32] = [], udp: [UInt32] = []
    private var others: [RawProbeKind: Int] = [:]

    init(_ probes: [RawProbeKind]) {
        func set(_ table: inout [UInt32], _ port: UInt16, _ index: Int) {
            if table.isEmpty { table = [UInt32](repeating: 0, count: 65536) }
            if table[Int(port)] == 0 { table[Int(port)] = UInt32(index + 1) }
        }
        for (index, probe) in probes.enumerated() {
            switch probe {
            case .tcpSYN(let port): set(&syn, port, index)
            case .tcpACK(let port): set(&ack, port, index)
            case .udp(let port): set(&udp, port, index)
            case .icmpEcho, .icmpTimestamp, .arp: if others[probe] == nil { others[probe] = index }
            }
        }
    }

    subscript(_ probe: RawProbeKind) -> Int? {
        func find(_ table: [UInt32], _ port: UInt16) -> Int? {
            guard !table.isEmpty, table[Int(port)] > 0 else { return nil }
            return Int(table[Int(port)]) - 1
        }
        switch probe {
        case .tcpSYN(let port): return find(syn, port)
        case .tcpACK(let port): return find(ack, port)
        case .udp(let port): return find(udp, port)
        case .icmpEcho, .icmpTimestamp, .arp: return others[probe]
        }
    }
}

/// ARP requests for directly attached IPv4 addresses, as broadcast Ethernet frames through an
/// AF_PACKET socket. Addresses on no attached segment are skipped: ARP does not cross routers.
final class ARPSender {
    private var socket: Int32 = -1
    private var attached: [UInt32: (index: Int32, source: UInt32, mac: [UInt8])?] = [:]

    deinit { if socket >= 0 { Teardown.close(socket) } }

    /// Sends an ARP request for `address`; false when ARP does not apply to it.
    @discardableResult
    func request(_ address: IPAddress) -> Bool {
        guard case .v4(let target) = address else { return false }
        let key = target >> 8
        if attached[key] == nil {
            var name = [CChar](repeating: 0, count: 16)
            var index: Int32 = 0, source: UInt32 = 0
            var mac = [UInt8](repeating: 0, count: 6)
            attached[key] = cg_attached_interface(target, &name, &index, &source, &mac) != 0 ? (index, source, mac) : .some(nil)
        }
        guard let entry = attached[key], let (index, source, mac) = entry else { return false }
        if socket < 0 { socket = cg_arp_socket() }
        guard socket >= 0 else { return false }
        func bytes(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
        let frame: [UInt8] = [UInt8](repeating: 0xff, count: 6) + mac + [0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01] + mac + bytes(source) + [UInt8](repeating: 0, count: 6) + bytes(target)
        _ = frame.withUnsafeBufferPointer { cg_send_frame(socket, index, $0.baseAddress, Int32($0.count)) }
        return true
    }
}

/// What the raw runs of one map say about their coverage, for the map's warnings: packets that
/// never left, answer shares that collapsed, hosts only a retry found, and what the slow
/// re-sends after such a loss found. Shared by a map's sweep and scan engines, like `RawTiming`;
/// used by one thread at a time.
public final class RawCoverage: @unchecked Sendable {
    struct Run {
        var probes: UInt64 = 0
        var unanswered = 0
        var sendErrors: [Int32: Int] = [:]
        var backoffs = 0
        var lateAddresses = 0
        var mixedSilence = 0
        var recoveryRounds = 0
        var resent = 0
        var recoveredAnswers = 0
        var recoveredAddresses = 0
        var lastRoundFound = 0
        var recoveryCutShort = false

        var lossSeen: Bool { !sendErrors.isEmpty || backoffs > 0 || lateAddresses > 0 || mixedSilence > 0 }
        /// The last re-send round still found something (not just unreachables), or the budget
        /// ran out: more may be lost.
        var unconfirmed: Bool { lossSeen && (recoveryRounds == 0 || lastRoundFound > 0 || recoveryCutShort) }
    }

    private var notes: [String] = []

    public init() {}

    /// One line for a run that saw loss, under `stage` (`sweep`, `TCP scan`, …).
    func record(_ run: Run, stage: String) {
        guard run.lossSeen else { return }
        var signs: [String] = []
        let errors = run.sendErrors.values.reduce(0, +)
        if errors > 0 {
            let kinds = run.sendErrors.sorted { $0.value > $1.value }
                .map { "\(Self.errnoName($0.key)) ×\($0.value)" }.joined(separator: ", ")
            signs.append("\(errors) packet(s) could not be sent (\(kinds))")
        }
        if run.backoffs > 0 { signs.append("the answer rate collapsed \(run.backoffs) time(s) and the rate was lowered") }
        if run.mixedSilence > 0 {
            signs.append("a router said some addresses could not be resolved (host unreachable) and \(run.mixedSilence) others drew nothing at all")
        }
        if run.lateAddresses > 0 { signs.append("\(run.lateAddresses) address(es) answered only a retry") }
        var line = "\(stage): answers were lost: " + signs.joined(separator: "; ")
        if run.recoveryRounds > 0 {
            line += "; \(run.resent) unanswered probe(s) re-sent slowly (\(RawProber.recoveryAddressRate) addresses a second, "
                + "\(run.recoveryRounds) round(s)), which drew \(run.recoveredAnswers) more answer(s) and found \(run.recoveredAddresses) more live address(es)"
        }
        if run.unconfirmed {
            let why = run.recoveryCutShort ? "the re-sends ran out of time" : run.recoveryRounds == 0 ? "no re-send was possible"
                : "the last re-send round still found more"
            line = "coverage not confirmed: \(run.unanswered) probe(s) unanswered after lost packets (\(why)); " + line
        }
        notes.append(line)
    }

    /// The lines recorded since the last call.
    public func take() -> [String] {
        defer { notes = [] }
        return notes
    }

    static func errnoName(_ code: Int32) -> String {
        switch code {
        case ENOBUFS: "ENOBUFS"
        case EAGAIN: "EAGAIN"
        case EPERM: "EPERM"
        case EACCES: "EACCES"
        case ENETUNREACH: "ENETUNREACH"
        case EHOSTUNREACH: "EHOSTUNREACH"
        case EMSGSIZE: "EMSGSIZE"
        default: "errno \(code)"
        }
    }
}

/// Round-trip times seen by the raw runs of one map, shared between its sweep and its port scan
/// so the scan's cool-down is sized from the start (a RST echoes no timestamp to measure). The
/// sweep and the scan run at once, so a mutex guards the values.
public final class RawTiming: Sendable {
    private let state = Mutex((maxRTT: UInt64(0), samples: 0))

    public init() {}

    var maxRTT: UInt64 { state.withLock { $0.maxRTT } }
    var samples: Int { state.withLock { $0.samples } }

    /// The slowest round trip seen, or nil before the first.
    var slowest: UInt64? { state.withLock { $0.samples > 0 ? $0.maxRTT : nil } }

    func observe(_ rtt: UInt64) {
        state.withLock {
            $0.maxRTT = max($0.maxRTT, rtt)
            $0.samples += 1
        }
    }
}

/// Builds every packet a raw run would send, in the same permuted order, and sends none: what
/// `--dry-run-packets` measures. Returns how many packets were built.
public enum PacketGenerator {
    public static func generate(_ addresses: AddressSet, probes: [RawProbeKind], cancel: CancellationFlag) -> UInt64 {
        let cookie = ProbeCookie()
        let probeCount = UInt64(probes.count)
        guard probeCount > 0, !addresses.isEmpty, addresses.count <= UInt128(UInt64.max / probeCount) else { return 0 }
        let total = UInt64(addresses.count) * probeCount
        let order = Permutation(count: total, seed: UInt64.random(in: .min ... .max))
        let anyV4 = IPAddress.v4(0), anyV6 = IPAddress.v6(0)
        var built: UInt64 = 0, digest: UInt8 = 0
        for index in 0..<total {
            if index & 0xffff == 0 && cancel.isCancelled { break }
            let value = order.permute(index)
            let address = addresses.address(at: UInt128(value / probeCount))!
            let source = address.family == .v4 ? anyV4 : anyV6
            guard let kind = RawProber.packetKind(probes[Int(value % probeCount)], to: address, cookie: cookie, timestamp: 0) else {
                continue
            }
            let bytes = PacketEncoder.encode(ProbePacket(source: source, destination: address, kind: kind))
            digest ^= bytes[bytes.count - 1]
            built += 1
        }
        return built &+ UInt64(digest & 0)
    }
}

/// Protocol payloads for well-known UDP ports, so services that ignore empty datagrams answer.
public enum UDPPayloads {
    public static func payload(for port: UInt16) -> [UInt8] {
        switch port {
        case 53:   // DNS: a query for version.bind, class CHAOS, type TXT
            return [0x13, 0x37, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                    0x07] + Array("version".utf8) + [0x04] + Array("bind".utf8) + [0x00, 0x00, 0x10, 0x00, 0x03]
        case 123:  // NTP: a version 4 client request
            return [0x23] + [UInt8](repeating: 0, count: 47)
        case 161:  // SNMP v2c get-request of sysDescr.0, community "public"
            return [0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06] + Array("public".utf8) +
                [0xa0, 0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
                 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00]
        default:
            return []
        }
    }
}
