import CartographCore
@testable import CartographNet
import Testing

@Suite("Packets")
struct PacketTests {
    let a = IPAddress("192.0.2.1")!, b = IPAddress("198.51.100.7")!

    @Test("the Internet checksum matches RFC 1071's worked example")
    func checksum() {
        // RFC 1071, section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded), checksum 220d.
        #expect(Checksum.compute([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]) == 0x220d)
        // A header with its checksum filled in sums to zero.
        let packet = PacketEncoder.encode(ProbePacket(source: a, destination: b, kind: .icmpEcho(identifier: 1, sequence: 2, timestamp: 0)))
        #expect(Checksum.compute(Array(packet[0..<20])) == 0)
    }

    @Test("a TCP SYN encodes to the expected bytes")
    func synBytes() {
        let packet = ProbePacket(source: a, destination: b,
                                 kind: .tcpSYN(sourcePort: 40000, destinationPort: 80, sequence: 0x0102_0304, timestamp: 0x0a0b_0c0d),
                                 ttl: 64, ipIdentifier: 0x1234)
        let bytes = PacketEncoder.encode(packet)
        #expect(bytes.count == 20 + 36)
        #expect(Array(bytes[0..<10]) == [0x45, 0x00, 0x00, 0x38, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06])
        #expect(Array(bytes[12..<20]) == [192, 0, 2, 1, 198, 51, 100, 7])
        let tcp = Array(bytes[20...])
        #expect(Array(tcp[0..<14]) == [0x9c, 0x40, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0, 0x90, 0x02])
        #expect(Array(tcp[20..<32]) == [0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x08, 0x0a, 0x0a, 0x0b, 0x0c, 0x0d])
        // The TCP checksum, summed with the pseudo-header, verifies to zero.
        let pseudo = Checksum.pseudoHeader(source: a, destination: b, protocol: 6, length: tcp.count)
        #expect(Checksum.compute(tcp, initial: pseudo) == 0)
    }

    @Test("packets decode back to what was encoded, IPv4 and IPv6", arguments: [
        ("192.0.2.1", "198.51.100.7"), ("2001:db8::1", "2001:db8::7"),
    ])
    func roundTrip(source: String, destination: String) throws {
        let s = IPAddress(source)!, d = IPAddress(destination)!
        // A reply to us: swap the direction of a SYN and decode it as captured (raw IP).
        let syn = PacketEncoder.encode(ProbePacket(source: d, destination: s,
                                                   kind: .tcpSYN(sourcePort: 443, destinationPort: 40001, sequence: 7, timestamp: 99), ttl: 57))
        let decoded = try #require(PacketDecoder.decode(syn, linkType: .raw))
        #expect(decoded.source == d && decoded.destination == s && decoded.ttl == 57)
        guard case .tcp(let sport, let dport, let seq, _, let flags, _) = decoded.kind else { Issue.record("\(decoded.kind)"); return }
        #expect((sport, dport, seq, flags) == (443, 40001, 7, 0x02))

        let echo = PacketEncoder.encode(ProbePacket(source: d, destination: s, kind: .udp(sourcePort: 53, destinationPort: 40002, payload: [1, 2, 3])))
        #expect(PacketDecoder.decode(echo, linkType: .raw)?.kind == .udp(sourcePort: 53, destinationPort: 40002, payloadLength: 3))
        let udp = Array(echo[(s.family == .v4 ? 20 : 40)...])
        let pseudo = Checksum.pseudoHeader(source: d, destination: s, protocol: 17, length: udp.count)
        #expect(Checksum.compute(udp, initial: pseudo) == 0)
    }

    @Test("link-layer framings: Ethernet, Linux cooked v1 and v2")
    func framing() {
        let ip = PacketEncoder.encode(ProbePacket(source: b, destination: a, kind: .udp(sourcePort: 1, destinationPort: 2, payload: [])))
        let ethernet = [UInt8](repeating: 0xaa, count: 12) + [0x08, 0x00] + ip
        let sll = [UInt8](repeating: 0, count: 14) + [0x08, 0x00] + ip
        let sll2 = [0x08, 0x00] + [UInt8](repeating: 0, count: 18) + ip
        for (frame, type) in [(ethernet, PacketDecoder.LinkType.ethernet), (sll, .linuxSLL), (sll2, .linuxSLL2)] {
            #expect(PacketDecoder.decode(frame, linkType: type)?.source == b, "\(type)")
        }
    }

