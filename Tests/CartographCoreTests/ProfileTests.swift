@testable import CartographCore
import Foundation
import Testing

@Suite("Option profiles")
struct ProfileTests {
    static let profilesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Profiles")

    static var shipped: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: profilesDirectory.path)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.sorted()
    }

    @Test("the required profiles ship")
    func required() {
        for name in ["default", "fast", "thorough", "discovery-only", "low-impact"] {
            #expect(Self.shipped.contains("\(name).yaml"), "Profiles/\(name).yaml is missing")
        }
    }

    @Test("profiles show writes the N most common ports as top:N, not a page of numbers")
    func topPortsShown() throws {
        let profile = try Profile.parse(yaml: "name: t\ninformation_gathering:\n  tcp_ports: \"top:100\"\n  udp_ports: \"top:20\"\n", file: "t", name: "t")
        #expect(profile.yaml().contains("  tcp_ports: \"top:100\"\n"), "\(profile.yaml())")
        #expect(profile.yaml().contains("  udp_ports: \"top:20\"\n"), "\(profile.yaml())")
        let other = try Profile.parse(yaml: "name: t\ninformation_gathering:\n  tcp_ports: \"22,80,8080\"\n", file: "t", name: "t")
        #expect(other.yaml().contains("  tcp_ports: \"22,80,8080\"\n"), "\(other.yaml())")
    }

    @Test("every shipped profile parses and round-trips through `profiles show`", arguments: shipped)
    func shippedParse(file: String) throws {
        let text = try String(contentsOf: Self.profilesDirectory.appendingPathComponent(file), encoding: .utf8)
        let profile = try Profile.parse(yaml: text, file: file, name: String(file.dropLast(5)))
        let again = try Profile.parse(yaml: profile.yaml(), file: "shown", name: "x")
        #expect(again == profile)
    }

    @Test("discovery-only sweeps and does nothing else")
    func discoveryOnly() throws {
        let text = try String(contentsOf: Self.profilesDirectory.appendingPathComponent("discovery-only.yaml"), encoding: .utf8)
        let profile = try Profile.parse(yaml: text, file: "discovery-only.yaml", name: "discovery-only")
        #expect(profile.hostDiscovery.enabled)
        #expect(!profile.informationGathering.portScan)
        #expect(!profile.probes.enabled)
    }

    @Test("values from every section are read")
    func values() throws {
        let yaml = """
        name: custom
        host_discovery:
          enabled: false
          tcp_ports: [22, "8000-8002"]
        dns:
          enabled: false
        information_gathering:
          tcp_ports: "top:10"
          udp_ports: [53, 161]
        probes:
          include: [http, safe]
          exclude: [banner]
          args:
            http: {path: /status}
        performance:
          rate: 100
          retries: 3
          min_rtt_timeout_ms: 50
        """
        let profile = try Profile.parse(yaml: yaml, file: "custom.yaml", name: "custom")
        #expect(!profile.hostDiscovery.enabled)
        #expect(profile.hostDiscovery.tcpPorts == [22, 8000, 8001, 8002])
        #expect(!profile.dns.enabled)
        #expect(profile.informationGathering.tcpPorts.count == 10)
        #expect(profile.informationGathering.udpPorts == [53, 161])
        #expect(profile.probes.include == ["http", "safe"])
        #expect(profile.probes.args["http"] == ["path": "/status"])
        #expect(profile.performance.rate == 100)
        #expect(profile.performance.retries == 3)
        #expect(profile.performance.minRTTTimeoutMs == 50)
    }

    @Test("rate: 0 is kept as no limit and shown again; an unset rate stays unset (the engine's default)")
    func rateZeroAndUnset() throws {
        let zero = try Profile.parse(yaml: "performance:\n  rate: 0\n", file: "zero.yaml", name: "zero")
        #expect(zero.performance.rate == 0)
        #expect(zero.yaml().contains("  rate: 0\n"))
        #expect(try Profile.parse(yaml: zero.yaml(), file: "shown", name: "zero").performance.rate == 0)
        let unset = try Profile.parse(yaml: "performance:\n  retries: 2\n", file: "unset.yaml", name: "unset")
        #expect(unset.performance.rate == nil)
        #expect(!unset.yaml().contains("rate:"), "an unset rate is not written as a number")
    }

    @Test("mistakes name file, line and key", arguments: [
        ("performance:\n  rtt_timout: 5\n", "p.yaml:2: unknown key \"performance.rtt_timout\""),
        ("performance:\n  min_rtt_timout_ms: 5\n", "(did you mean \"min_rtt_timeout_ms\"?)"),
        ("dns:\n  enabled: maybe\n", "p.yaml:2: \"dns.enabled\" must be true or false"),
        ("performance:\n  retries: -1\n", "p.yaml:2: \"performance.retries\" is -1, out of range (0-20)"),
        ("performance:\n  rate: fast\n", "\"performance.rate\" must be a whole number"),
        ("information_gathering:\n  tcp_ports: [22, 70000]\n", "p.yaml:2: \"information_gathering.tcp_ports\": port 70000 is out of range"),
        ("information_gathering:\n  tcp_ports:\n    - 22\n    - -5\n", "p.yaml:4: \"information_gathering.tcp_ports\": port -5 is out of range (1-65535); write a range as \"1-5\""),
        ("host_discovery:\n  tcp_ports: -80\n", "p.yaml:2: \"host_discovery.tcp_ports\": port -80 is out of range (1-65535)"),
        ("information_gathering:\n  udp_ports: [0]\n", "p.yaml:2: \"information_gathering.udp_ports\": port 0 is out of range (1-65535)"),
        ("host_discovery:\n  methods: [icmp]\n", "unknown method \"icmp\""),
        ("probes: [a, b]\n", "p.yaml:1: \"probes\" must be a mapping"),
        ("name: x\n  bad: [\n", "p.yaml:2: YAML syntax error"),
        ("- a\n- b\n", "expected a mapping"),
        ("colour: red\n", "p.yaml:1: unknown key \"colour\""),
        ("performance:\n  min_rtt_timeout_ms: 500\n  max_rtt_timeout_ms: 100\n", "is above max_rtt_timeout_ms"),
    ])
    func errors(yaml: String, expected: String) {
        do {
            let profile = try Profile.parse(yaml: yaml, file: "p.yaml", name: "p")
            Issue.record("parsed as \(profile.name) but should fail with \(expected)")
        } catch {
            #expect(error.description.contains(expected), "message was: \(error.description)")
            #expect(!error.description.contains("\n"), "a profile error is one line")
        }
    }

    @Test("probe name origins point at their lines, and are not part of the settings")
    func probeOrigins() throws {
        let profile = try Profile.parse(yaml: "probes:\n  include:\n    - default\n    - ssh\n  exclude: [http]\n", file: "p.yaml", name: "p")
        #expect(profile.probes.origins == ["default": "p.yaml:3", "ssh": "p.yaml:4", "http": "p.yaml:5"])
        var other = profile
        other.probes.origins = [:]
        #expect(other == profile && other.hashValue == profile.hashValue, "where a name was written is not a setting")
        let json = try JSONEncoder().encode(profile.probes)
        #expect(!String(decoding: json, as: UTF8.self).contains("origins"))
        // ProbeSelection spells out ==, hash and CodingKeys to leave `origins` out: a new field
        // must be added to all three, and this count says when one was not.
        #expect(Mirror(reflecting: profile.probes).children.count == 6,
                "ProbeSelection has a new field: add it to ==, hash(into:) and CodingKeys")
    }

    @Test("long port lists are stored as runs in their own order and read back the same; short ones, and the old arrays, still read")
    func compactPortLists() throws {
        var profile = Profile()
        profile.informationGathering.tcpPorts = Array(1...65535)
        profile.informationGathering.udpPorts = [53, 161] + Array(1000...1100) + [7, 65535]
        let json = try JSONEncoder().encode(profile)
        let text = String(decoding: json, as: UTF8.self)
        #expect(json.count < 4000, "\(json.count) bytes")
        #expect(text.contains(#""tcpPorts":"1-65535""#) && text.contains(#""udpPorts":"53,161,1000-1100,7,65535""#), "\(text)")
        #expect(text.contains(#""tcpPorts":[80,443,22"#), "the discovery ports are a short list, kept as an array: \(text)")
        #expect(try JSONDecoder().decode(Profile.self, from: json) == profile)
        // Settings stored before: every port a number of an array.
        let old = #"{"portScan":true,"scope":"all","tcpPorts":[5,4,3,2,1],"udpPorts":[]}"#
        #expect(try JSONDecoder().decode(Profile.InformationGathering.self, from: Data(old.utf8)).tcpPorts == [5, 4, 3, 2, 1])
        for bad in ["1-", "9-3", "70000", "a", ""] {
            let broken = #"{"tcpPorts":"\#(bad)"}"#
            #expect(throws: DecodingError.self, "\(bad)") { try JSONDecoder().decode(Profile.InformationGathering.self, from: Data(broken.utf8)) }
        }
    }

    @Test("a quoted \"-1024\" is still nmap's range 1-1024")
    func quotedRange() throws {
        let profile = try Profile.parse(yaml: "information_gathering:\n  tcp_ports: [\"-3\"]\n", file: "p.yaml", name: "p")
        #expect(profile.informationGathering.tcpPorts == [1, 2, 3])
    }

    @Test("with DNS disabled, port 53 leaves every port list")
    func dnsPort() {
        var profile = Profile()
        profile.informationGathering.udpPorts = [53, 161]
        #expect(profile.withoutDNSPort().1 == false, "DNS on: nothing changes")
        profile.dns.enabled = false
        let (stripped, changed) = profile.withoutDNSPort()
        #expect(changed)
        #expect(!stripped.hostDiscovery.tcpPorts.contains(53))
        #expect(!stripped.informationGathering.tcpPorts.contains(53))
        #expect(stripped.informationGathering.udpPorts == [161])
    }
}
