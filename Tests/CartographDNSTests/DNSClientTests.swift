import CartographCore
import CartographDNS
import CartographTestSupport
import Foundation
import Testing

/// The UDP client against servers on loopback: one that answers every query (with no records)
/// and one that never answers, bound to another loopback address on the same port.
@Suite("DNS client")
struct DNSClientTests {
    /// Answers a query with its own question and no records: a valid, empty response.
    static func emptyAnswer(_ query: [UInt8]) -> [UInt8]? {
        guard query.count >= 12 else { return nil }
        var reply = query
        reply[2] = 0x81   // QR, RD
        reply[3] = 0x80   // RA, rcode 0
        return reply
    }

    static func questions(_ count: Int) -> [DNSQuestion] {
        (0..<count).map { DNSQuestion("host\($0).example.test", .a) }
    }

    @Test("a server that never answers is dropped after its first timeouts; the others answer everything")
    func silentServerDropped() throws {
        let answering = try UDPLoopbackServer(handler: Self.emptyAnswer)
        defer { answering.stop() }
        let silent = try SilentUDP(address: "127.0.0.2", port: answering.port)
        let client = DNSClient(servers: [IPAddress("127.0.0.2")!, IPAddress("127.0.0.1")!], port: answering.port,
                               timeoutMs: 300, concurrency: 4)
        let answers = client.resolve(Self.questions(40), cancel: CancellationFlag())
        #expect(answers.count == 40, "every question answered by the server that answers")
        #expect(client.unresponsive == [IPAddress("127.0.0.2")!])
        #expect(client.abandoned == 0)
        // Without dropping it, half of the 40 first attempts would have gone to it.
        #expect(silent.received <= DNSClient.deadAfter + 4, "the silent server was asked only until it was dropped")
    }

    @Test("with no server answering, lookups are given up once every server is dropped, not asked to the end")
    func noServerLeft() throws {
        let silent = try SilentUDP(address: "127.0.0.3", port: 5353)
        let client = DNSClient(servers: [IPAddress("127.0.0.3")!], port: 5353, timeoutMs: 200, concurrency: 4)
        let answers = client.resolve(Self.questions(40), cancel: CancellationFlag())
        #expect(answers.isEmpty)
        #expect(client.unresponsive == [IPAddress("127.0.0.3")!])
        #expect(client.abandoned >= 30, "\(client.abandoned) given up")
        #expect(silent.received <= DNSClient.deadAfter + 4, "40 questions × 3 attempts would be 120 datagrams")
    }
}
