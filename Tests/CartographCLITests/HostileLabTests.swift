import CartographTestSupport
import Foundation
import Testing

/// Maps of `Scripts/hostile.py`: twenty-odd services that stream without end, send 100 MB, stay
/// silent, reset, send garbage or huge TLS, drip bytes, loop redirects, carry terminal escapes
/// and injection payloads, or bait backtracking patterns, beside real controls (redis-server,
/// nginx, sshd, an FTP greeting, HTTPS). Each map must end, identify every control, stay under
/// 200 MB and write output that is well formed and carries no raw control byte. A map that
/// hangs is killed by the harness after `limit` seconds and fails; that is a bound on a hang,
/// not a speed requirement.
@Suite("The hostile lab", .serialized)
struct HostileLabTests {
    /// The harness limit of one map: far above what a healthy map of the lab takes.
    static let limit = 120.0
    static let memoryLimitKiB = 200 * 1024

    /// A UDP probe for the lab's UDP port: the connect engine tries only UDP ports a probe declares.
    static func udpProbeDirectory(_ lab: HostileLab) throws -> String {
        let dir = Cartograph.scratch.appendingPathComponent("hostile-probes-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let ports = lab.services.filter { $0.protocol == "udp" }.map { String($0.port) }.joined(separator: ", ")
        try """
        -- A datagram to the hostile lab's UDP service, which answers every one with 64 KB.
        return {
          name = "hostile-udp",
          description = "the hostile lab's UDP flood",
          categories = { "default" },
          protocol = "udp",
          ports = { \(ports) },
          run = function(host, port)
            local sock = socket.connect(host, port, { protocol = "udp" })
            if not sock then return nil end
            sock:send("hello")
            local data = sock:receive(2000)
            sock:close()
            if not data then return nil end
            return { name = "udp-flood", extra = data:sub(1, 40), certain = false }
          end,
        }

        """.write(to: dir.appendingPathComponent("hostile-udp.lua"), atomically: true, encoding: .utf8)
        return dir.path
    }

    static func mapArguments(_ lab: HostileLab, db: String, probeDir: String) -> [String] {
        ["map", "127.0.0.1", "-p", lab.portList, "-n", "--engine", "connect", "--probes", "all",
         "--probe-dir", probeDir, "--db", db]
    }

    /// Fails with where the first raw control bytes are, naming what carried them.
    /// `csv`: the data is CSV, whose CRLF record ends are its own and not counted.
    static func expectNoControlBytes(_ data: Data, _ what: String, csv: Bool = false,
                                     sourceLocation: SourceLocation = #_sourceLocation) {
        let count = ControlBytes.count(in: data, csv: csv)
        #expect(count == 0, "\(count) raw control bytes in \(what): \(ControlBytes.describe(data, csv: csv))",
                sourceLocation: sourceLocation)
    }

