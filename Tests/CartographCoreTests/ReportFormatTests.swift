import CartographCore
@testable import CartographReport
import Foundation
import Testing

/// The CSV, nmap XML and HTML reports, checked by hand and by the tools that read them:
/// xmllint against nmap's DTD, ndiff, and headless Chromium.
@Suite("Report formats")
struct ReportFormatTests {
    // MARK: Sample data

    /// Markup, quotes, a CSV formula and control bytes, as a hostile service could send them.
    static let hostileProduct = "<script>alert('x')</script> & \"=cmd\""
    static let controlBytes = "ok\u{0}\u{7}\u{1B}[31m\u{7F}\u{85}\u{FFFE}end"

    static func service(_ port: UInt16, _ proto: TransportProtocol = .tcp, method: String,
                        name: String? = nil, product: String? = nil, version: String? = nil) -> ServiceResult {
        var service = ServiceResult(port: port, protocol: proto, method: method)
        service.name = name
        service.product = product
        service.version = version
        return service
    }

    /// Two maps: an office /24 with a TLS service, a host without services, an excluded host and
    /// hostile strings; and an IPv6 map that was interrupted. `extraPort` adds one open port to
    /// the first host, for ndiff.
    static func sample(extraPort: UInt16? = nil) -> MapReport {
        var ssh = service(22, method: "ssh", name: "ssh", product: "OpenSSH", version: "9.2p1")
        ssh.cpe = ["cpe:/a:openbsd:openssh:9.2p1"]
        ssh.certain = true
        var http = service(80, method: "http", name: "http", product: "=HYPERLINK(\"http://evil\")", version: "-1+2")
        http.extraInfo = "a,b \"quoted\"\r\nsecond line"
        var https = service(443, method: "tls", name: "https", product: "nginx", version: "1.22.1")
        https.tls = true
        https.cpe = ["cpe:/a:nginx:nginx:1.22.1", "cpe:/o:linux:linux_kernel"]
        var services = [ssh, http, https]
        if let extraPort { services.append(service(extraPort, method: "tcp-syn")) }
        var web = HostResult(address: "10.0.0.1",
                             hostnames: [Hostname(name: "a.example", source: "dns-ptr"),
                                         Hostname(name: "@evil.example", source: "http")],
                             discovery: ["tcp-syn:22", "icmp-echo"], services: services,
                             closedPorts: 996, filteredPorts: 1)
        web.ttl = 64
        web.new = true
        web.deviceType = "web server"
        web.deviceTypeConfidence = 64
        web.deviceTypeEvidence = ["http on 80/tcp"]
        web.os = "Linux"
        web.osConfidence = 50
        web.osEvidence = ["TTL 64: initial 64"]
        web.hops = 0
        var quiet = HostResult(address: "10.0.0.7", discovery: ["arp"])
        quiet.rogue = true
        quiet.new = false
        var excluded = HostResult(address: "10.0.0.9", hostnames: [Hostname(name: "printer.example", source: "dns-a")],
                                  discovery: ["dns-a"])
        excluded.excluded = true
        var office = MapResult(target: "none:[10.0.0.0/24]", profile: "default", status: .complete,
                               startedAt: Date(timeIntervalSince1970: 1_800_000_000),
                               finishedAt: Date(timeIntervalSince1970: 1_800_000_012),
                               addressesScanned: "256", excludedAddresses: "1", hosts: [web, quiet, excluded],
                               warnings: ["probe \"x\" failed to load"])
        office.id = 7
        office.title = "Office <LAN> & \"friends\""
        office.network = "office"

        var dns = service(53, .udp, method: "dns", name: "domain", product: hostileProduct, version: controlBytes)
        dns.extraInfo = "</script><!--"
        dns.deviceType = "router"
        dns.probeErrors = ["timeout after 5 s"]
        var v6 = HostResult(address: "2001:db8::5", hostnames: [Hostname(name: "ns.example", source: "dns-ptr")],
                            discovery: ["udp:53"], services: [dns])
        v6.deviceType = "router"
        v6.deviceTypeConfidence = 80
        v6.forwards = ["2001:db8::9"]
        var lab = MapResult(target: "none:[2001:db8::/120]", profile: "fast", status: .interrupted,
                            startedAt: Date(timeIntervalSince1970: 1_800_000_100),
                            finishedAt: Date(timeIntervalSince1970: 1_800_000_130),
                            addressesScanned: "256", excludedAddresses: "0", hosts: [v6], warnings: [])
        lab.network = "lab"
        return MapReport(maps: [office, lab])
    }

    // MARK: CSV

