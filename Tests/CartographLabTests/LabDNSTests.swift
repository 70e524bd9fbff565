import CartographTestSupport
import Foundation
import Testing

/// Names from the lab's BIND (cg-h4, zone lab.test and the reverse zones), and the guarantee
/// that "disable DNS traffic" sends nothing to it.
extension LabTests {
@Suite("DNS in the lab")
struct LabDNSTests {
    static let dnsServer = "198.18.4.2"

    @Test("a domain map finds the domain's addresses and its name servers', each with its source")
    func domainMaps() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", "lab.test", "cg-h1.lab.test", "-p", "22,53,80", "--dns-servers", Self.dnsServer])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(maps.compactMap { $0["target"] as? String } == ["lab.test", "cg-h1.lab.test"])
        let hosts = ReportHost.all(maps)
        let ns = try #require(hosts["198.18.4.2"], "the name server of lab.test")
        let nsNames = ns.raw["hostnames"] as? [[String: String]] ?? []
        #expect(nsNames.contains(["name": "ns.lab.test", "source": "dns-ns"]), "\(nsNames)")
        let h1 = try #require(hosts["198.18.1.2"])
        let h1Names = h1.raw["hostnames"] as? [[String: String]] ?? []
        #expect(h1Names.first == ["name": "cg-h1.lab.test", "source": "dns-a"], "\(h1Names)")
        #expect(hosts["fd7c:a7:1::2"] != nil, "the AAAA record is mapped too")
        #expect(h1.openPorts == [22, 80])
    }