    /// The services of the latest map in `db`, by port, from `maps report --format json`.
    static func storedServices(db: String) throws -> [Int: [String: Any]] {
        let report = try Cartograph.runBounded(["maps", "report", "--db", db, "--format", "json"], limit: 60)
        #expect(report.status == 0, "maps report: \(report.summary)")
        let object = try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any]
        let maps = object?["maps"] as? [[String: Any]] ?? []
        var byPort: [Int: [String: Any]] = [:]
        for host in maps.first?["hosts"] as? [[String: Any]] ?? [] {
            for service in host["services"] as? [[String: Any]] ?? [] {
                if let port = service["port"] as? Int { byPort[port] = service }
            }
        }
        return byPort
    }

    @Test("a map of the hostile lab ends, identifies every control, stays under 200 MB and writes clean output",
          arguments: ["json", "text", "csv", "xml", "html"])
    func mapInEveryFormat(format: String) throws {
        let lab = try HostileLab()
        #expect(lab.hostile.count >= 20 && lab.controls.count >= 4, "\(lab.services.map(\.name))")
        let db = Cartograph.freshStore("hostile\(format)")
        let run = try Cartograph.runBounded(Self.mapArguments(lab, db: db, probeDir: try Self.udpProbeDirectory(lab))
                                            + ["--format", format], limit: Self.limit)
        #expect(!run.killedByHarness, "the map did not end within the harness limit of \(Int(Self.limit)) s: \(run.summary)")
        #expect(run.killedByHarness || run.signal == nil, "the map died of a signal: \(run.summary)")
        #expect(run.killedByHarness || run.status == 0, "\(run.summary)")
        #expect(run.peakKiB > 0 && run.peakKiB < Self.memoryLimitKiB, "peak memory \(run.peakKiB / 1024) MB: \(run.summary)")

        Self.expectNoControlBytes(run.stdout, "the \(format) report on stdout", csv: format == "csv")
        Self.expectNoControlBytes(run.stderr, "stderr of the \(format) map")
        try Self.checkWellFormed(format: format, run.stdout)

        // Every control identified with its right name, whatever the report's format.
        let services = try Self.storedServices(db: db)
        for control in lab.controls {
            let service = services[Int(control.port)]
            #expect(service?["name"] as? String == control.expect,
                    "control \(control.name) (\(control.what)) on \(control.port): expected \(control.expect ?? "?"), got \(service.map { "\($0)" } ?? "no service")")
        }

        // What the store lists back carries no raw control byte either.
        let reports = ["text", "csv", "json", "xml", "html"].map { ["maps", "report", "--format", $0] }
        for listing in [["maps", "list"], ["maps", "show"], ["hosts"], ["hosts", "--format", "json"],
                        ["maps", "list", "--format", "json"]] + reports {
            let shown = try Cartograph.runBounded(listing + ["--db", db], limit: 60)
            #expect(shown.status == 0, "\(listing.joined(separator: " ")): \(shown.summary)")
            Self.expectNoControlBytes(shown.stdout, "`\(listing.joined(separator: " "))` stdout", csv: listing.contains("csv"))
            Self.expectNoControlBytes(shown.stderr, "`\(listing.joined(separator: " "))` stderr")
        }
    }

    /// JSON parses, CSV has one column count, XML is valid against nmap.dtd, HTML carries no live injection.
    static func checkWellFormed(format: String, _ data: Data) throws {
        let text = String(decoding: data, as: UTF8.self)
        switch format {
        case "json":
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(object?["maps"] != nil, "the JSON report does not parse: \(text.prefix(300).debugDescription)")
        case "csv":
            let rows = CSV.parse(text)
            let header = try #require(rows.first, "an empty CSV report")
            #expect(header.count > 3, "\(header)")
            #expect(rows.count > 1, "no data rows")
            for (index, row) in rows.enumerated() where row.count != header.count {
                Issue.record("CSV row \(index + 1) has \(row.count) fields, the header \(header.count): \(row)")
            }
            // A field from a service never starts as a formula.
            for row in rows.dropFirst() {
                for field in row where field.hasPrefix("=") || field.hasPrefix("+") || field.hasPrefix("@") {
                    Issue.record("CSV field starts a formula: \(field.debugDescription)")
                }
            }
        case "xml":
            let file = Cartograph.scratch.appendingPathComponent("hostile-\(UUID().uuidString.prefix(8)).xml")
            try data.write(to: file)
            let dtd = "/usr/share/nmap/nmap.dtd"
            let lint = try Cartograph.runExternal("/usr/bin/xmllint", ["--noout", "--dtdvalid", dtd, file.path])
            #expect(lint.status == 0, "xmllint --dtdvalid \(dtd): \(lint.stderr.prefix(1500))")
            #expect(!text.contains("<script>alert(1)"), "markup from a service went into the XML raw")
        case "html":
            #expect(text.contains("<html") || text.contains("<!DOCTYPE"), "\(text.prefix(200))")
            #expect(!text.contains("<script>alert(1)"), "markup from a service went into the HTML raw")
            #expect(!text.contains("<!-- \u{1B}"), "a comment opened by a service went into the HTML raw")
        default:
            #expect(text.contains("127.0.0.1"), "the text report names no host: \(text.prefix(300).debugDescription)")
        }
    }

    @Test("Ctrl-C during a map of the hostile lab: exit 130, the report written, the map stored as interrupted")
    func interrupt() throws {
        let lab = try HostileLab()
        let db = Cartograph.freshStore("hostileinterrupt")
        let report = Cartograph.scratch.appendingPathComponent("hostile-interrupted-\(UUID().uuidString.prefix(8)).json")
        let run = try Cartograph.runBounded(Self.mapArguments(lab, db: db, probeDir: try Self.udpProbeDirectory(lab))
                                            + ["--format", "json", "-o", report.path],
                                            limit: 60, interruptAfter: 6)
        #expect(!run.killedByHarness, "SIGINT did not end the map within the harness limit: \(run.summary)")
        #expect(run.status == 130, "\(run.summary)")
        Self.expectNoControlBytes(run.stderr, "stderr of the interrupted map")
        let written = try? Data(contentsOf: report)
        let object = written.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        let maps = object?["maps"] as? [[String: Any]]
        #expect(maps?.first?["status"] as? String == "interrupted", "the report after Ctrl-C: \(written.map { String(decoding: $0.prefix(300), as: UTF8.self) } ?? "not written")")
        let list = try Cartograph.runBounded(["maps", "list", "--db", db, "--format", "json"], limit: 60)
        let stored = (try? JSONSerialization.jsonObject(with: list.stdout)) as? [[String: Any]]
        #expect(stored?.first?["status"] as? String == "interrupted", "\(list.stdoutText.prefix(300))")
    }

    @Test("hostile.py stops by itself after its lifetime, and takes its daemons with it")
    func labStopsItself() throws {
        let lab = try HostileLab(lifetime: 4)
        let ports = lab.services.filter { $0.protocol == "tcp" }.map(\.port)
        #expect(ports.allSatisfy { Self.accepts(port: $0) }, "every TCP service accepts while the lab runs")
        #expect(lab.waitUntilGone(seconds: 30), "hostile.py outlived its --lifetime")
        // Daemons get a few seconds to go after their parent.
        var open = ports
        for _ in 0..<50 where !open.isEmpty {
            open = open.filter { Self.accepts(port: $0) }
            if !open.isEmpty { usleep(100_000) }
        }
        #expect(open.isEmpty, "still accepting after the lab ended: \(open)")
    }

    static func accepts(port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// RFC 4180 CSV: fields split on commas outside quotes, `""` an escaped quote, CRLF or LF rows.
enum CSV {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { quoted = false }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\r" && chars.first == "\n" {
                continue
            } else if c == "\n" {
                row.append(field); rows.append(row); row = []; field = ""
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}
