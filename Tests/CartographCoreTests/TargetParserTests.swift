@testable import CartographCore
import Testing

@Suite("Target grammar")
struct TargetParserTests {
    @Test("addresses, blocks and ranges parse to the right span", arguments: [
        ("10.0.0.1", "10.0.0.1", "10.0.0.1", 1),
        ("10.0.0.0/24", "10.0.0.0", "10.0.0.255", 256),
        ("10.0.0.77/24", "10.0.0.0", "10.0.0.255", 256),
        ("10.0.0.1-10.0.0.50", "10.0.0.1", "10.0.0.50", 50),
        ("10.0.0.1-50", "10.0.0.1", "10.0.0.50", 50),
        ("192.168.1.0/32", "192.168.1.0", "192.168.1.0", 1),
        ("0.0.0.0/0", "0.0.0.0", "255.255.255.255", 4_294_967_296),
        ("::1", "::1", "::1", 1),
        ("2001:db8::/120", "2001:db8::", "2001:db8::ff", 256),
        ("fd00::1-fd00::10", "fd00::1", "fd00::10", 16),
    ])
    func blocks(token: String, first: String, last: String, count: Int) throws {
        let target = try TargetParser.parse(token)
        guard case .addresses(let range) = target else {
            Issue.record("\(token) parsed as \(target), not addresses")
            return
        }
        #expect(range.first.description == first)
        #expect(range.last.description == last)
        #expect(range.count == UInt128(count))
    }

    @Test("bad tokens name the token and the problem", arguments: [
        ("10.0.0.300", "octet 300 is out of range"),
        ("10.0.0", "needs 4 octets"),
        ("10.0.0.0/33", "prefix \"33\" is not a number from 0 to 32"),
        ("10.0.0.50-10.0.0.1", "ends (10.0.0.1) before it starts (10.0.0.50)"),
        ("10.0.0.1-300", "last octet 300 is out of range"),
        ("2001:db8::/32", "larger than /64"),
        ("fd00::-fd00:0:0:1::", "IPv6 ranges wider than a /64 (2^64 addresses) cannot be scanned"),
        ("::-ffff::", "IPv6 ranges wider than a /64"),
        ("fe80::zz", "not a valid IPv6 address"),
        ("exa!mple.com", "character \"!\" is not allowed"),
        ("-bad.example.com", "starts or ends with \"-\""),
        ("example.com:[10.0.0.0/33]", "netblock \"10.0.0.0/33\""),
        ("none:[]", "needs at least one netblock"),
        ("example.com:10.0.0.0", "not a valid IPv6 address"),
    ])
    func errors(token: String, fragment: String) {
        do {
            let parsed = try TargetParser.parseList(token)
            Issue.record("\(token) parsed as \(parsed) but should fail")
        } catch {
            #expect(error.description.contains(fragment), "message was: \(error.description)")
            #expect(error.description.contains("invalid target"))
        }
    }

    @Test("names, domain netblocks, none blocks and groups")
    func kinds() throws {
        #expect(try TargetParser.parse("Example.COM") == .domain("example.com", netblocks: []))
        let domain = try TargetParser.parse("example.com:[10.0.0.0/24, 10.0.1.0/28]")
        guard case .domain(let name, let blocks) = domain else { Issue.record("not a domain"); return }
        #expect(name == "example.com")
        #expect(blocks.map(\.description) == ["10.0.0.0/24", "10.0.1.0/28"])
        guard case .none(let none) = try TargetParser.parse("none:[10.0.0.1,10.0.0.5-9]") else {
            Issue.record("not a none target"); return
        }
        #expect(none.map(\.description) == ["10.0.0.1", "10.0.0.5-10.0.0.9"])
        #expect(try TargetParser.parse("@office") == .assetGroup("office"))
    }

    @Test("a list splits on spaces and commas, but not inside brackets")
    func lists() throws {
        let targets = try TargetParser.parseList("10.0.0.1, 10.0.0.2 example.com:[10.1.0.0/16, 10.2.0.0/16]")
        #expect(targets.count == 3)
    }

