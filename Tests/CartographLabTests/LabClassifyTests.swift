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
        // Every one of the three traces must see the router answer at hop 1 (its forwards).
        Lab.letRouterRest()
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

    @Test("routers and hosts that rate-limit ICMP as real ones do: back-to-back maps still find the router and every host's distance")
    func rateLimitedICMP() throws {
        try Lab.require()
        // One ICMP error a second per destination (with the kernel's small burst), in the router
        // and in the farm that owns forty addresses: the answers a traceroute can hope for.
        let namespaces = ["cg-router", "cg-farm"]
        func limit(_ ms: Int) throws {
            for namespace in namespaces {
                let sysctl = Process()
                sysctl.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
                sysctl.arguments = ["netns", "exec", namespace, "sysctl", "-qw",
                                    "net.ipv4.icmp_ratelimit=\(ms)", "net.ipv6.icmp.ratelimit=\(ms)"]
                try sysctl.run()
                sysctl.waitUntilExit()
                try #require(sysctl.terminationStatus == 0, "sysctl in \(namespace)")
            }
        }
        try limit(1000)
        defer { try? limit(0) }
        // Forty of the farm's addresses (Scripts/lab.d/20-farm.sh), each in a /24 of its own.
        let addresses = (0..<40).map { "198.19.\($0 * 2 + 1).\(($0 * 37) % 250 + 2)" }
        for round in 1...3 {
            let (result, maps) = try Lab.map(["map"] + addresses + ["-n", "--engine", "syn", "-p", "6379"])
            #expect(result.status == 0, "\(result.stderr)")
            let hosts = ReportHost.all(maps, routers: true)
            #expect(hosts["198.18.0.1"]?.raw["device_type"] as? String == "router", "round \(round): \(hosts.keys.sorted())")
            let farm = hosts.filter { $0.key.hasPrefix("198.19.") }
            #expect(farm.count == 40, "round \(round)")
            for (address, host) in farm {
                #expect(host.raw["hops"] as? Int == 1, "round \(round): \(address) is one router away")
            }
        }
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
        #expect(html.stdout.contains("class=\"node router") && html.stdout.contains(">web server · 2 open ports</text>"),
                "the router and h1 are drawn: \(html.stdout.prefix(3000))")
        #expect(html.stdout.contains("<dt>Device type</dt>"))
    }
}
}
