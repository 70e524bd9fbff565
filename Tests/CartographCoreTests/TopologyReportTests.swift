import CartographCore
@testable import CartographReport
import Foundation
import Testing

/// The HTML report's network map: the topology built from a map result (routers merged from
/// their addresses, subnets behind them, clusters), its DOT source, and the SVG Graphviz lays out.
@Suite("HTML report topology")
struct TopologyReportTests {
    /// Quotes, a DOT attribute list, markup, a DOT escape and a bidi override, in one host name.
    static let hostileName = "evil\"];x [label=\"<script>alert(1)</script>\\N&amp;\u{202e}gpj.exe"

    static func host(_ address: String, hops: Int?, type: String? = nil, ports: [UInt16] = [], names: [String] = [],
                     forwards: [String]? = nil) -> HostResult {
        var host = HostResult(address: address, hostnames: names.map { Hostname(name: $0, source: "dns-ptr") },
                              discovery: forwards == nil ? ["icmp-echo"] : ["traceroute"],
                              services: ports.map { ServiceResult(port: $0, protocol: .tcp, method: "tcp-syn") })
        host.hops = hops
        host.deviceType = type
        host.forwards = forwards
        return host
    }

    static func map(_ hosts: [HostResult]) -> MapResult {
        var map = MapResult(target: "none:[10.0.0.0/8]", profile: "default", status: .complete,
                            startedAt: Date(timeIntervalSince1970: 1_800_000_000), finishedAt: Date(timeIntervalSince1970: 1_800_000_010),
                            addressesScanned: "65536", excludedAddresses: "0",
                            hosts: hosts.sorted { IPAddress($0.address)! < IPAddress($1.address)! }, warnings: [])
        map.scanner = "scan-01"
        return map
    }

    /// The scanner; router A (192.0.2.1, traced, with its interfaces 10.1.1.1 and 10.2.2.1) one
    /// hop out, serving 10.1.1.0/24 (8 hosts) and 10.2.2.0/24 (7); router B two hops out, traced
    /// as 10.9.0.2 on one path and 10.9.1.2 on another (both named core-2.example), with its
    /// interface 10.3.3.1, serving 10.3.3.0/24 (5 hosts). 20 hosts in all.
    static func sample() -> MapResult {
        var hosts = [
            host("192.0.2.1", hops: 0, type: "router", forwards: ["10.1.1.10", "10.2.2.10", "10.3.3.10"]),
            host("10.1.1.1", hops: 0, type: "router"),
            host("10.2.2.1", hops: 0, type: "router", ports: [22]),
            host("10.9.0.2", hops: 1, type: "router", names: ["CORE-2.example"], forwards: ["10.3.3.10"]),
            host("10.9.1.2", hops: 1, type: "router", names: ["core-2.example."], forwards: ["10.3.3.11"]),
            host("10.3.3.1", hops: 1, type: "router"),
        ]
        let types = ["web server", "database server", "workstation", "printer", nil]
        for i in 0..<8 { hosts.append(host("10.1.1.\(10 + i)", hops: 1, type: types[i % 5], ports: Array([22, 80, 443].prefix(i % 4)))) }
        for i in 0..<7 { hosts.append(host("10.2.2.\(10 + i)", hops: 1, type: types[(i + 1) % 5], ports: i == 0 ? [3306] : [])) }
        for i in 0..<5 { hosts.append(host("10.3.3.\(10 + i)", hops: 2, type: "web server", ports: [80])) }
        hosts[hosts.firstIndex { $0.address == "10.2.2.13" }!].hostnames = [Hostname(name: hostileName, source: "http")]
        hosts[hosts.firstIndex { $0.address == "10.1.1.12" }!].new = true
        hosts[hosts.firstIndex { $0.address == "10.2.2.14" }!].rogue = true
        return map(hosts)
    }