    @Test("an IPv6 range of exactly 2^64 addresses is as wide as a /64, and accepted")
    func widestRange() throws {
        guard case .addresses(let range) = try TargetParser.parse("fd00::-fd00::ffff:ffff:ffff:ffff") else {
            Issue.record("not addresses"); return
        }
        #expect(range.count == UInt128(1) << 64)
    }

    @Test("CRLF and CR files have the same lines, comments and line numbers as LF ones")
    func crlfFiles() throws {
        let lf = "10.0.0.1  # first\n\n10.0.0.2 10.0.0.3\n"
        for text in [lf, lf.replacingOccurrences(of: "\n", with: "\r\n"), lf.replacingOccurrences(of: "\n", with: "\r")] {
            let targets = try TargetParser.parseFile(contents: text, path: "t.txt")
            #expect(targets.count == 3, "\(text.debugDescription)")
            #expect(TargetParser.listLines(text).map(\.number) == [1, 2, 3, 4])
            #expect(try TargetParser.parseBlockFile(contents: text, path: "x.txt").count == 3)
        }
        do {
            _ = try TargetParser.parseFile(contents: "10.0.0.1\r\n# c\r\n10.0.0.999\r\n", path: "t.txt")
            Issue.record("should fail")
        } catch {
            #expect(error.description == "t.txt:3: invalid target \"10.0.0.999\": octet 999 is out of range (0-255)")
        }
    }

    @Test("target files report path and line of a bad token")
    func files() {
        let text = "10.0.0.1  # first\n\n10.0.0.2 10.0.0.999\n"
        do {
            _ = try TargetParser.parseFile(contents: text, path: "targets.txt")
            Issue.record("should fail")
        } catch {
            #expect(error.description.hasPrefix("targets.txt:3: invalid target \"10.0.0.999\""), "\(error.description)")
        }
    }
}

@Suite("Address sets")
struct AddressSetTests {
    func set(_ tokens: String...) throws -> AddressSet {
        AddressSet(try tokens.map { try TargetParser.parseBlock($0) })
    }

    @Test("overlapping and adjacent ranges merge")
    func merging() throws {
        let merged = try set("10.0.0.0/25", "10.0.0.128/25", "10.0.0.10-10.0.1.5", "10.0.3.1")
        #expect(merged.ranges.map(\.description) == ["10.0.0.0-10.0.1.5", "10.0.3.1"])
        #expect(merged.count == 263)
    }

    @Test("subtracting exclusions splits ranges without listing addresses")
    func subtraction() throws {
        let all = try set("10.0.0.0/8")
        let rest = all.subtracting(try set("10.0.0.5", "10.1.0.0/16", "11.0.0.0/8"))
        #expect(rest.count == 16_777_216 - 1 - 65_536)
        #expect(!rest.contains(IPAddress("10.0.0.5")!))
        #expect(!rest.contains(IPAddress("10.1.200.3")!))
        #expect(rest.contains(IPAddress("10.0.0.4")!))
        #expect(rest.contains(IPAddress("10.2.0.0")!))
    }

    @Test("iteration is ascending and lazy; indexing needs no walk")
    func iteration() throws {
        let s = try set("10.0.0.250-10.0.1.2", "::1")
        #expect(s.map(\.description) == ["10.0.0.250", "10.0.0.251", "10.0.0.252", "10.0.0.253", "10.0.0.254",
                                         "10.0.0.255", "10.0.1.0", "10.0.1.1", "10.0.1.2", "::1"])
        let big = try set("10.0.0.0/8")
        #expect(big.address(at: 16_777_215)?.description == "10.255.255.255")
        #expect(big.address(at: 16_777_216) == nil)
        #expect(Array(big.prefix(2)).map(\.description) == ["10.0.0.0", "10.0.0.1"])
    }

    @Test("IPv6 text round-trips in RFC 5952 form", arguments: ["::1", "2001:db8::1", "fd7c:a7:1::2", "::", "1::"])
    func ipv6(text: String) {
        #expect(IPAddress(text)?.description == text)
    }
}