    @Test("live hosts get their names from PTR records")
    func reverse() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", Lab.h1, Lab.h2, "-p", "22", "--probes", "none", "--dns-servers", Self.dnsServer])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps)
        #expect(hosts[Lab.h1]?.raw["hostnames"] as? [[String: String]] == [["name": "cg-h1.lab.test", "source": "dns-ptr"]])
        #expect(hosts[Lab.h2]?.raw["hostnames"] as? [[String: String]] == [["name": "cg-h2.lab.test", "source": "dns-ptr"]])
    }

    @Test("with DNS disabled, not one packet to or from port 53 (captured); with it on, there are some")
    func dnsToggle() throws {
        try Lab.require()
        let args = ["map", Lab.h1, "-p", "22,80", "--probes", "all", "--dns-servers", Self.dnsServer]
        let before = try Lab.packetsReceived(by: "cg-h4")
        let capture = try Capture(namespace: Lab.scanner, filter: "port 53")
        let (off, _) = try Lab.map(args + ["-n"])
        let captured = try capture.stop()
        let afterOff = try Lab.packetsReceived(by: "cg-h4")
        #expect(off.status == 0, "\(off.stderr)")
        #expect(captured == 0, "\(captured) packet(s) to or from port 53 with DNS disabled")
        #expect(afterOff == before, "cg-h4 received \(afterOff - before) packet(s) with DNS disabled")
        let control = try Capture(namespace: Lab.scanner, filter: "port 53")
        let (on, _) = try Lab.map(args)
        let capturedOn = try control.stop()
        #expect(on.status == 0, "\(on.stderr)")
        #expect(capturedOn > 0, "the control run (DNS on) should have asked for a PTR record")
    }

    @Test("a name that does not exist, with no netblock, is a failed map with one clear line")
    func missing() throws {
        try Lab.require()
        let result = try Lab.cartograph(["map", "nosuch.lab.test", "-p", "22", "--dns-servers", Self.dnsServer])
        #expect(result.status == 1)
        #expect(result.stderr.contains("nosuch.lab.test has no addresses in DNS"), "\(result.stderr)")
    }

    @Test("a zone transfer finds names nothing else reveals; a refusal is noted, not an error")
    func zoneTransfer() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", "lab.test", "closed.test", "-p", "22", "--probes", "none",
                                          "--dns-servers", Self.dnsServer])
        #expect(result.status == 0, "\(result.stderr)")
        let open = try #require(maps.first { $0["target"] as? String == "lab.test" })
        let names = (open["hosts"] as? [[String: Any]] ?? []).flatMap { $0["hostnames"] as? [[String: String]] ?? [] }
        #expect(names.contains(["name": "hidden-7f3a.lab.test", "source": "dns-axfr"]), "\(names)")
        #expect(names.contains(["name": "mail.lab.test", "source": "dns-mx"]), "\(names)")
        let closed = try #require(maps.first { $0["target"] as? String == "closed.test" })
        let warnings = closed["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.hasPrefix("zone transfer of closed.test from ns.lab.test (198.18.4.2) refused") }, "\(warnings)")
        let closedNames = (closed["hosts"] as? [[String: Any]] ?? []).flatMap { $0["hostnames"] as? [[String: String]] ?? [] }
        #expect(!closedNames.contains { $0["name"] == "secret-9c1e.closed.test" })
    }

    @Test("name guessing from the word list finds common names, recorded as dns-guess")
    func guessing() throws {
        try Lab.require()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("guess-\(getpid()).yaml")
        try "dns:\n  guess_names: true\n  zone_transfer: false\n".write(to: profile, atomically: true, encoding: .utf8)
        let (result, maps) = try Lab.map(["map", "closed.test", "-p", "22", "--probes", "none", "--profile", profile.path,
                                          "--dns-servers", Self.dnsServer])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps)
        let www = hosts[Lab.h2]?.raw["hostnames"] as? [[String: String]] ?? []
        #expect(www.contains(["name": "www.closed.test", "source": "dns-guess"]), "\(www)")
        let vpn = hosts["198.18.6.2"]?.raw["hostnames"] as? [[String: String]] ?? []
        #expect(vpn.contains(["name": "vpn.closed.test", "source": "dns-guess"]), "\(vpn)")
        #expect(hosts[Lab.h1] == nil, "secret-9c1e is in no word list")
    }

    @Test("a domain with netblocks: hosts say whether they lie inside; PTR names cover the netblock")
    func netblocks() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", "lab.test:[198.18.1.0/29]", "-p", "22", "--probes", "none",
                                          "--dns-servers", Self.dnsServer])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(maps.first?["target"] as? String == "lab.test:[198.18.1.0/29]")
        let hosts = ReportHost.all(maps)
        #expect(hosts[Lab.h1]?.raw["in_netblock"] as? Bool == true)
        #expect(hosts["198.18.1.1"]?.raw["in_netblock"] as? Bool == true, "the router's address in the netblock answers the sweep")
        #expect(hosts["198.18.4.2"]?.raw["in_netblock"] as? Bool == false)
    }

    @Test("an excluded host that DNS names is listed as excluded, with no services, and gets no packet")
    func excludedNamed() throws {
        try Lab.require()
        let before = try Lab.packetsReceived(by: "cg-h2")
        let capture = try Capture(namespace: "cg-h2", filter: "src host 198.18.0.2 or src host fd7c:a7::2")
        let (result, maps) = try Lab.map(["map", "lab.test", "-p", "22,2222,6379", "--dns-servers", Self.dnsServer,
                                          "--exclude", "198.18.2.2,fd7c:a7:2::2"])
        let captured = try capture.stop()
        let after = try Lab.packetsReceived(by: "cg-h2")
        #expect(captured == 0, "cg-h2 captured \(captured) packet(s) from the scanner")
        #expect(result.status == 0, "\(result.stderr)")
        let h2 = try #require(ReportHost.all(maps)[Lab.h2], "DNS names cg-h2, so it is listed")
        #expect(h2.raw["excluded"] as? Bool == true)
        #expect(h2.services.isEmpty)
        #expect(h2.discovery == ["dns-axfr"])
        #expect(after == before, "cg-h2 received \(after - before) packet(s)")
    }

    static func inventory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("inventory-\(getpid()).yaml").path
        try """
        domains:
          lab.test:
            netblocks: [198.18.1.0/29]
        asset_groups:
          labgroup:
            domains: [lab.test]
            ips: [198.18.2.2, 198.18.3.2]
        excluded:
          - address: 198.18.3.2
            expires: 2000-01-01
            comment: expired long ago
          - address: 198.18.6.2
            comment: never scanned
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("an asset group maps its domains (with their inventory netblocks) and, apart, its addresses")
    func assetGroup() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", "@labgroup", "--inventory", try Self.inventory(), "-p", "22",
                                          "--probes", "none", "--dns-servers", Self.dnsServer])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(maps.compactMap { $0["target"] as? String } == ["lab.test:[198.18.1.0/29]", "none:[198.18.2.2, 198.18.3.2]"])
        #expect(maps.last?["asset_group"] as? String == "labgroup")
        #expect(result.stderr.contains("exclusion of 198.18.3.2 expired"), "\(result.stderr)")
        let groupHosts = ReportHost.all([maps.last ?? [:]])
        #expect(Set(groupHosts.keys) == [Lab.h2, Lab.h3], "the expired exclusion no longer applies")
    }

    @Test("gathering scope none: DNS only, not one packet to the hosts")
    func scopeNone() throws {
        try Lab.require()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("scope-none-\(getpid()).yaml")
        try "information_gathering:\n  scope: none\n".write(to: profile, atomically: true, encoding: .utf8)
        let before = try Lab.packetsReceived(by: "cg-h1")
        let (result, maps) = try Lab.map(["map", "cg-h1.lab.test", "--profile", profile.path, "--dns-servers", Self.dnsServer])
        let after = try Lab.packetsReceived(by: "cg-h1")
        #expect(result.status == 0, "\(result.stderr)")
        let host = try #require(ReportHost.all(maps)[Lab.h1], "DNS found it")
        #expect(host.discovery == ["dns-a"])
        #expect(host.services.isEmpty)
        #expect(after == before, "cg-h1 received \(after - before) packet(s)")
    }

    @Test("gathering scope netblock: only hosts inside the domain's netblocks are scanned")
    func scopeNetblock() throws {
        try Lab.require()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("scope-netblock-\(getpid()).yaml")
        try "information_gathering:\n  scope: netblock\n".write(to: profile, atomically: true, encoding: .utf8)
        let (result, maps) = try Lab.map(["map", "lab.test:[198.18.1.0/29]", "-p", "22,53", "--probes", "none",
                                          "--profile", profile.path, "--dns-servers", Self.dnsServer])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps)
        #expect(hosts[Lab.h1]?.openPorts == [22], "inside the netblock: scanned")
        #expect(hosts["198.18.4.2"]?.openPorts == [], "outside: listed (DNS found it) but not scanned")
    }
}
}