    @Test("an ICMP port unreachable quotes the probe it answers")
    func unreachable() {
        let probe = PacketEncoder.encode(ProbePacket(source: a, destination: b, kind: .udp(sourcePort: 41000, destinationPort: 161, payload: [9])))
        var icmp: [UInt8] = [3, 3, 0, 0, 0, 0, 0, 0] + probe
        let sum = Checksum.compute(icmp)
        icmp[2] = UInt8(sum >> 8); icmp[3] = UInt8(sum & 0xff)
        var header = Array(PacketEncoder.encode(ProbePacket(source: b, destination: a, kind: .icmpEcho(identifier: 0, sequence: 0, timestamp: 0)))[0..<20])
        header[9] = 1
        let total = 20 + icmp.count
        header[2] = UInt8(total >> 8); header[3] = UInt8(total & 0xff)
        let decoded = PacketDecoder.decode(header + icmp, linkType: .raw)
        #expect(decoded?.kind == .icmpUnreachable(type: 3, code: 3, originalDestination: b, originalProtocol: 17,
                                                   originalSourcePort: 41000, originalDestinationPort: 161))
    }

    @Test("the decoder survives any bytes")
    func fuzz() {
        var generator = SystemRandomNumberGenerator()
        let types: [PacketDecoder.LinkType] = [.ethernet, .raw, .linuxSLL, .linuxSLL2]
        let seed = PacketEncoder.encode(ProbePacket(source: a, destination: b, kind: .tcpSYN(sourcePort: 1, destinationPort: 2, sequence: 3, timestamp: 4)))
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                // Mutations of a valid packet reach deeper into the parsers.
                bytes = Array(seed.prefix(Int.random(in: 0...seed.count, using: &generator)))
                for _ in 0..<3 where !bytes.isEmpty { bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator) }
            }
            _ = PacketDecoder.decode(bytes, linkType: types[round % types.count])
        }
    }

    @Test("cookies recognise our replies and nothing else")
    func cookies() {
        let cookie = ProbeCookie(key: (1, 2))
        let sport = cookie.sourcePort(b, 443), seq = cookie.sequence(b, 443)
        #expect((ProbeCookie.portBase..<ProbeCookie.portBase + ProbeCookie.portSpan).contains(sport))
        #expect(cookie.matchesTCP(source: b, sourcePort: 443, destinationPort: sport, acknowledgement: seq &+ 1))
        #expect(!cookie.matchesTCP(source: b, sourcePort: 443, destinationPort: sport, acknowledgement: seq))
        #expect(!cookie.matchesTCP(source: a, sourcePort: 443, destinationPort: sport, acknowledgement: seq &+ 1))
        #expect(!ProbeCookie(key: (3, 4)).matchesTCP(source: b, sourcePort: 443, destinationPort: sport, acknowledgement: seq &+ 1))
    }
}

@Suite("Permutation")
struct PermutationTests {
    @Test("is a bijection on 0..<count", arguments: [1, 2, 3, 7, 100, 1000, 65535, 100_003])
    func bijection(count: Int) {
        let permutation = Permutation(count: UInt64(count), seed: 42)
        var seen = [Bool](repeating: false, count: count)
        for index in 0..<UInt64(count) {
            let value = Int(permutation.permute(index))
            #expect(value < count)
            #expect(!seen[value])
            seen[value] = true
        }
        #expect(seen.allSatisfy { $0 })
    }

    @Test("differs by seed and is not the identity")
    func randomness() {
        let one = Permutation(count: 1000, seed: 1), two = Permutation(count: 1000, seed: 2)
        let first = (0..<1000).map { one.permute($0) }, second = (0..<1000).map { two.permute($0) }
        #expect(first != second)
        #expect(first.enumerated().filter { $0.offset == Int($0.element) }.count < 20)
    }
}