@Suite("Port specifications")
struct PortSpecTests {
    @Test("nmap syntax", arguments: [
        ("22,80", [22, 80], [UInt16]()),
        ("1-5", [1, 2, 3, 4, 5], []),
        ("T:22,U:53,161", [22], [53, 161]),
        ("-3", [1, 2, 3], []),
        ("65534-", [65534, 65535], []),
        ("80,80,22", [22, 80], []),
    ] as [(String, [UInt16], [UInt16])])
    func parse(spec: String, tcp: [UInt16], udp: [UInt16]) throws {
        let selection = try PortSpec.parse(spec)
        #expect(selection.tcp == tcp)
        #expect(selection.udp == udp)
    }

    @Test("a port set lists its ports sorted once each, counts them and subtracts another")
    func portBits() {
        let bits = PortBits([443, 22, 65535, 22, 1, 80, 443])
        #expect(bits.ports == [1, 22, 80, 443, 65535])
        #expect(bits.count == 5)
        #expect(bits.contains(65535) && bits.contains(1) && !bits.contains(0) && !bits.contains(23))
        #expect(bits.subtracting(PortBits([22, 80, 8080])).ports == [1, 443, 65535])
        #expect(PortBits(Array(1...UInt16.max)).ports == Array(1...UInt16.max))
        #expect(PortSelection(tcp: [9, 3, 9], udp: [53, 53]) == PortSelection(tcp: [3, 9], udp: [53]))
    }

    @Test("all ports and top:N")
    func special() throws {
        #expect(try PortSpec.parse("-").tcp.count == 65535)
        let top = try PortSpec.parse("top:10").tcp
        #expect(top.count == 10)
        #expect(top.contains(80) && top.contains(443) && top.contains(22))
        #expect(try PortSpec.parse("U:top:5").udp.count == 5)
    }

    @Test("bad specifications say why", arguments: [
        ("70000", "port 70000 is out of range (1-65535)"),
        ("0", "port 0 is out of range"),
        ("22,,80", "empty item"),
        ("80-22", "ends before it starts"),
        ("htpp", "\"htpp\" is neither a port number nor a tcp service name"),
        ("top:x", "top:N needs a positive number"),
    ])
    func errors(spec: String, fragment: String) {
        #expect(throws: PortSpecError.self) { try PortSpec.parse(spec) }
        do { _ = try PortSpec.parse(spec) } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }
}

@Suite("Planning maps")
struct PlannerTests {
    @Test("each domain is its own map; bare addresses share one none map")
    func maps() throws {
        let targets = try TargetParser.parseList("10.0.0.1 example.com 10.0.0.2-3 none:[10.9.0.0/30] example.org:[10.5.0.0/24] example.com")
        let plan = try Planner.plan(targets: targets, excluded: AddressSet())
        #expect(plan.map(\.target) == ["example.com", "example.org:[10.5.0.0/24]",
                                       "none:[10.0.0.1, 10.0.0.2/31, 10.9.0.0/30]"])
        #expect(plan[2].addresses.count == 7)
    }

    @Test("exclusions are removed before anything is scanned")
    func exclusions() throws {
        let targets = try TargetParser.parseList("10.0.0.0/24")
        let plan = try Planner.plan(targets: targets, excluded: AddressSet([try TargetParser.parseBlock("10.0.0.0/25")]))
        #expect(plan[0].addresses.count == 128)
        #expect(plan[0].excludedCount == 128)
        #expect(!plan[0].addresses.contains(IPAddress("10.0.0.5")!))
    }

    @Test("an unknown asset group is a clear error")
    func groups() throws {
        #expect(throws: PlanError.self) { try Planner.plan(targets: [.assetGroup("x")], excluded: AddressSet()) }
    }
}
