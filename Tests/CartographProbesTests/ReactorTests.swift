import CartographIO
import Foundation
import Glibc
import Testing

/// The reactor the probe workers run on: a token's last arm decides what it waits for.
@Suite("Reactor")
struct ReactorTests {
    /// A connected pair of sockets, the first readable once the second has written.
    static func readablePair() throws -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        let made = fds.withUnsafeMutableBufferPointer { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, $0.baseAddress) }
        try #require(made == 0)
        var byte: UInt8 = 0x45
        try #require(write(fds[1], &byte, 1) == 1)
        return (fds[0], fds[1])
    }

    @Test("a timer armed over a watched, readable descriptor fires: the descriptor's readiness does not use it up")
    func sleepReplacesWatch() throws {
        let reactor = try Reactor()
        let (reader, writer) = try Self.readablePair()
        defer { close(reader); close(writer) }
        // A probe's receive armed a watch; it ended another way (its silence timer, say) and the
        // probe now waits for its next turn on a pure timer under the same token.
        reactor.wait(fd: reader, for: .readable, deadline: nil, token: 7)
        reactor.sleep(until: MonotonicClock.now(), token: 7)
        var events: [ReactorEvent] = []
        for _ in 0..<3 where events.isEmpty { events = reactor.poll(maxWait: 50_000_000) }
        #expect(events.count == 1)
        guard case .timeout(let token)? = events.first else {
            Issue.record("expected the timer to fire, got \(events)")
            return
        }
        #expect(token == 7)
        // Nothing else is left armed for the token.
        #expect(reactor.poll(maxWait: 20_000_000).isEmpty)
    }

    @Test("a watch armed again after a timer reports the descriptor")
    func watchAfterSleep() throws {
        let reactor = try Reactor()
        let (reader, writer) = try Self.readablePair()
        defer { close(reader); close(writer) }
        reactor.sleep(until: MonotonicClock.now() + 10_000_000_000, token: 3)
        reactor.wait(fd: reader, for: .readable, deadline: MonotonicClock.now() + 10_000_000_000, token: 3)
        let events = reactor.poll(maxWait: 100_000_000)
        guard events.count == 1, case .ready(let token, _) = events[0] else {
            Issue.record("expected the descriptor to be reported ready, got \(events)")
            return
        }
        #expect(token == 3)
    }
}
