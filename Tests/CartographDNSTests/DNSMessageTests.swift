import CartographCore
@testable import CartographDNS
import Foundation
import Testing

@Suite("DNS wire format")
struct DNSMessageTests {
    @Test("a query encodes header, name and type as RFC 1035 says")
    func query() {
        let bytes = DNSMessage.query(id: 0xbeef, name: "ns.lab.test", type: .a)
        #expect(bytes == [0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                          2, 0x6e, 0x73, 3, 0x6c, 0x61, 0x62, 4, 0x74, 0x65, 0x73, 0x74, 0,
                          0, 1, 0, 1])
        let tcp = DNSMessage.query(id: 1, name: "a", type: .axfr, tcp: true)
        #expect(Array(tcp.prefix(2)) == [0, UInt8(tcp.count - 2)])
    }

    @Test("reverse names for IPv4 and IPv6")
    func reverse() {
        #expect(DNSMessage.reverseName(IPAddress("198.18.1.2")!) == "2.1.18.198.in-addr.arpa")
        #expect(DNSMessage.reverseName(IPAddress("2001:db8::1")!)
                == "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")
    }

    /// A response to "example.test MX" with a compressed exchange name, glue in the additional
    /// section, and an AAAA.
    static let response: [UInt8] = {
        var bytes: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 2]
        bytes += [7] + Array("example".utf8) + [4] + Array("test".utf8) + [0, 0, 15, 0, 1]   // question at 12
        bytes += [0xc0, 12, 0, 15, 0, 1, 0, 0, 0x0e, 0x10, 0, 9, 0, 10, 4] + Array("mail".utf8) + [0xc0, 12]
        let mail = 12 + 18 + 12 + 2   // offset of "mail" inside the MX rdata
        bytes += [0xc0, UInt8(mail), 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 25]
        bytes += [0xc0, UInt8(mail), 0, 28, 0, 1, 0, 0, 0, 60, 0, 16] + [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        return bytes
    }()

    @Test("responses decode, with compression pointers")
    func decode() throws {
        let response = try #require(DNSMessage.decode(Self.response))
        #expect(response.id == 0x1234)
        #expect(response.rcode == 0)
        #expect(response.answers.count == 1)
        #expect(response.answers[0].name == "example.test")
        #expect(response.answers[0].data == .mx(preference: 10, exchange: "mail.example.test"))
        #expect(response.additional.map(\.name) == ["mail.example.test", "mail.example.test"])
        #expect(response.additional[0].data == .address(IPAddress("192.0.2.25")!))
        #expect(response.additional[1].data == .address(IPAddress("2001:db8::1")!))
    }

    @Test("a pointer loop or a forward pointer is refused, not followed")
    func loops() {
        var looping: [UInt8] = [0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0]
        looping += [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]   // name points at itself
        #expect(DNSMessage.decode(looping) == nil)
        var forward: [UInt8] = [0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0]
        forward += [0xc0, 14, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]
        #expect(DNSMessage.decode(forward) == nil)
        #expect(DNSMessage.decode([]) == nil)
        #expect(DNSMessage.decode([0, 1, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]) == nil, "a query is not a response")
    }

    @Test("the decoder survives any bytes")
    func fuzz() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...120, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                bytes = Array(Self.response.prefix(Int.random(in: 0...Self.response.count, using: &generator)))
                for _ in 0..<3 where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            }
            _ = DNSMessage.decode(bytes)
        }
    }

    @Test("resolv.conf servers are read, comments and options skipped")
    func resolvConf() throws {
        let path = "/tmp/cartograph-resolv-\(getpid()).conf"
        try "# comment\nnameserver 192.0.2.53\noptions ndots:2\nnameserver fe80::1%eth0\nnameserver bogus\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(DNSClient.systemServers(path: path) == [IPAddress("192.0.2.53")!, IPAddress("fe80::1")!])
    }
}
