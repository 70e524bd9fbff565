import CartographCore
import CartographIO
import CIOShims
import Foundation

/// One router on the way to a host: it answered a probe whose hop limit ran out with "time
/// exceeded", so it forwards traffic towards that host.
public struct Hop: Sendable, Equatable {
    public var distance: Int
    public var router: IPAddress
    public var destination: IPAddress

    public init(distance: Int, router: IPAddress, destination: IPAddress) {
        self.distance = distance
        self.router = router
        self.destination = destination
    }
}

/// What a trace towards one host found: the routers on the way, and how many hops away the
/// host is when it answered.
public struct TracedPath: Sendable, Equatable {
    public var destination: IPAddress
    public var hops: [Hop] = []
    public var distance: Int?
    /// Probes that could not be sent (no socket: out of descriptors, say), so the path may
    /// miss hops.
    public var unsent = 0

    public init(destination: IPAddress, hops: [Hop] = [], distance: Int? = nil, unsent: Int = 0) {
        self.destination = destination
        self.hops = hops
        self.distance = distance
        self.unsent = unsent
    }

    /// This path given to another host of its block that is as far away: the same routers, no
    /// packet sent.
    public func shared(with host: IPAddress) -> TracedPath {
        TracedPath(destination: host, hops: hops.map { Hop(distance: $0.distance, router: $0.router, destination: host) },
                   distance: distance)
    }
}

/// A short traceroute without privileges: UDP datagrams to high ports with hop limits 1...N,
/// all in flight at once, and the ICMP errors they draw read from each socket's error queue
/// (IP_RECVERR), as Linux's unprivileged traceroute does. "Time exceeded" names a router; "port
/// unreachable" from the host itself says how far away it is. Only hosts already found live
/// are traced, so every datagram goes to an address the map may send to.
public enum Traceroute {
    /// Classic traceroute base port; probe `ttl` goes to `basePort + ttl`.
    static let basePort: UInt16 = 33434

    /// Traces `destinations`, 64 at a time (8 sockets each, so descriptors stay few). A host
    /// whose reply TTL puts it as far away as an already traced host of its /24 (IPv4) or /64
    /// (IPv6) is given that host's path instead, as nmap's traceroute reuses hops it knows;
    /// routers that rate-limit their ICMP answers (as real ones do, one a second per source)
    /// spend their few answers on distinct paths this way. Hosts without a TTL, or whose
    /// block's traced host turned out to be elsewhere, are traced themselves.
    ///
    /// `expected` gives, where the sweep saw a reply's TTL, the hop limit that should reach a
    /// host: only limits up to it are sent first (so a host that rate-limits its "port
    /// unreachable" answers is asked once, not eight times), and the rest only if that limit
    /// fell short. `timeoutMs` is the wait for a first answer; the caller derives it from the
    /// round trips it measured.
    ///
    /// `cutoff` gives a monotonic time (nanoseconds) past which no wait goes on, once the caller
    /// knows one: the map's other work has settled and the trace must not hold its end. The one
    /// exception is the paced retry when no router at all has answered yet (and `routersKnown`
    /// says no earlier trace of the map found one) although the TTLs say there is one: that
    /// second is the only way to see the path of a router that answers once a second.
    public static func trace(_ destinations: [IPAddress], expected: [IPAddress: Int] = [:], maxHops: Int = 8,
                             timeoutMs: Int = 1500, attempts: Int = 2, cancel: CancellationFlag,
                             cutoff: () -> UInt64? = { nil }, routersKnown: Bool = false) -> [TracedPath] {
        var representative: [IPAddress: IPAddress] = [:]   // block → the host traced for it
        var traced: [IPAddress] = []
        var followers: [IPAddress: IPAddress] = [:]          // host → the traced host it may share a path with
        for destination in destinations {
            let block = Self.block(of: destination)
            if let known = representative[block], let distance = expected[destination], expected[known] == distance {
                followers[destination] = known
            } else {
                if representative[block] == nil, expected[destination] != nil { representative[block] = destination }
                traced.append(destination)
            }
        }
        var found: [IPAddress: TracedPath] = [:]
        func run(_ list: [IPAddress]) {
            for start in stride(from: 0, to: list.count, by: 64) {
                let batch = Array(list[start..<min(start + 64, list.count)])
                let paths = cancel.isCancelled ? batch.map { TracedPath(destination: $0) }
                    : traceBatch(batch, expected: expected, maxHops: maxHops, timeoutMs: timeoutMs, attempts: attempts,
                                 cancel: cancel, cutoff: cutoff, routersKnown: routersKnown || found.values.contains { !$0.hops.isEmpty })
                for path in paths { found[path.destination] = path }
            }
        }
        run(traced)
        // A follower shares its block's path only if that host was reached where both TTLs said.
        let astray = destinations.filter { destination in
            guard let known = followers[destination] else { return false }
            return found[known]?.distance != expected[destination]
        }
        run(astray)
        return destinations.map { destination in
            if let path = found[destination] { return path }
            guard let known = followers[destination].flatMap({ found[$0] }) else { return TracedPath(destination: destination) }
            return known.shared(with: destination)
        }
    }

