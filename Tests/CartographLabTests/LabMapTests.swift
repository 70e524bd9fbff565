import CartographTestSupport
import Foundation
import Testing

/// `cartograph map` against real daemons behind a router. Serialized: the tests read packet
/// counters of lab hosts, which another test's traffic would disturb.
extension LabTests {
@Suite("Mapping the lab")
struct LabMapTests {
    static let ports = "22,80,443,2222,6379,7777,8080"

    static let engines = ["syn", "connect"]

    /// The discovery methods an engine may report.
    static func discoveryMethods(_ engine: String) -> (String) -> Bool {
        engine == "syn" ? { $0.hasPrefix("tcp-syn:") || $0.hasPrefix("icmp-") } : { $0.hasPrefix("tcp-connect:") }
    }

    @Test("every open port and no closed one; http, ssh and redis named with the probe that found each", arguments: engines)
    func fullMap(engine: String) throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", Lab.h1, Lab.h2, Lab.h3, Lab.absent, "-p", Self.ports, "--engine", engine])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(maps.count == 1)
        #expect(maps.first?["target"] as? String == "none:[\(Lab.h1), \(Lab.h2), \(Lab.h3), \(Lab.absent)]")
        #expect(maps.first?["profile"] as? String == "default")
        let hosts = ReportHost.all(maps)
        #expect(Set(hosts.keys) == [Lab.h1, Lab.h2, Lab.h3], "live hosts: \(hosts.keys.sorted())")

        let h1 = try #require(hosts[Lab.h1])
        #expect(h1.openPorts == [22, 80])
        #expect(h1.raw["closed_ports"] as? Int == 5)
        #expect(h1.discovery.allSatisfy(Self.discoveryMethods(engine)) && !h1.discovery.isEmpty, "\(h1.discovery)")
        let h2 = try #require(hosts[Lab.h2])
        #expect(h2.openPorts == [2222, 6379, 7777, 8080])
        let h3 = try #require(hosts[Lab.h3])
        #expect(h3.openPorts.isEmpty)
        #expect(h3.raw["closed_ports"] as? Int == 7)

        let expected: [(ReportHost, Int, String, String, String?)] = [
            (h1, 22, "ssh", "OpenSSH", "9.2p1"), (h1, 80, "http", "nginx", "1.22.1"),
            (h2, 2222, "ssh", "OpenSSH", "9.2p1"), (h2, 8080, "http", "nginx", "1.22.1"),
            (h2, 6379, "redis", "Redis", "7.0.15"), (h2, 7777, "redis", "Redis", "7.0.15"),
        ]
        for (host, port, name, product, version) in expected {
            let service = try #require(host.service(port), "no service on \(port)")
            #expect(service["name"] as? String == name, "port \(port): \(service)")
            #expect(service["method"] as? String == name, "port \(port) was identified by the \(name) probe")
            #expect(service["product"] as? String == product, "port \(port): \(service)")
            #expect(service["version"] as? String == version, "port \(port): \(service)")
            #expect(service["state"] as? String == "open")
        }
    }

    @Test("the text report shows each service and its method")
    func textReport() throws {
        try Lab.require()
        let result = try Lab.cartograph(["map", Lab.h2, "-p", "2222,7777", "-n"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let ssh = lines.first { $0.hasPrefix("  2222/tcp") } ?? ""
        #expect(ssh.contains("ssh") && ssh.contains("OpenSSH 9.2p1") && ssh.hasSuffix("ssh"), "\(result.stdout)")
        let redis = lines.first { $0.hasPrefix("  7777/tcp") } ?? ""
        #expect(redis.contains("redis") && redis.contains("Redis 7.0.15") && redis.hasSuffix("redis"), "\(result.stdout)")
    }

    @Test("an excluded host receives not one packet, and is not in the map", arguments: engines)
    func exclusion(engine: String) throws {
        try Lab.require()
        let before = try Lab.packetsReceived(by: "cg-h2")
        let capture = try Capture(namespace: "cg-h2", filter: "src host 198.18.0.2 or src host fd7c:a7::2")
        let (result, maps) = try Lab.map(["map", "198.18.1.0/24", "198.18.2.0/24", "-p", Self.ports,
                                          "--exclude", "198.18.2.0/24", "-n", "--engine", engine])
        let captured = try capture.stop()
        let after = try Lab.packetsReceived(by: "cg-h2")
        #expect(captured == 0, "cg-h2 captured \(captured) packet(s) from the scanner")
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps)
        #expect(hosts[Lab.h1] != nil)
        #expect(hosts[Lab.h2] == nil)
        #expect(after == before, "cg-h2 received \(after - before) packet(s)")
        #expect(maps.first?["excluded_addresses"] as? String == "256")
    }

    @Test("the discovery-only profile sweeps and sends nothing to closed ports")
    func discoveryOnly() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", Lab.h1, Lab.h3, Lab.absent, "--profile", "discovery-only", "-n"])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps)
        #expect(Set(hosts.keys) == [Lab.h1, Lab.h3])
        #expect(hosts.values.allSatisfy { $0.services.isEmpty })
        #expect(hosts.values.allSatisfy { !$0.discovery.isEmpty })
    }

