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
public final class DNSClient {
    public let servers: [IPAddress]
    let timeoutMs: Int
    let retries: Int
    let concurrency: Int
    let rate: Int

    public init(servers: [IPAddress], timeoutMs: Int = 1500, retries: Int = 2, concurrency: Int = 64, rate: Int = 500) {
        self.servers = servers
        self.timeoutMs = timeoutMs
        self.retries = retries
        self.concurrency = max(1, concurrency)
        self.rate = rate
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
            let server = servers[attempt % servers.count]
            guard case .connected(let fd) = Sockets.startConnect(to: server, port: 53, type: .udp) else { return }
            let id = UInt16.random(in: 0...UInt16.max)
            let query = DNSMessage.query(id: id, name: question.name, type: question.type)
            let sent = query.withUnsafeBytes { Sockets.send(fd, $0) }
            guard sent != nil else { close(fd); return }
            pending[Int(fd)] = Pending(question: question, id: id, fd: fd, attempt: attempt)
            reactor.wait(fd: fd, for: .readable, deadline: MonotonicClock.now() + .ms(timeoutMs), token: Int(fd))
        }

        while !cancel.isCancelled {
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
            let wait = pending.isEmpty ? max(1_000_000, nextSend > now ? nextSend - now : 0) : .ms(50)
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
