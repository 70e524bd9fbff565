import CartographCore
import CartographIO
import Foundation
import Glibc

/// A question to ask: a name and a record type.
public struct DNSQuestion: Hashable, Sendable {
    public var name: String
    public var type: DNSType
    public init(_ name: String, _ type: DNSType) {
        self.name = name.lowercased()
        self.type = type
    }
}

/// Asks many questions at once over UDP, on one thread, through the epoll reactor: each query
/// has its own connected socket, a timeout, and retries that move on to the next server. A rate
/// spaces the queries so a sweep of PTR lookups does not flood a server.
///
/// Waits are earned: once a server has answered, its queries wait a few of its slowest round
/// trips rather than the full timeout; a server whose first queries all time out is dropped
/// (`unresponsive`) and the questions go on to the others, or are given up when none is left.
/// Used from one thread at a time.
public final class DNSClient {
    public let servers: [IPAddress]
    let timeoutMs: Int
    let retries: Int
    let concurrency: Int
    let rate: Int
    /// Timeouts in a row, with no answer ever, after which a server is dropped.
    public static let deadAfter = 2

    private struct Health {
        var answers = 0
        var timeoutsInARow = 0
        var slowest: UInt64 = 0
    }
    private var health: [Health]
    /// Servers dropped because they never answered; the map says so.
    public private(set) var unresponsive: [IPAddress] = []
    /// Questions given up unasked because no server was left.
    public private(set) var abandoned = 0

    /// The servers' port: 53, but for tests that run servers on loopback.
    let port: UInt16

    public init(servers: [IPAddress], port: UInt16 = 53, timeoutMs: Int = 1500, retries: Int = 2, concurrency: Int = 64,
                rate: Int = 500) {
        self.servers = servers
        self.port = port
        self.timeoutMs = timeoutMs
        self.retries = retries
        self.concurrency = max(1, concurrency)
        self.rate = rate
        health = Array(repeating: Health(), count: servers.count)
    }

    /// The servers still asked, as indices into `servers`.
    private var live: [Int] { servers.indices.filter { !unresponsive.contains(servers[$0]) } }

    /// The wait for an answer from server `index`: a few of its slowest round trips once it has
    /// answered, the full timeout before.
    private func timeout(for index: Int) -> UInt64 {
        let full = UInt64.ms(timeoutMs)
        guard health[index].answers > 0 else { return full }
        return min(full, max(.ms(100), 4 * health[index].slowest + .ms(50)))
    }

    /// The servers of `/etc/resolv.conf` (what the C library would ask).
    public static func systemServers(path: String = "/etc/resolv.conf") -> [IPAddress] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            return IPAddress(String(fields[1].split(separator: "%").first ?? ""))
        }
    }

    private struct Pending {
        let question: DNSQuestion
        let id: UInt16
        let fd: Int32
        var attempt: Int
        let server: Int
        let sentAt: UInt64
    }

    /// Asks every question; returns the responses that came (a question without one is absent).
    public func resolve(_ questions: [DNSQuestion], cancel: CancellationFlag) -> [DNSQuestion: DNSResponse] {
        var answers: [DNSQuestion: DNSResponse] = [:]
        guard !servers.isEmpty, !questions.isEmpty, let reactor = try? Reactor(capacity: 256) else { return answers }
        var queue = Array(Set(questions))
        var retryQueue: [(DNSQuestion, Int)] = []
        var pending: [Int: Pending] = [:]     // token (fd) -> query
        let interval: UInt64 = rate > 0 ? 1_000_000_000 / UInt64(rate) : 0
        var nextSend = MonotonicClock.now()

        func send(_ question: DNSQuestion, attempt: Int) {
            let choices = live
            guard !choices.isEmpty else { abandoned += 1; return }
            let index = choices[attempt % choices.count]
            guard case .connected(let fd) = Sockets.startConnect(to: servers[index], port: port, type: .udp) else { return }
            let id = UInt16.random(in: 0...UInt16.max)
            let query = DNSMessage.query(id: id, name: question.name, type: question.type)
            let sent = query.withUnsafeBytes { Sockets.send(fd, $0) }
            guard sent != nil else { close(fd); return }
            let now = MonotonicClock.now()
            pending[Int(fd)] = Pending(question: question, id: id, fd: fd, attempt: attempt, server: index, sentAt: now)
            reactor.wait(fd: fd, for: .readable, deadline: now + timeout(for: index), token: Int(fd))
        }

        while !cancel.isCancelled {
            if live.isEmpty {
                abandoned += queue.count + retryQueue.count
                queue.removeAll()
                retryQueue.removeAll()
            }
            let now = MonotonicClock.now()
            while pending.count < concurrency && now >= nextSend && (!retryQueue.isEmpty || !queue.isEmpty) {
                if !retryQueue.isEmpty {
                    let (question, attempt) = retryQueue.removeFirst()
                    send(question, attempt: attempt)
                } else {
                    send(queue.removeLast(), attempt: 0)
                }
                nextSend = max(nextSend + interval, now - min(now, interval * 4))
            }
            if pending.isEmpty && queue.isEmpty && retryQueue.isEmpty { break }
            // Wake for the next send when one is due, else within 50 ms for answers and timeouts.
            let due = !queue.isEmpty || !retryQueue.isEmpty ? max(1_000_000, nextSend > now ? nextSend - now : 0) : UInt64.ms(50)
            let wait = pending.isEmpty ? due : min(due, .ms(50))
            for event in reactor.poll(maxWait: wait) {
                let token: Int
                var timedOut = false
                switch event {
                case .ready(let t, _): token = t
                case .timeout(let t): token = t; timedOut = true
                }
                guard let query = pending.removeValue(forKey: token) else { continue }
                reactor.cancel(token: token)
                var response: DNSResponse?
                if !timedOut, let bytes = Sockets.receive(query.fd, max: 65535), let decoded = DNSMessage.decode(bytes),
                   decoded.id == query.id {
                    response = decoded
                }
                close(query.fd)
                if response != nil {
                    health[query.server].answers += 1
                    health[query.server].timeoutsInARow = 0
                    health[query.server].slowest = max(health[query.server].slowest, MonotonicClock.now() - query.sentAt)
                } else if timedOut {
                    health[query.server].timeoutsInARow += 1
                    if health[query.server].answers == 0 && health[query.server].timeoutsInARow >= Self.deadAfter
                        && !unresponsive.contains(servers[query.server]) {
                        unresponsive.append(servers[query.server])
                        // Its other queries would only time out too: they go on to the others now.
                        for (other, waiting) in pending where waiting.server == query.server {
                            pending[other] = nil
                            reactor.cancel(token: other)
                            close(waiting.fd)
                            retryQueue.append((waiting.question, waiting.attempt))
                        }
                    }
                }
                if let response {
                    answers[query.question] = response
                } else if query.attempt < retries {
                    retryQueue.append((query.question, query.attempt + 1))
                }
            }
        }
        for query in pending.values { close(query.fd) }
        return answers
    }
}