    @Test("CSV quotes fields with commas, quotes, CR or LF, doubling the quotes")
    func csvQuoting() {
        #expect(CSVReport.quoted("plain") == "plain")
        #expect(CSVReport.quoted("a,b") == "\"a,b\"")
        #expect(CSVReport.quoted("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSVReport.quoted("one\ntwo") == "\"one\ntwo\"")
        #expect(CSVReport.quoted("one\r\ntwo") == "\"one\r\ntwo\"")
    }

    @Test("CSV defuses formulas in text from remote hosts only")
    func csvInjection() throws {
        for start in ["=", "+", "-", "@"] {
            #expect(CSVReport.remote(start + "SUM(A1)") == "'" + start + "SUM(A1)")
        }
        #expect(CSVReport.remote("OpenSSH") == "OpenSSH")
        #expect(CSVReport.remote("") == "")

        let rows = try Self.parseCSV(CSVReport.render(Self.sample()))
        let header = rows[0]
        let http = try #require(rows.first { $0[header.firstIndex(of: "port")!] == "80" })
        func field(_ name: String) -> String { http[header.firstIndex(of: name)!] }
        #expect(field("product") == "'=HYPERLINK(\"http://evil\")")
        #expect(field("version") == "'-1+2")
        #expect(field("hostnames") == "a.example @evil.example", "only a field that starts with a formula sign is defused")
        let quiet = try #require(rows.first { $0[header.firstIndex(of: "address")!] == "10.0.0.7" })
        #expect(quiet[header.firstIndex(of: "discovery")!] == "arp")
    }

