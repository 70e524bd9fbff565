import CartographTestSupport
import Foundation
import Testing

/// Device types, OS families and routers, in the lab: the router namespace is found by the
/// traceroute and called a router; the hosts get the types their services and TTLs say.
extension LabTests {
@Suite("Classifying the lab")
struct LabClassifyTests {
    @Test("the lab's router shows up as a router, found by traceroute; hosts get device types and OS families",
          arguments: LabMapTests.engines)
    func router(engine: String) throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", Lab.h1, Lab.h2, "198.18.4.2", "-n", "--engine", engine,
                                          "-p", "21,22,25,80,110,143,2222,6379,8080"])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps, routers: true)
        let router = try #require(hosts["198.18.0.1"], "the router was not found: \(hosts.keys.sorted())")
        #expect(router.discovery == ["traceroute"])
        #expect(router.raw["device_type"] as? String == "router")
        #expect((router.raw["device_type_confidence"] as? Int ?? 0) >= 50)
        #expect(Set(router.raw["forwards"] as? [String] ?? []) == [Lab.h1, Lab.h2, "198.18.4.2"])
        #expect((router.raw["device_type_evidence"] as? [String])?.first?.contains("traceroute hop") == true)
        #expect(router.raw["hops"] as? Int == 0)

        let expected: [(String, String, String)] = [(Lab.h1, "web server", "Linux"), (Lab.h2, "database server", "Linux"),
                                                    ("198.18.4.2", "mail server", "Linux")]
        for (address, type, os) in expected {
            let host = try #require(hosts[address])
            #expect(host.raw["device_type"] as? String == type, "\(address): \(host.raw["device_type_evidence"] ?? "")")
            #expect(host.raw["os"] as? String == os, "\(address)")
            #expect(!(host.raw["os_evidence"] as? [String] ?? []).isEmpty)
            #expect(host.raw["hops"] as? Int == 1, "one router between the scanner and \(address)")
            #expect(host.raw["forwards"] == nil)
        }
        if engine == "syn" {
            let evidence = hosts[Lab.h1]?.raw["os_evidence"] as? [String] ?? []
            #expect(evidence.contains { $0.hasPrefix("TTL 63: initial 64") }, "\(evidence)")
        }
    }

    @Test("the router's own addresses on the hosts' links are called a router too: adjacent, yet off our link")
    func routerInterfaces() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", "198.18.1.0/30", "198.18.2.0/30", "-n", "-p", "22,80"])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps, routers: true)
        for address in ["198.18.1.1", "198.18.2.1"] {
            let host = try #require(hosts[address], "\(hosts.keys.sorted())")
            #expect(host.raw["device_type"] as? String == "router", "\(address): \(host.raw["device_type_evidence"] ?? "")")
            #expect((host.raw["device_type_evidence"] as? [String])?.first?.contains("not on our link") == true)
            #expect(host.raw["hops"] as? Int == 0)
        }
        #expect(hosts["198.18.0.1"]?.raw["device_type"] as? String == "router", "every live host is traced, not just one per /24")
        #expect(hosts[Lab.h1]?.raw["device_type"] as? String == "web server")
    }

    @Test("IPv6: the router's v6 address is found the same way")
    func routerV6() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", Lab.h1v6, "-n", "-p", "22,80"])
        #expect(result.status == 0, "\(result.stderr)")
        let hosts = ReportHost.all(maps, routers: true)
        #expect(hosts["fd7c:a7::1"]?.raw["device_type"] as? String == "router", "\(hosts.keys.sorted())")
    }

    @Test("text, CSV, XML and HTML reports show device types and OS families")
    func reports() throws {
        try Lab.require()
        let db = Cartograph.freshStore()
        let text = try Lab.cartograph(["map", Lab.h1, "-n", "-p", "22,80", "--db", db])
        #expect(text.stdout.contains("198.18.0.1  found by traceroute"), "\(text.stdout)")
        #expect(text.stdout.contains("router (80%)") && text.stdout.contains("web server ("), "\(text.stdout)")
        #expect(text.stdout.contains("1 live host of 1 address, and 1 router on the way"), "\(text.stdout)")
        let csv = try Cartograph.run(["maps", "report", "--db", db, "--format", "csv"])
        #expect(csv.stdout.contains(",router,80,"), "\(csv.stdout)")
        let xml = try Cartograph.run(["maps", "report", "--db", db, "--format", "xml"])
        #expect(xml.stdout.contains("<osmatch name=\"Linux\""), "\(xml.stdout)")
        let html = try Cartograph.run(["maps", "report", "--db", db, "--format", "html"])
        #expect(html.stdout.contains(">router (1)</text>") && html.stdout.contains(">web server (1)</text>"))
        #expect(html.stdout.contains("<dt>Device type</dt>"))
    }
}
}
