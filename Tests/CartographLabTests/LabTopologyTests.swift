import CartographTestSupport
import Foundation
import Testing

/// The HTML report's network map of the lab's routed part, drawn by Graphviz and rendered by a
/// real browser: the scanner, the router with its interfaces merged, the subnets behind it; and
/// the branch network's single link in the same page.
extension LabTests {
@Suite("Drawing the lab")
struct LabTopologyTests {
    /// Twenty of the farm's addresses (Scripts/lab.d/20-farm.sh), each alone in its /24.
    static let farm = (0..<20).map { "198.19.\($0 * 2 + 1).\(($0 * 37) % 250 + 2)" }

    @Test("a map of the routed lab renders as a topology in headless Chromium; a screenshot is kept")
    func topology() throws {
        try Lab.require()
        let directory = Cartograph.packageRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let page = directory.appendingPathComponent("lab-topology.html"), shot = directory.appendingPathComponent("lab-topology.png")
        try? FileManager.default.removeItem(at: shot)
        // h1-h4's links (the router's address and the host on each) and the farm behind cg-farm.
        let links = ["198.18.1.0/30", "198.18.2.0/30", "198.18.3.0/30", "198.18.4.0/30"]
        let db = Cartograph.freshStore()
        let map = try Lab.cartograph(["map"] + links + Self.farm + ["-n", "-p", "22,80,2222,6379,8080", "--db", db])
        #expect(map.status == 0, "\(map.stderr)")
        // And the branch network (Scripts/lab.d/60-branch.sh): one link, no router in between.
        let branch = try Cartograph.run(["map", Lab.h1, "-n", "-p", "6380", "--network", "branch", "--db", db], namespace: "cg-bscan")
        #expect(branch.status == 0, "\(branch.stderr)")
        let report = try Cartograph.run(["maps", "report", "1", "2", "--db", db, "--format", "html", "-o", page.path])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(!html.contains("class=\"no-map\""), "the map was not drawn: \(html.firstMatch(of: /<p class="no-map">.*<\/p>/).map { String($0.0) } ?? "")")

        let chromium = ["/usr/bin/timeout", "120", "/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=\(directory.appendingPathComponent("chromium-profile").path)"]
        let dom = try Cartograph.runExternal(chromium[0], Array(chromium.dropFirst()) + ["--dump-dom", page.absoluteString])
        #expect(dom.status == 0, "chromium: \(dom.stderr.suffix(1000))")
        // The page's script counted the drawing's nodes and links in the browser's SVG DOM: the
        // scanner, one router, the lab's sparse /24s as one subnet with its four hosts drawn, and
        // the farm's twenty /24s as one cluster node; the scanner-router link and two subnet links.
        let figure = try #require(dom.stdout.firstMatch(of: /<figure class="topology" id="m0-map"[^>]*>/), "no drawing in:\n\(dom.stdout.prefix(2000))")
        #expect(figure.0.contains("data-nodes=\"8\"") && figure.0.contains("data-edges=\"3\""), "\(figure.0)")
        #expect(dom.stdout.contains("data-rendered=\"30\""), "24 hosts, 4 router interfaces and the router on the way; cg-b1")

        // One router node holding the address the traceroute saw and the interfaces on the hosts' links.
        let routers = dom.stdout.matches(of: /<g id="m0-node-r[0-9]+" class="node router[^"]*">[\s\S]*?<\/g>\s*<\/g>/)
        #expect(routers.count == 1, "\(routers.map { String($0.0) })")
        let router = routers.first.map { String($0.0) } ?? ""
        for address in ["198.18.0.1", "198.18.1.1", "198.18.2.1", "198.18.3.1", "198.18.4.1"] {
            #expect(router.contains(address), "\(address) is not part of the router node: \(router)")
        }
        #expect(dom.stdout.contains(">198.18.0.0/21</text>") && dom.stdout.contains(">4 hosts in 4 /24s</text>"), "the lab's subnets")
        for host in ["198.18.1.2", "198.18.2.2", "198.18.3.2", "198.18.4.2"] {
            #expect(dom.stdout.contains("<g id=\"m0-node-h") && dom.stdout.contains(">\(host)</text>"), "\(host) is drawn")
        }
        #expect(dom.stdout.contains(">web server · 2 open ports</text>"), "h1: nginx and sshd")
        #expect(dom.stdout.contains("198.19.0.0/18</text>") && dom.stdout.contains("20 hosts in 20 /24s</text>"), "the farm's cluster")
        #expect(dom.stdout.contains("</span>web server</li>"), "the legend")
        // The branch map, drawn apart: the scanner, the link's subnet, cg-b1 on it.
        let second = try #require(dom.stdout.firstMatch(of: /<figure class="topology" id="m1-map"[^>]*>/), "no drawing of the branch map")
        #expect(second.0.contains("data-nodes=\"3\"") && second.0.contains("data-edges=\"1\""), "\(second.0)")
        #expect(dom.stdout.contains("<g id=\"m1-node-h0\" class=\"node host new\">"), "cg-b1 on the scanner's link")

        let picture = try Cartograph.runExternal(chromium[0], Array(chromium.dropFirst())
            + ["--hide-scrollbars", "--window-size=1200,1400", "--screenshot=\(shot.path)", page.absoluteString])
        #expect(picture.status == 0, "chromium: \(picture.stderr.suffix(1000))")
        let png = try Data(contentsOf: shot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 20_000, "\(png.count) bytes")
        print("lab topology: page \(page.path), screenshot \(shot.path)")
    }
}
}