    @Test("CSV has a header, one row per service and one row for a host without services")
    func csvRows() throws {
        let text = CSVReport.render(Self.sample())
        #expect(text.hasPrefix("map_id,network,target,address,hostnames,discovery,new,rogue,excluded,ttl,"
            + "hops,device_type,device_type_confidence,os,os_confidence,port,protocol,state,service,product,version,extra_info,tls,method,cpe\r\n"))
        #expect(text.hasSuffix("\r\n"))
        let rows = try Self.parseCSV(text)
        #expect(rows.allSatisfy { $0.count == CSVReport.columns.count }, "every row has every column")
        // 10.0.0.1 has three services; 10.0.0.7 and 10.0.0.9 none; 2001:db8::5 one.
        #expect(rows.count == 1 + 3 + 1 + 1 + 1)
        let header = rows[0]
        func column(_ name: String) -> Int { header.firstIndex(of: name)! }

        let https = try #require(rows.first { $0[column("port")] == "443" })
        #expect(https[column("map_id")] == "7")
        #expect(https[column("network")] == "office")
        #expect(https[column("address")] == "10.0.0.1")
        #expect(https[column("discovery")] == "tcp-syn:22 icmp-echo")
        #expect(https[column("new")] == "true")
        #expect(https[column("rogue")] == "")
        #expect(https[column("ttl")] == "64")
        #expect(https[column("tls")] == "true")
        #expect(https[column("cpe")] == "cpe:/a:nginx:nginx:1.22.1 cpe:/o:linux:linux_kernel")

        let http = try #require(rows.first { $0[column("port")] == "80" })
        #expect(http[column("extra_info")] == "a,b \"quoted\"\\r\\nsecond line",
                "quoted field survives a round trip, its line break escaped")
        #expect(http[column("tls")] == "")

        let quiet = try #require(rows.first { $0[column("address")] == "10.0.0.7" })
        #expect(quiet[column("rogue")] == "true" && quiet[column("new")] == "false")
        for name in ["port", "protocol", "state", "service", "product", "version", "extra_info", "tls", "method", "cpe"] {
            #expect(quiet[column(name)] == "", "service column \(name) is empty for a host without services")
        }
        let excluded = try #require(rows.first { $0[column("address")] == "10.0.0.9" })
        #expect(excluded[column("excluded")] == "true")

        let v6 = try #require(rows.first { $0[column("address")] == "2001:db8::5" })
        #expect(v6[column("map_id")] == "" && v6[column("protocol")] == "udp" && v6[column("service")] == "domain")
    }

    /// A strict RFC 4180 reader: records end in CRLF; quoted fields may hold anything.
    static func parseCSV(_ text: String) throws -> [[String]] {
        struct Malformed: Error, CustomStringConvertible { var description: String }
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var scalars = Array(text.unicodeScalars)[...]
        while let c = scalars.popFirst() {
            switch c {
            case "\"" where field.isEmpty:
                while true {
                    guard let q = scalars.popFirst() else { throw Malformed(description: "unterminated quote") }
                    if q == "\"" {
                        if scalars.first == "\"" { scalars.removeFirst(); field.unicodeScalars.append("\"") } else { break }
                    } else {
                        field.unicodeScalars.append(q)
                    }
                }
                guard let next = scalars.first, next == "," || next == "\r" else {
                    throw Malformed(description: "text after a closing quote")
                }
            case ",":
                row.append(field)
                field = ""
            case "\r":
                guard scalars.popFirst() == "\n" else { throw Malformed(description: "CR without LF") }
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            case "\n", "\"":
                throw Malformed(description: "bare \(c == "\n" ? "LF" : "quote") in an unquoted field")
            default:
                field.unicodeScalars.append(c)
            }
        }
        guard row.isEmpty && field.isEmpty else { throw Malformed(description: "last record lacks CRLF") }
        return rows
    }

    // MARK: XML

    @Test("XML escapes markup and drops bytes XML 1.0 forbids")
    func xmlEscaping() {
        #expect(XMLReport.escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&apos;")
        #expect(XMLReport.escape("tab\there\nnew\rline") == "tab&#9;here&#10;new&#13;line")
        #expect(XMLReport.escape(Self.controlBytes) == "ok[31mend")
        #expect(XMLReport.escape("café ✓ 𝄞") == "café ✓ 𝄞")

        let xml = XMLReport.render(Self.sample(), arguments: "cartograph map \u{1}<x>")
        let forbidden = xml.unicodeScalars.filter { scalar in
            (scalar.value < 0x20 && scalar != "\n") || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0xFFFE
        }
        #expect(forbidden.isEmpty, "control characters in the XML: \(forbidden.map { String($0.value, radix: 16) })")
        #expect(!xml.contains("<script>alert"))
        #expect(xml.contains("args=\"cartograph map &lt;x&gt;\""))
    }

    @Test("XML groups ports into nmap's service list")
    func xmlPortRanges() {
        #expect(XMLReport.portRanges([21, 22, 23, 80, 443, 444]) == "21-23,80,443-444")
        #expect(XMLReport.portRanges([7]) == "7")
        #expect(XMLReport.portRanges([]) == "")
    }

    @Test("XML validates against nmap.dtd and keeps hostile strings intact")
    func xmlValidates() throws {
        let xml = XMLReport.render(Self.sample(), arguments: "cartograph map -p 22,80 10.0.0.0/24", version: "0.1.0")
        let file = try Self.temporaryFile("report.xml", xml)
        let xmllint = try Self.tool("xmllint", package: "libxml2-utils")
        let check = try Self.run(xmllint, ["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd", file.path])
        #expect(check.status == 0, "xmllint rejected the report:\n\(check.stderr)")
        #expect(check.stderr.isEmpty, "xmllint complained:\n\(check.stderr)")

        func query(_ xpath: String) throws -> String {
            let result = try Self.run(xmllint, ["--xpath", xpath, file.path])
            #expect(result.status == 0, "xmllint --xpath \(xpath): \(result.stderr)")
            // xmllint ends the value with a newline of its own.
            return result.stdout.hasSuffix("\n") ? String(result.stdout.dropLast()) : result.stdout
        }
        #expect(try query("count(/nmaprun/host)") == "4")
        #expect(try query("string(//host[address/@addr='2001:db8::5']/ports/port/service/@product)") == Self.hostileProduct)
        #expect(try query("string(//host[address/@addr='2001:db8::5']/ports/port/service/@version)") == "ok[31mend")
        #expect(try query("string(//host[address/@addr='2001:db8::5']/address/@addrtype)") == "ipv6")
        #expect(try query("string(//port[@portid='443']/service/@tunnel)") == "ssl")
        #expect(try query("count(//port[@portid='443']/service/cpe)") == "2")
        #expect(try query("string(//port[@portid='80']/script[@id='cartograph-method']/@output)") == "http")
        #expect(try query("string(//port[@portid='80']/service/@extrainfo)") == "a,b \"quoted\"\r\nsecond line")
        #expect(try query("string(//host[address/@addr='10.0.0.1']/status/@reason)") == "syn-ack")
        #expect(try query("string(//host[address/@addr='10.0.0.1']/status/@reason_ttl)") == "64")
        #expect(try query("string(//host[address/@addr='10.0.0.1']/ports/extraports[@state='closed']/@count)") == "996")
        #expect(try query("string(//host[address/@addr='10.0.0.7']/status/@reason)") == "arp-response")
        #expect(try query("count(//host[address/@addr='10.0.0.7']/ports/port)") == "0")
        #expect(try query("string(//host[address/@addr='10.0.0.9']/status/@state)") == "skipped")
        #expect(try query("count(//host[address/@addr='10.0.0.9']/ports)") == "0")
        #expect(try query("string(//hostname[@name='a.example']/@type)") == "PTR")
        #expect(try query("string(//hostname[@name='printer.example']/@type)") == "user")
        let comment = try query("string(//host[address/@addr='10.0.0.1']/@comment)")
        #expect(comment.contains("map 7") && comment.contains("network office") && comment.contains("new"))
        #expect(try query("string(/nmaprun/scaninfo[@protocol='tcp']/@type)") == "syn")
        #expect(try query("string(/nmaprun/scaninfo[@protocol='tcp']/@services)") == "22,80,443")
        #expect(try query("string(/nmaprun/scaninfo[@protocol='udp']/@type)") == "udp")
        #expect(try query("string(/nmaprun/@start)") == "1800000000")
        #expect(try query("string(/nmaprun/runstats/finished/@time)") == "1800000130")
        #expect(try query("string(/nmaprun/runstats/finished/@exit)") == "error", "the second map was interrupted")
        #expect(try query("string(/nmaprun/runstats/hosts/@up)") == "3")
        #expect(try query("string(/nmaprun/runstats/hosts/@total)") == "512")
        #expect(try query("string(//host[address/@addr='10.0.0.1']/os/osmatch/@name)") == "Linux")
        #expect(try query("string(//host[address/@addr='10.0.0.1']/os/osmatch/osclass/@type)") == "general purpose")
        #expect(try query("string(//host[address/@addr='10.0.0.1']/os/osmatch/@accuracy)") == "50")
        #expect(try query("string(//host[address/@addr='10.0.0.1']/distance/@value)") == "1", "nmap counts the host itself")
    }

    @Test("an empty report is valid nmap XML and an empty page")
    func emptyReport() throws {
        let xml = try Self.temporaryFile("empty.xml", XMLReport.render(MapReport(maps: []), arguments: "cartograph map"))
        let check = try Self.run(try Self.tool("xmllint", package: "libxml2-utils"),
                                 ["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd", xml.path])
        #expect(check.status == 0, "xmllint rejected the empty report:\n\(check.stderr)")
        #expect(CSVReport.render(MapReport(maps: [])) == CSVReport.columns.joined(separator: ",") + "\r\n")
        let html = HTMLReport.render(MapReport(maps: []))
        #expect(!html.contains("<details") && !html.contains("<svg"))
    }

    @Test("ndiff reads two reports and names the port that opened")
    func xmlNdiff() throws {
        let ndiff = try Self.tool("ndiff", package: "ndiff")
        let old = try Self.temporaryFile("old.xml", XMLReport.render(Self.sample(), arguments: "cartograph map"))
        let new = try Self.temporaryFile("new.xml", XMLReport.render(Self.sample(extraPort: 8443), arguments: "cartograph map"))
        let same = try Self.run(ndiff, [old.path, old.path])
        #expect(same.status == 0, "ndiff of a report with itself: \(same.stdout)\(same.stderr)")
        let diff = try Self.run(ndiff, [old.path, new.path])
        // ndiff exits 1 when the scans differ, 2 on error.
        #expect(diff.status == 1, "ndiff: \(diff.stderr)")
        #expect(diff.stderr.isEmpty, "ndiff warned: \(diff.stderr)")
        let changed = diff.stdout.split(separator: "\n").filter { $0.hasPrefix("+") || $0.hasPrefix("-") }
        #expect(changed.contains { $0.contains("8443/tcp") && $0.contains("open") }, "ndiff output:\n\(diff.stdout)")
        #expect(!changed.contains { $0.contains("/tcp") && !$0.contains("8443") }, "ndiff output:\n\(diff.stdout)")
    }

    // MARK: HTML

    @Test("HTML is self-contained and forbids requests")
    func htmlSelfContained() throws {
        let html = HTMLReport.render(Self.sample())
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            + "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">"))
        let external = try Regex(#"(?i)(src|href|action|srcset)\s*=\s*["']?\s*(https?:|//)"#)
        #expect(html.firstMatch(of: external) == nil, "an attribute points outside the file")
        #expect(!html.contains("@import") && !html.contains("url("), "CSS must not load anything")
        #expect(html.components(separatedBy: "<style>").count == 2, "one style block")
    }

    @Test("HTML escapes everything from the model")
    func htmlEscaping() throws {
        let report = Self.sample()
        let html = HTMLReport.render(report)
        #expect(!html.contains("<script>alert"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;=cmd&quot;"))
        #expect(html.contains("Office &lt;LAN&gt; &amp; &quot;friends&quot;"))
        #expect(!html.unicodeScalars.contains { $0.value == 0 || $0.value == 0x1B }, "control bytes reach the page")
        // The only script elements are ours: the banner's </script> and <!-- stay inside the JSON.
        #expect(html.components(separatedBy: "<script").count == 3)
        #expect(html.components(separatedBy: "</script>").count == 3)
        #expect(!html.contains("<!--"))

        let json = try #require(Self.between(html, "<script type=\"application/json\" id=\"cartograph-data\">", "</script>"))
        let decoded = try MapReport.jsonDecoder().decode(MapReport.self, from: Data(json.utf8))
        #expect(decoded == report, "the embedded JSON holds the whole report")
    }

    @Test("HTML has a map drawing and one unfolding entry per host")
    func htmlStructure() throws {
        let report = Self.sample()
        let html = HTMLReport.render(report)
        let hosts = report.maps.reduce(0) { $0 + $1.hosts.count }
        #expect(html.components(separatedBy: "<details").count - 1 == hosts)
        #expect(html.components(separatedBy: "<svg").count - 1 == report.maps.count, "one drawing per map")
        // The office's two live hosts in their subnet (the excluded one is only listed); the
        // IPv6 host forwarded probes, so it is drawn as a router.
        #expect(html.components(separatedBy: "class=\"node host").count - 1 == 2, "one node per live host")
        #expect(html.contains(">10.0.0.0/24</text>") && html.contains(">2 hosts</text>"))
        #expect(html.contains("class=\"node router\"") && html.contains(">2001:db8::5</text>"))
        #expect(html.contains(">web server · 3 open ports</text>") && html.contains(">unknown · 0 open ports</text>"))
        #expect(html.contains("</span>web server</li>") && html.contains("</span>unknown</li>"), "the legend")
        #expect(html.contains("xlink:href=\"#m0-h0\"") && html.contains("id=\"m0-h0\""))
        #expect(html.contains("<span class=\"badge new\">new</span>"))
        #expect(html.contains("<span class=\"badge rogue\">rogue</span>"))
        #expect(html.contains("<span class=\"badge excluded\">excluded</span>"))
        #expect(html.contains("<td>443/tcp</td><td>https (TLS)</td><td>nginx 1.22.1"))
        #expect(html.contains("<td>tls</td>"), "each service shows its method")
        #expect(html.contains("Found by</dt><dd>tcp-syn:22, icmp-echo</dd>"))
    }

    @Test("headless Chromium runs the page's script")
    func htmlRendersInChromium() throws {
        let chromium = try Self.tool("chromium", package: "chromium")
        let timeout = try Self.tool("timeout", package: "coreutils")
        let report = Self.sample()
        let page = try Self.temporaryFile("report.html", HTMLReport.render(report))
        defer { try? FileManager.default.removeItem(at: page.deletingLastPathComponent()) }
        let profile = page.deletingLastPathComponent().appendingPathComponent("chromium-profile")
        let result = try Self.run(timeout, [
            "120", chromium.path, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)",
            "--dump-dom", page.absoluteString,
        ])
        #expect(result.status == 0, "chromium failed: \(result.stderr.suffix(2000))")
        let bodyTag = try Regex("<body[^>]*>")
        let match = try #require(result.stdout.firstMatch(of: bodyTag), "no body in the dumped DOM:\n\(result.stdout.prefix(2000))")
        let body = String(result.stdout[match.range])
        #expect(body.contains("data-rendered=\"4\""), "body after the script ran: \(body)")
        #expect(result.stdout.contains("<span id=\"summary\">4 hosts, 4 open ports</span>"))
    }

    // MARK: Helpers

    /// A tool the test needs: a missing one fails the test and says what to install.
    static func tool(_ name: String, package: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let found = (path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin"])
            .map { URL(fileURLWithPath: $0).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
        return try #require(found, "\(name) is not installed (Debian package \(package))")
    }

    /// Runs a tool to completion; output goes through files, so neither pipe can fill and block it.
    static func run(_ tool: URL, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let directory = try temporaryDirectory()
        let out = directory.appendingPathComponent("stdout"), err = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = tool
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8),
                try String(contentsOf: err, encoding: .utf8))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func temporaryFile(_ name: String, _ contents: String) throws -> URL {
        let url = try temporaryDirectory().appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static func between(_ text: String, _ start: String, _ end: String) -> String? {
        guard let open = text.range(of: start), let close = text.range(of: end, range: open.upperBound..<text.endIndex)
        else { return nil }
        return String(text[open.upperBound..<close.lowerBound])
    }
}