/// What a zone transfer gave.
public enum ZoneTransfer: Equatable, Sendable {
    case records([DNSRecord])
    /// The server answered with an error code (5: refused, 9: not authoritative).
    case refused(rcode: UInt8)
    case failed(String)
}

extension DNSClient {
    /// Largest transfer accepted: a hostile server must not make the scanner hoard memory.
    static let transferLimit = 32 << 20

    /// AXFR of `zone` from `server` over TCP (RFC 5936): messages until the closing SOA.
    public func transfer(zone: String, from server: IPAddress, cancel: CancellationFlag) -> ZoneTransfer {
        let deadline = MonotonicClock.now() + .ms(timeoutMs * 4)
        let fd: Int32
        switch Sockets.startConnect(to: server, port: 53) {
        case .connected(let connected): fd = connected
        case .inProgress(let pending):
            fd = pending
            guard waitFor(fd, events: Int16(POLLOUT), until: deadline, cancel: cancel), Sockets.pendingError(fd) == 0 else {
                close(fd)
                return .failed("cannot connect to \(server):53")
            }
        case .failed(let code): return .failed("cannot connect to \(server):53: \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        let id = UInt16.random(in: 0...UInt16.max)
        let query = DNSMessage.query(id: id, name: zone, type: .axfr, recursionDesired: false, tcp: true)
        guard query.withUnsafeBytes({ Sockets.send(fd, $0) }) == query.count else { return .failed("cannot send the query") }
        var buffer: [UInt8] = []
        var total = 0
        var records: [DNSRecord] = []
        var soaSeen = 0
        while !cancel.isCancelled {
            // One length-prefixed message at a time.
            while buffer.count >= 2 {
                let length = Int(buffer[0]) << 8 | Int(buffer[1])
                guard buffer.count >= 2 + length else { break }
                let message = Array(buffer[2..<(2 + length)])
                buffer.removeFirst(2 + length)
                guard let response = DNSMessage.decode(message), response.id == id else { return .failed("malformed answer") }
                if response.rcode != 0 { return .refused(rcode: response.rcode) }
                for record in response.answers {
                    if record.type == DNSType.soa.rawValue { soaSeen += 1 }
                    records.append(record)
                }
                if soaSeen >= 2 {
                    return .records(records)
                }
            }
            guard waitFor(fd, events: Int16(POLLIN), until: deadline, cancel: cancel) else {
                return .failed(cancel.isCancelled ? "interrupted" : "timed out")
            }
            guard let chunk = Sockets.receive(fd) else { return .failed(String(cString: strerror(errno))) }
            if chunk.isEmpty {
                return records.isEmpty ? .failed("the server closed the connection") : .records(records)
            }
            total += chunk.count
            guard total <= Self.transferLimit else { return .failed("transfer larger than \(Self.transferLimit >> 20) MiB") }
            buffer += chunk
        }
        return .failed("interrupted")
    }

    /// Waits in steps of at most 100 ms, so a cancelled map does not wait out the transfer.
    private func waitFor(_ fd: Int32, events: Int16, until deadline: UInt64, cancel: CancellationFlag) -> Bool {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        while !cancel.isCancelled {
            let now = MonotonicClock.now()
            guard now < deadline else { return false }
            let result = poll(&entry, 1, Int32(min(100, (deadline - now) / 1_000_000 + 1)))
            if result > 0 { return true }
            if result < 0 && errno != EINTR { return false }
        }
        return false
    }
}