    @Test("routers are merged from their traced addresses, their interfaces and shared names; subnets hang off the router that serves them")
    func topology() throws {
        let map = Self.sample()
        let topology = Topology(map)
        let routers = topology.routers.map { Set($0.members.map { map.hosts[$0].address }) }
        #expect(Set(routers) == [["192.0.2.1", "10.1.1.1", "10.2.2.1"], ["10.9.0.2", "10.9.1.2", "10.3.3.1"]], "\(routers)")
        #expect(topology.routers.map(\.depth).sorted { ($0 ?? -1) < ($1 ?? -1) } == [0, 1])
        let a = try #require(routers.firstIndex { $0.contains("192.0.2.1") }), b = 1 - a
        #expect(Set(topology.links) == [Topology.Link(from: nil, to: a, inferred: false), Topology.Link(from: a, to: b, inferred: false)])
        let subnets = topology.subnets.map { "\($0.prefix) \($0.hosts.count) \($0.gateway)" }
        #expect(subnets == ["10.1.1.0/24 8 router(\(a))", "10.2.2.0/24 7 router(\(a))", "10.3.3.0/24 5 router(\(b))"])
        #expect(!topology.subnets.contains { $0.clustered })
    }

    @Test("a trace to a router's own address links the routers before it to that router")
    func traceToRouter() throws {
        let map = Self.map([
            Self.host("192.0.2.1", hops: 0, type: "router", forwards: ["198.51.100.7"]),
            Self.host("198.51.100.7", hops: 1, type: "router", forwards: ["10.0.0.10"]),
            Self.host("10.0.0.10", hops: 2),
        ])
        let topology = Topology(map)
        let first = try #require(topology.routers.firstIndex { map.hosts[$0.members[0]].address == "192.0.2.1" })
        #expect(Set(topology.links) == [Topology.Link(from: nil, to: first, inferred: false),
                                        Topology.Link(from: first, to: 1 - first, inferred: false)])
        #expect(topology.subnets.map { "\($0.prefix) \($0.gateway)" } == ["10.0.0.0/24 router(\(1 - first))"])
    }

    @Test("an odd TTL does not make a host a router: no traced router to join and not classified one")
    func oddTTL() {
        let map = Self.map([
            Self.host("192.0.2.1", hops: 0, type: "router", forwards: ["10.0.0.10"]),
            Self.host("192.0.2.9", hops: 0, type: "router", forwards: ["10.0.1.10"]),
            Self.host("10.0.0.10", hops: 1), Self.host("10.0.0.11", hops: 2, type: "web server"),
            Self.host("10.0.1.10", hops: 1), Self.host("10.0.1.11", hops: 1, type: "printer"), Self.host("10.0.1.12", hops: 2),
            Self.host("10.0.1.1", hops: 1, type: "router"),
        ])
        let topology = Topology(map)
        let routers = topology.routers.map { Set($0.members.map { map.hosts[$0].address }) }
        // 10.0.0.10 was traced to, so it is behind a router; 10.0.1.11 is one host among others;
        // 10.0.1.1 answered as a router, and no traced router is as far, so it is one of its own.
        #expect(Set(routers) == [["192.0.2.1"], ["192.0.2.9"], ["10.0.1.1"]], "\(routers)")
    }

    @Test("the DOT source has one node per scanner, router, subnet and host, and quotes every label")
    func dotSource() throws {
        let dot = TopologyDOT(map: Self.sample(), index: 0).dot()
        let nodes = dot.split(separator: "\n").filter { $0.hasPrefix("\"m0-node-") && $0.contains("[id=") && !$0.contains(" -> ") }
        #expect(nodes.count == 1 + 2 + 3 + 20, "\(nodes.count) nodes:\n\(dot)")
        #expect(dot.components(separatedBy: "class=\"link\"").count - 1 == 5, "scanner-A, A-B, and a router to each subnet")
        #expect(dot.components(separatedBy: "subgraph \"cluster_").count - 1 == 3)
        // The hostile name reaches DOT with its quotes, markup and backslash replaced.
        let evil = try #require(nodes.first { $0.contains("m0-node-h") && $0.contains("evil") })
        #expect(!evil.contains("<") && !evil.contains("&") && !evil.contains("\\N") && !evil.contains("\u{202e}"), "\(evil)")
        #expect(evil.contains("label=\"10.2.2.13\\nevil\u{FFFD}]\u{FFFD}x [label=\u{FFFD}\u{FFFD}script\u{FFFD}ale…\\n"), "\(evil)")
        #expect(evil.contains("tooltip=\"10.2.2.13, evil\u{FFFD}]\u{FFFD}x [label=\u{FFFD}\u{FFFD}script\u{FFFD}alert(1)\u{FFFD}/script\u{FFFD}\u{FFFD}N\u{FFFD}amp\u{FFFD}\u{FFFD}gpj.exe, unknown\""), "\(evil)")
        #expect(!dot.contains("<script"))
        #expect(TopologyDOT.quoted("a\"b\\c\nd") == "\"a\\\"b\\\\c\\nd\"")
    }

    @Test("Graphviz lays it out: SVG nodes and edges with our ids and classes, the hostile name inert, links to the host list")
    func svg() throws {
        let graphviz = Graphviz.system()
        try #require(graphviz.executable != nil, "dot is not installed (Debian package graphviz)")
        let map = Self.sample()
        let html = HTMLReport.render(MapReport(maps: [map]), graphviz: graphviz)
        let svg = try #require(ReportFormatTests.between(html, "<figure class=\"topology\" id=\"m0-map\">", "</figure>"), "no drawing:\n\(html.prefix(3000))")
        #expect(svg.components(separatedBy: "class=\"node").count - 1 == 26)
        #expect(svg.components(separatedBy: "class=\"node host").count - 1 == 20)
        #expect(svg.components(separatedBy: "class=\"node router").count - 1 == 2)
        #expect(svg.components(separatedBy: "class=\"node subnet").count - 1 == 3)
        #expect(svg.components(separatedBy: "class=\"edge link").count - 1 == 5)
        #expect(svg.contains("class=\"node host new\"") && svg.contains("class=\"node host rogue\""))
        for address in ["192.0.2.1", "10.1.1.1", "10.2.2.1", "10.9.0.2", "10.9.1.2", "10.3.3.1"] {
            #expect(svg.contains(">\(address)</text>"), "router address \(address) is drawn")
        }
        #expect(svg.lowercased().contains(">core&#45;2.example</text>"), "the name both router B addresses share")
        #expect(svg.contains("xlink:href=\"#m0-h"), "nodes link to the host list")
        #expect(!svg.contains("<script") && !svg.contains("<!--") && !svg.contains("<title>") && !svg.contains("<?xml"))
        #expect(html.components(separatedBy: "<script").count == 3, "only the page's own two scripts")
        #expect(svg.contains(">evil") && svg.contains("script\u{FFFD}alert(1)"), "the hostile name is drawn, inert")
        // The legend names the device types present, and the list carries what the filters read.
        #expect(html.contains("<figcaption class=\"legend\">") && html.contains("</span>printer</li>"))
        #expect(html.contains("id=\"m0-h14\" data-type=\"") || html.contains("data-group=\"m0-s"))
        #expect(html.contains("data-rogue=\"\"") && html.contains("data-new=\"\""))
        #expect(html.contains("<form class=\"filters\" data-hosts=\"m0-hosts\" hidden>"))
        #expect(html.contains("rogue: not in the inventory") && !html.contains("link inferred from distances"),
                "the legend names the marks the drawing uses, and only those")
    }

    @Test("without Graphviz the report still lists every host and says in one line why there is no map")
    func withoutGraphviz() {
        let map = Self.sample()
        let html = HTMLReport.render(MapReport(maps: [map]), graphviz: Graphviz(executable: nil))
        #expect(html.contains("<p class=\"no-map\">The network map could not be drawn: Graphviz&#39;s dot was not found "
            + "(Debian package graphviz); the hosts are listed below.</p>\n"))
        #expect(!html.contains("<svg"))
        #expect(html.components(separatedBy: "<details class=\"host\"").count - 1 == map.hosts.count)
    }

    @Test("dot's run time and input size are bounded")
    func bounds() throws {
        let directory = try ReportFormatTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let slow = directory.appendingPathComponent("dot")
        try "#!/bin/sh\nexec sleep 30\n".write(to: slow, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: slow.path)
        let started = Date()
        let result = Graphviz(executable: slow.path, timeLimit: 0.5).svg("digraph g { a; }")
        #expect(result == .failure(.timedOut(0.5)))
        #expect(Date().timeIntervalSince(started) < 5, "the slow dot was killed")
        #expect(Graphviz(executable: slow.path, maxInput: 10).svg("digraph g { a -> b; }") == .failure(.inputTooLarge(21)))
        let html = HTMLReport.render(MapReport(maps: [Self.sample()]), graphviz: Graphviz(executable: slow.path, timeLimit: 0.2))
        #expect(html.contains("The network map could not be drawn: dot did not finish within 0 s"))
    }

    @Test("sparse netblocks behind one router merge into one subnet node; a crowded subnet becomes one cluster node, its rogue hosts still drawn")
    func compact() {
        var hosts = [Self.host("192.0.2.1", hops: 0, type: "router", forwards: ["198.19.1.2"])]
        // 20 hosts, each alone in its /24 (as the lab's farm), and 40 in one /24, two of them rogue.
        hosts += (0..<20).map { Self.host("198.19.\($0 * 2 + 1).\(($0 * 37) % 250 + 2)", hops: 1) }
        hosts += (0..<40).map { Self.host("10.5.5.\($0 + 10)", hops: 1, type: $0 % 2 == 0 ? "workstation" : nil) }
        hosts[30].rogue = true
        hosts[31].rogue = true
        let map = Self.map(hosts)
        let topology = Topology(map)
        #expect(topology.subnets.map { "\($0.prefix) \($0.hosts.count) \($0.blocks) \($0.clustered)" }
            == ["10.5.5.0/24 40 1 true", "198.19.0.0/18 20 20 true"])
        let dot = TopologyDOT(map: map, index: 0).dot()
        #expect(dot.components(separatedBy: "class=\"host").count - 1 == 2, "only the rogue hosts of the crowded subnet are drawn")
        #expect(dot.contains("<B>198.19.0.0/18</B>&#160;· 20 hosts in 20 /24s"))
        #expect(dot.contains("20 unknown</TD>") && dot.contains("2 ROGUE"))
    }

    @Test("a router serving hundreds of crowded subnets gets one grid node of bounded size")
    func hugeGrid() {
        var hosts = [Self.host("192.0.2.1", hops: 0, type: "router", forwards: ["10.0.0.10"])]
        for subnet in 0..<200 {
            hosts += (0..<(13 + subnet % 7)).map { Self.host("10.0.\(subnet).\($0 + 10)", hops: 1) }
        }
        let dot = TopologyDOT(map: Self.map(hosts), index: 0).dot()
        #expect(dot.components(separatedBy: "class=\"subnets\"").count - 1 == 1)
        #expect(dot.components(separatedBy: "<TD ID=\"m0-cell-s").count - 1 == TopologyDOT.gridCells - 1)
        #expect(dot.contains("<B>200 subnets · \(hosts.count - 1) hosts</B>") && dot.contains("+153 more subnets<BR/>"))
        #expect(dot.utf8.count < 100_000, "\(dot.utf8.count) bytes of DOT")
    }

    @Test("a 1,000-host map renders to a bounded page, and how long it takes is printed")
    func thousandHosts() throws {
        let graphviz = Graphviz.system()
        try #require(graphviz.executable != nil, "dot is not installed (Debian package graphviz)")
        let map = Self.synthetic(hosts: 1000)
        let started = Date()
        let html = HTMLReport.render(MapReport(maps: [map]), graphviz: graphviz)
        let seconds = Date().timeIntervalSince(started)
        let nodes = html.components(separatedBy: "class=\"node").count - 1
        let dot = TopologyDOT(map: map, index: 0).dot()
        let layoutStarted = Date()
        let svg = try graphviz.svg(dot).get()
        let layout = Date().timeIntervalSince(layoutStarted)
        print("1,000-host map: DOT \(dot.utf8.count) bytes, dot -Tsvg \(String(format: "%.2f", layout)) s, SVG \(svg.utf8.count) bytes")
        let page = try Self.artefact("thousand-hosts.html", html)
        print("1,000-host map: rendered in \(String(format: "%.2f", seconds)) s, \(html.utf8.count) bytes, \(nodes) map nodes; \(page.path)")
        #expect(html.contains("<figure class=\"topology\""))
        #expect(nodes <= 1 + 8 + 60 + Topology.hostNodeBudget, "\(nodes) nodes")
        #expect(map.hosts.count == 1000 && html.components(separatedBy: "<details class=\"host\"").count - 1 == 1000)
        #expect(seconds < 30)
    }

    @Test("in Chromium, a cluster node's link filters the host list to its subnet, and the drawing is SVG the browser parsed")
    func clusterFilterInChromium() throws {
        let chromium = try ReportFormatTests.tool("chromium", package: "chromium")
        try #require(Graphviz.system().executable != nil, "dot is not installed (Debian package graphviz)")
        var hosts = [Self.host("192.0.2.1", hops: 0, type: "router", forwards: ["198.19.1.2"])]
        hosts += (0..<20).map { Self.host("198.19.\($0 * 2 + 1).\(($0 * 37) % 250 + 2)", hops: 1) }
        hosts += (0..<3).map { Self.host("10.5.5.\($0 + 10)", hops: 1, type: "printer") }
        let html = HTMLReport.render(MapReport(maps: [Self.map(hosts)]))
        let page = try Self.artefact("cluster-filter.html", html)
        // The farm-like /24s are the second subnet (subnets are in address order).
        #expect(html.contains("xlink:href=\"#m0-s1\""))
        let result = try ReportFormatTests.run(try ReportFormatTests.tool("timeout", package: "coreutils"), [
            "120", chromium.path, "--headless", "--no-sandbox", "--disable-gpu",
            "--user-data-dir=\(page.deletingLastPathComponent().appendingPathComponent("chromium-profile").path)",
            "--dump-dom", page.absoluteString + "#m0-s1",
        ])
        #expect(result.status == 0, "chromium failed: \(result.stderr.suffix(2000))")
        let dom = result.stdout
        #expect(dom.contains("data-nodes=\"7\" data-edges=\"3\""), "scanner, router, two subnets, three printers; three links")
        #expect(dom.contains("<output name=\"shown\">20 of 24 hosts (one subnet of the map)</output>"), "\(dom.suffix(3000))")
        let visible = dom.matches(of: /<details class="host"[^>]*>/).filter { !$0.0.contains(" hidden") }
        #expect(visible.count == 20 && visible.allSatisfy { $0.0.contains("data-group=\"m0-s1\"") })
        #expect(!dom.contains("<form class=\"filters\" data-hosts=\"m0-hosts\" hidden"), "the script shows the filters")

        // The search and the filters, given in the page's address.
        for (query, shown) in [("?q=printer", "3 of 24 hosts"), ("?q=198.19.3.&type=unknown", "1 of 24 hosts"),
                               ("?type=unknown&open", "0 of 24 hosts"), ("?type=printer", "3 of 24 hosts")] {
            let filtered = try ReportFormatTests.run(try ReportFormatTests.tool("timeout", package: "coreutils"), [
                "120", chromium.path, "--headless", "--no-sandbox", "--disable-gpu",
                "--user-data-dir=\(page.deletingLastPathComponent().appendingPathComponent("chromium-profile").path)",
                "--dump-dom", page.absoluteString + query,
            ])
            #expect(filtered.stdout.contains("<output name=\"shown\">\(shown)</output>"), "\(query): \(filtered.stdout.suffix(1500))")
            let visible = filtered.stdout.matches(of: /<details class="host"[^>]*>/).filter { !$0.0.contains(" hidden") }.count
            #expect("\(visible) of 24 hosts" == shown, "\(query)")
        }
    }

    /// A page kept after the test, under .build/test-artifacts, to open by hand.
    static func artefact(_ name: String, _ contents: String) throws -> URL {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// 1,000 hosts: 3 routers in a chain, 40 subnets of 5 to 45 hosts, mixed device types,
    /// some new and rogue, host names and open ports.
    static func synthetic(hosts count: Int) -> MapResult {
        let routers = ["192.0.2.1", "192.0.2.9", "192.0.2.17"]
        var hosts: [HostResult] = []
        var forwards: [[String]] = [[], [], []]
        let types = ["web server", "workstation", "database server", "printer", "IoT/embedded", "mail server", nil]
        var made = 0, subnet = 0
        while made < count - routers.count {
            let size = min(count - routers.count - made, 5 + (subnet * 7) % 41)
            let router = subnet % 3
            for i in 0..<size {
                let address = "10.\(router).\(subnet).\(i + 10)"
                var host = Self.host(address, hops: router + 1, type: types[(subnet + i) % types.count],
                                     ports: Array([22, 80, 443, 3389].prefix((i + subnet) % 5)), names: ["host-\(made).example"])
                host.new = made % 37 == 0
                host.rogue = made % 101 == 0
                if i == 0 { for r in 0...router { forwards[r].append(address) } }
                hosts.append(host)
                made += 1
            }
            subnet += 1
        }
        for (r, address) in routers.enumerated() {
            hosts.append(Self.host(address, hops: r, type: "router", forwards: forwards[r]))
        }
        return Self.map(hosts)
    }
}