    /// The /24 or /64 that `address` belongs to, as an address of its own family.
    public static func block(of address: IPAddress) -> IPAddress {
        IPAddress(family: address.family, value: address.family == .v4 ? address.value >> 8 : address.value >> 64)
    }

    static func traceBatch(_ destinations: [IPAddress], expected: [IPAddress: Int] = [:], maxHops: Int, timeoutMs: Int,
                           attempts: Int, cancel: CancellationFlag, cutoff: () -> UInt64? = { nil },
                           routersKnown: Bool = false) -> [TracedPath] {
        var paths = destinations.map { TracedPath(destination: $0) }
        guard maxHops > 0 else { return paths }
        var slowest: UInt64 = 0   // the slowest answer's round trip, over every attempt
        var limits = destinations.map { min(maxHops, max(1, expected[$0] ?? maxHops)) }
        var answered = Set<Int>()   // index * 256 + ttl
        var firstSentAt: UInt64?
        // The attempts, then one more for the routers that stayed silent below a host that was
        // reached (or whose reply TTL puts it behind one): they are there but rate-limit their answers (Linux: one a second per source
        // after a small burst), so one of them is asked again once a second has passed.
        func pastCutoff(_ time: UInt64) -> Bool { cutoff().map { time >= $0 } ?? false }
        // The cutoff bounds the retries and their waits, never a destination's first attempt: a
        // host found last is still traced once (and a blind path gets its paced retry).
        for attempt in 0...attempts where !cancel.isCancelled && (attempt == 0 || attempt == attempts || !pastCutoff(MonotonicClock.now())) {
            var only: Set<Int>?   // index * 256 + ttl: the only probes of the paced attempt
            if attempt == attempts {
                var gaps: [Int: Int] = [:]   // hop distance → one path missing it
                for (index, path) in paths.enumerated() {
                    // Reached, or known from its reply TTL to be behind a router.
                    guard let distance = path.distance ?? expected[path.destination], distance > 1 else { continue }
                    for ttl in 1..<distance where !answered.contains(index * 256 + ttl) && gaps[ttl] == nil { gaps[ttl] = index }
                }
                guard !gaps.isEmpty, let firstSentAt else { break }
                only = Set(gaps.map { $0.value * 256 + $0.key })
                let due = firstSentAt + 1_100_000_000
                // Past the cutoff, one more router is not worth the map's end, unless no router
                // has answered at all.
                let blind = !routersKnown && !paths.contains { !$0.hops.isEmpty }
                while !cancel.isCancelled, blind || !pastCutoff(due), MonotonicClock.now() < due { usleep(20_000) }
                if cancel.isCancelled || (!blind && pastCutoff(due)) { break }
            } else if attempt > 0 {
                // A router answering at a host's expected limit: the host is farther than its TTL said.
                for index in paths.indices where paths[index].distance == nil
                    && paths[index].hops.contains(where: { $0.distance == limits[index] }) {
                    limits[index] = maxHops
                }
            }
            var sockets: [(fd: Int32, path: Int, ttl: Int)] = []
            defer { for socket in sockets { close(socket.fd) } }
            for (index, path) in paths.enumerated() {
                let reached = path.distance ?? Int.max
                for ttl in 1...limits[index] where ttl <= reached && !answered.contains(index * 256 + ttl)
                    && only.map({ $0.contains(index * 256 + ttl) }) != false {
                    let family = path.destination.family == .v4 ? AF_INET : AF_INET6
                    let fd = cg_trace_socket(family, Int32(ttl))
                    guard fd >= 0 else {
                        paths[index].unsent += 1
                        continue
                    }
                    var (storage, length) = Sockets.socketAddress(path.destination, port: basePort + UInt16(ttl))
                    let payload: [UInt8] = Array("cartograph trace".utf8)
                    let sent = withUnsafePointer(to: &storage) { address in
                        address.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr in
                            payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sockaddr, length) }
                        }
                    }
                    // An immediate error (a route that is gone) means no answer will come.
                    if sent < 0 { close(fd); continue }
                    sockets.append((fd, index, ttl))
                }
            }
            if sockets.isEmpty { break }
            // The wait is earned: up to `timeoutMs` for a first answer, then only as long as
            // answers keep coming (three times the slowest round trip seen, at least 20 ms), and
            // not at all for probes a known distance has made pointless.
            // A later attempt waits for its first answer only as long as answers took before.
            let sentAt = MonotonicClock.now()
            if firstSentAt == nil { firstSentAt = sentAt }
            let firstWait = slowest > 0 ? min(UInt64(timeoutMs) * 1_000_000, max(3 * slowest, 20_000_000))
                : UInt64(timeoutMs) * 1_000_000
            let deadline = sentAt + firstWait
            var lastAnswer: UInt64?
            var pending = Set(sockets.indices)
            while !pending.isEmpty && !cancel.isCancelled {
                let now = MonotonicClock.now()
                let quietEnd = lastAnswer.map { $0 + max(3 * slowest, 20_000_000) } ?? deadline
                let end = min(deadline, quietEnd, only == nil && attempt > 0 ? (cutoff() ?? .max) : .max)
                guard now < end else { break }
                var polls = pending.map { pollfd(fd: sockets[$0].fd, events: Int16(POLLERR), revents: 0) }
                let order = Array(pending)
                let ready = poll(&polls, nfds_t(polls.count), Int32(min(100, (end - now) / 1_000_000 + 1)))
                guard ready > 0 else { continue }
                let arrived = MonotonicClock.now()
                for (slot, item) in polls.enumerated() where item.revents != 0 {
                    let socket = sockets[order[slot]]
                    var offender = [UInt8](repeating: 0, count: 16)
                    var type: UInt8 = 0, code: UInt8 = 0
                    guard cg_trace_read_error(socket.fd, &offender, &type, &code) == 1 else {
                        pending.remove(order[slot])
                        continue
                    }
                    pending.remove(order[slot])
                    answered.insert(socket.path * 256 + socket.ttl)
                    slowest = max(slowest, arrived - sentAt)
                    lastAnswer = arrived
                    let v4 = paths[socket.path].destination.family == .v4
                    guard let from = IPAddress(bytes: offender[0..<(v4 ? 4 : 16)]) else { continue }
                    let timeExceeded = v4 ? type == 11 : type == 3
                    if timeExceeded {
                        if !paths[socket.path].hops.contains(where: { $0.distance == socket.ttl }) {
                            paths[socket.path].hops.append(Hop(distance: socket.ttl, router: from, destination: paths[socket.path].destination))
                        }
                    } else if from == paths[socket.path].destination {
                        // Port unreachable (or any error) from the host itself: it is this far away,
                        // and probes with larger hop limits can tell nothing more.
                        let distance = min(paths[socket.path].distance ?? Int.max, socket.ttl)
                        paths[socket.path].distance = distance
                        pending = pending.filter { sockets[$0].path != socket.path || sockets[$0].ttl <= distance }
                    }
                }
            }
        }
        for index in paths.indices {
            let reached = paths[index].distance ?? Int.max
            paths[index].hops = paths[index].hops.filter { $0.distance < reached }.sorted { $0.distance < $1.distance }
        }
        return paths
    }
}