    @Test("IPv6 hosts are swept, scanned and identified", arguments: engines)
    func ipv6(engine: String) throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", Lab.h1v6, "-p", "22,80,443", "-n", "--engine", engine])
        #expect(result.status == 0, "\(result.stderr)")
        let host = try #require(ReportHost.all(maps)[Lab.h1v6])
        #expect(host.openPorts == [22, 80])
        #expect(host.service(80)?["product"] as? String == "nginx")
    }

    @Test("with the sweep off, every address is scanned and answering hosts are kept", arguments: engines)
    func noSweep(engine: String) throws {
        try Lab.require()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("nosweep-\(getpid()).yaml")
        try "host_discovery:\n  enabled: false\nprobes:\n  enabled: false\n".write(to: profile, atomically: true, encoding: .utf8)
        let (result, maps) = try Lab.map(["map", Lab.h2, Lab.absent, "-p", "6379", "--profile", profile.path, "-n", "--engine", engine])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps)
        let host = try #require(hosts[Lab.h2])
        #expect(host.openPorts == [6379])
        #expect(host.discovery == ["tcp-\(engine):6379"])
        #expect(hosts[Lab.absent] == nil)
    }

    @Test("a scan wider than the open-file limit slows down instead of failing")
    func fileLimit() throws {
        try Lab.require()
        let result = try Lab.cartograph(["map", Lab.h2, "-p", "1-10000", "-n", "--probes", "none", "--format", "json", "--engine", "connect"],
                                        openFiles: 48)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("Too many open files"))
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let hosts = ReportHost.all(object?["maps"] as? [[String: Any]] ?? [])
        #expect(hosts[Lab.h2]?.openPorts == [2222, 6379, 7777, 8080])
        // 9995, not 9996: with -n (DNS traffic disabled) port 53 is not scanned at all.
        #expect(hosts[Lab.h2]?.raw["closed_ports"] as? Int == 9995)
    }

    @Test("each raw sweep method alone finds the live hosts, names itself, and records the TTL", arguments: [
        ("icmp-echo", "icmp-echo"), ("icmp-timestamp", "icmp-timestamp"), ("tcp", "tcp-syn:80"),
        ("tcp-ack", "tcp-ack:80"), ("udp", "udp:9"),
    ])
    func sweepMethod(method: String, recorded: String) throws {
        try Lab.require()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(method)-\(getpid()).yaml")
        try """
        host_discovery:
          methods: [\(method)]
          tcp_ports: [80]
          udp_ports: [9]
        information_gathering:
          port_scan: false
        probes:
          enabled: false
        """.write(to: profile, atomically: true, encoding: .utf8)
        let (result, maps) = try Lab.map(["map", Lab.h1, Lab.h3, Lab.absent, "198.18.9.1", "--profile", profile.path,
                                          "-n", "--engine", "syn"])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps)
        #expect(Set(hosts.keys) == [Lab.h1, Lab.h3], "\(method) found \(hosts.keys.sorted())")
        for host in hosts.values {
            #expect(host.discovery == [recorded], "\(host.discovery)")
            // One router between scanner and hosts: Linux's initial 64, less one hop.
            #expect(host.raw["ttl"] as? Int == 63, "ttl \(String(describing: host.raw["ttl"]))")
        }
    }

    @Test("--engine syn without privileges is refused; auto falls back to connect with a notice")
    func privileges() throws {
        try Lab.require()
        // Without CAP_NET_RAW, as an ordinary user would run it.
        let args = ["map", Lab.h1, "-p", "22", "-n", "--probes", "none", "--format", "json"]
        let refused = try Cartograph.run(args + ["--engine", "syn"], namespace: Lab.scanner, unprivileged: true)
        #expect(refused.status == 64, "\(refused.stderr)")
        #expect(refused.stderr.contains("--engine syn needs root or CAP_NET_RAW"))
        let fallback = try Cartograph.run(args, namespace: Lab.scanner, unprivileged: true)
        #expect(fallback.status == 0, "\(fallback.stderr)")
        #expect(fallback.stderr.contains("raw packets need root or CAP_NET_RAW; using TCP connect"))
        #expect(fallback.stdout.contains("\"method\" : \"tcp-connect\""))
    }

    @Test("raw UDP scan: a payload's answer is open, an ICMP port unreachable is closed")
    func udpScan() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", "198.18.4.2", "-p", "U:53,123,161,162,9999", "--engine", "syn"])
        #expect(result.status == 0, "\(result.stderr)")
        let host = try #require(ReportHost.all(maps)["198.18.4.2"])
        let udp = host.services.filter { $0["protocol"] as? String == "udp" }
        #expect(udp.compactMap { $0["port"] as? Int }.sorted() == [53, 123, 161])
        #expect(Set(udp.compactMap { $0["name"] as? String }) == ["dns", "ntp", "snmp"])
        #expect(host.raw["closed_ports"] as? Int == 2)
    }

    @Test("ARP finds hosts on the directly attached segment only")
    func arp() throws {
        try Lab.require()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("arp-\(getpid()).yaml")
        try "host_discovery:\n  methods: [arp]\ninformation_gathering:\n  port_scan: false\nprobes:\n  enabled: false\n"
            .write(to: profile, atomically: true, encoding: .utf8)
        // 198.18.0.0/28 is the scanner's own link (the router is .1); h1 is one hop away.
        let (result, maps) = try Lab.map(["map", "198.18.0.0/28", Lab.h1, "--profile", profile.path, "-n", "--engine", "syn"])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps)
        #expect(Set(hosts.keys) == ["198.18.0.1"], "\(hosts.keys.sorted())")
        #expect(hosts["198.18.0.1"]?.discovery == ["arp"])
    }
}
}
