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
}

/// A short traceroute without privileges: UDP datagrams to high ports with hop limits 1...N,
/// all in flight at once, and the ICMP errors they draw read from each socket's error queue
/// (IP_RECVERR), as Linux's unprivileged traceroute does. "Time exceeded" names a router; "port
/// unreachable" from the host itself says how far away it is. Only hosts already found live
/// are traced, so every datagram goes to an address the map may send to.
public enum Traceroute {
    /// Classic traceroute base port; probe `ttl` goes to `basePort + ttl`.
    static let basePort: UInt16 = 33434

    /// Traces `destinations` 64 at a time (8 sockets each), so descriptors stay few.
    public static func trace(_ destinations: [IPAddress], maxHops: Int = 8, timeoutMs: Int = 1500, attempts: Int = 2,
                             cancel: CancellationFlag) -> [TracedPath] {
        stride(from: 0, to: destinations.count, by: 64).flatMap { start in
            cancel.isCancelled ? destinations[start..<min(start + 64, destinations.count)].map { TracedPath(destination: $0) }
                : traceBatch(Array(destinations[start..<min(start + 64, destinations.count)]), maxHops: maxHops,
                             timeoutMs: timeoutMs, attempts: attempts, cancel: cancel)
        }
    }

    static func traceBatch(_ destinations: [IPAddress], maxHops: Int, timeoutMs: Int, attempts: Int,
                           cancel: CancellationFlag) -> [TracedPath] {
        var paths = destinations.map { TracedPath(destination: $0) }
        guard maxHops > 0 else { return paths }
        var answered = Set<Int>()   // index * 256 + ttl
        for _ in 0..<attempts where !cancel.isCancelled {
            var sockets: [(fd: Int32, path: Int, ttl: Int)] = []
            defer { for socket in sockets { close(socket.fd) } }
            for (index, path) in paths.enumerated() {
                let reached = path.distance ?? Int.max
                for ttl in 1...maxHops where ttl <= reached && !answered.contains(index * 256 + ttl) {
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
            let deadline = MonotonicClock.now() + UInt64(timeoutMs) * 1_000_000
            var pending = Set(sockets.indices)
            while !pending.isEmpty && !cancel.isCancelled {
                let now = MonotonicClock.now()
                guard now < deadline else { break }
                var polls = pending.map { pollfd(fd: sockets[$0].fd, events: Int16(POLLERR), revents: 0) }
                let order = Array(pending)
                let ready = poll(&polls, nfds_t(polls.count), Int32(min(100, (deadline - now) / 1_000_000 + 1)))
                guard ready > 0 else { continue }
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
                    let v4 = paths[socket.path].destination.family == .v4
                    guard let from = IPAddress(bytes: offender[0..<(v4 ? 4 : 16)]) else { continue }
                    let timeExceeded = v4 ? type == 11 : type == 3
                    if timeExceeded {
                        if !paths[socket.path].hops.contains(where: { $0.distance == socket.ttl }) {
                            paths[socket.path].hops.append(Hop(distance: socket.ttl, router: from, destination: paths[socket.path].destination))
                        }
                    } else if from == paths[socket.path].destination {
                        // Port unreachable (or any error) from the host itself: it is this far away.
                        paths[socket.path].distance = min(paths[socket.path].distance ?? Int.max, socket.ttl)
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
