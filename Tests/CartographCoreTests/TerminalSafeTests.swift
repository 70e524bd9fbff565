import CartographCore
@testable import CartographReport
import Foundation
import Testing

/// No string from a service, a probe or an input file reaches a terminal raw: every format and
/// listing escapes control characters, C1 controls and bidi overrides (issue 11, deliver 3).
@Suite("Terminal-safe output")
struct TerminalSafeTests {
    /// What a hostile service can send: window-title and screen-clearing sequences, CR and
    /// backspace to overwrite a line, NUL, a C1 CSI, bidi overrides, invalid UTF-8 (decoded with
    /// replacement characters, as every decoder of received bytes does), and a very long string.
    static let hostile: [String] = [
        "\u{1b}]0;pwned\u{07}",
        "clear\u{1b}[2Jscreen",
        "over\rwrite\u{8}\u{8}x",
        "nul\u{0}byte\u{7f}del",
        "c1\u{9b}31mred\u{85}next",
        "bidi \u{202e}txt.exe\u{202c} \u{2066}iso\u{2069} \u{200f}",
        String(decoding: [0x62, 0xff, 0xfe, 0xc3, 0x28, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0xe2, 0x82], as: UTF8.self),
        "line\nbreak\ttab\r\nfake row",
        String(repeating: "\u{1b}[5mlong", count: 2000),
    ]

    static func hostileString(_ index: Int) -> String { hostile[index % hostile.count] }

    /// A map built by hand with a hostile string in every field that can hold text.
    static func hostileReport() -> MapReport {
        var services: [ServiceResult] = []
        for (index, text) in hostile.enumerated() {
            var service = ServiceResult(port: UInt16(1000 + index), protocol: index % 2 == 0 ? .tcp : .udp,
                                        state: "open", method: "probe" + text)
            service.name = text
            service.product = "=" + text
            service.version = text
            service.extraInfo = "title: " + text
            service.cpe = ["cpe:/a:" + text]
            service.deviceType = text
            service.os = [text]
            service.probeErrors = ["probe.lua:3: " + text]
            services.append(service)
        }
        var host = HostResult(address: "127.0.0.1",
                              hostnames: hostile.map { Hostname(name: $0, source: "dns-ptr") },
                              discovery: ["tcp-connect:1000", "probe:" + hostile[0]], services: services,
                              closedPorts: 3, filteredPorts: 1)
        host.deviceType = hostile[0]
        host.deviceTypeConfidence = 40
        host.deviceTypeEvidence = hostile
        host.os = hostile[4]
        host.osConfidence = 30
        host.osEvidence = hostile
        host.forwards = [hostile[5]]
        host.new = true
        let bare = HostResult(address: "127.0.0.2", hostnames: [Hostname(name: hostile[1], source: "http")],
                              discovery: ["tcp-connect:80"])
        var map = MapResult(target: "none:[127.0.0.1]" + hostile[0], profile: "default" + hostile[2], status: .complete,
                            startedAt: Date(timeIntervalSince1970: 1_800_000_000),
                            finishedAt: Date(timeIntervalSince1970: 1_800_000_010),
                            addressesScanned: "2", excludedAddresses: "0", hosts: [host, bare],
                            warnings: hostile.map { "probe hostile.lua:7: " + $0 })
        map.id = 3
        map.title = "title " + hostile[1]
        map.network = "net" + hostile[3]
        map.scanner = "scanner" + hostile[4]
        map.launchedBy = "user" + hostile[5]
        return MapReport(maps: [map])
    }

    /// Every character that must never appear raw, with a line ending allowed where `allowed` says.
    static func offenders(_ text: String, allowed: Set<Unicode.Scalar>) -> [String] {
        text.unicodeScalars.filter { TerminalSafety.needsEscape($0) && !allowed.contains($0) }
            .map { "U+" + String($0.value, radix: 16) }
    }

    @Test("terminalSafe escapes C0, DEL, C1 and bidi characters visibly, and keeps everything else")
    func escaping() {
        #expect("\u{1b}]0;pwned\u{07}".terminalSafe == "\\x1b]0;pwned\\x07")
        #expect("a\r\nb\tc\u{0}\u{7f}".terminalSafe == "a\\r\\nb\\tc\\x00\\x7f")
        #expect("c1\u{9b}x\u{85}".terminalSafe == "c1\\u{9b}x\\u{85}")
        #expect("\u{202e}gpj.exe\u{2069}\u{200f}".terminalSafe == "\\u{202e}gpj.exe\\u{2069}\\u{200f}")
        #expect("café ✓ 𝄞 \u{FFFD} back\\slash".terminalSafe == "café ✓ 𝄞 \u{FFFD} back\\slash")
        #expect("two\nlines\u{1b}[K".terminalSafeLines == "two\nlines\\x1b[K")
        for text in Self.hostile {
            #expect(Self.offenders(text.terminalSafe, allowed: []).isEmpty)
            #expect(text.terminalSafe.terminalSafe == text.terminalSafe, "escaping twice changes nothing")
            #expect(text.terminalSafe.isTerminalSafe)
        }
        #expect(TerminalSafety.json("\"a\u{9b}\u{202e}\u{7f}\"") == "\"a\\u009b\\u202e\\u007f\"")
    }

    @Test("the text report has no control character but its own line breaks, and one line per field")
    func textReport() {
        let text = TextReport.render(Self.hostileReport())
        #expect(Self.offenders(text, allowed: ["\n"]) == [])
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("fake row") || $0.hasPrefix("break") },
                "a line break inside a field would start a line of its own")
        #expect(text.contains("\\x1b]0;pwned\\x07"))
        #expect(text.contains("c1\\u{9b}31mred"))
        #expect(text.contains("warning: probe hostile.lua:7: over\\rwrite\\x08\\x08x"))
    }

    @Test("CSV: every field escaped, formulas still defused, and Python's csv module reads one row per service")
    func csv() throws {
        let report = Self.hostileReport()
        let csv = CSVReport.render(report)
        #expect(Self.offenders(csv.replacingOccurrences(of: "\r\n", with: ""), allowed: []) == [],
                "only the CRLF that ends a record may be a control character")
        let rows = try ReportFormatTests.parseCSV(csv)
        #expect(rows.count == 1 + Self.hostile.count + 1)
        let header = rows[0]
        let product = try #require(header.firstIndex(of: "product"))
        #expect(rows[1][product] == "'=\\x1b]0;pwned\\x07")

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-hostile-\(getpid()).csv")
        try csv.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let python = try ReportFormatTests.run(try ReportFormatTests.tool("python3", package: "python3"), [
            "-c", "import csv,sys; rows=list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8'))); "
                + "print(len(rows), len({len(r) for r in rows}))", file.path,
        ])
        #expect(python.status == 0, "\(python.stderr)")
        #expect(python.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(rows.count) 1",
                "python's csv module reads as many rows as Cartograph wrote, all of one width")
    }

    @Test("JSON: control, C1 and bidi characters are \\u escapes, and the strings decode to what was sent")
    func json() throws {
        let report = Self.hostileReport()
        let json = try JSONReport.render(report)
        #expect(Self.offenders(json, allowed: ["\n"]) == [])
        let decoded = try MapReport.jsonDecoder().decode(MapReport.self, from: Data(json.utf8))
        #expect(decoded == report, "escaping in JSON is lossless")
        let completion = try MapReport.jsonText(report.maps[0].hosts[0].hostnames)
        #expect(Self.offenders(completion, allowed: ["\n"]) == [])
    }

    @Test("XML: no character XML 1.0 forbids, and xmllint validates it against nmap's DTD")
    func xml() throws {
        let xml = XMLReport.render(Self.hostileReport(), arguments: "cartograph map " + Self.hostile[0])
        #expect(Self.offenders(xml, allowed: ["\n"]) == [],
                "no C0 or C1 control in the XML")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-hostile-\(getpid()).xml")
        try xml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let check = try ReportFormatTests.run(try ReportFormatTests.tool("xmllint", package: "libxml2-utils"),
                                              ["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd", file.path])
        #expect(check.status == 0 && check.stderr.isEmpty, "xmllint rejected the report:\n\(check.stderr)")
    }

    @Test("HTML: no control character, in the markup or in the embedded data")
    func html() {
        let html = HTMLReport.render(Self.hostileReport())
        #expect(Self.offenders(html, allowed: ["\n", "\t"]) == [])
        #expect(!html.contains("\u{202e}") || !HTMLReport.embeddedJSON(Self.hostileReport()).contains("\u{202e}"),
                "the embedded data escapes bidi overrides")
        #expect(!HTMLReport.embeddedJSON(Self.hostileReport()).unicodeScalars.contains { TerminalSafety.needsEscape($0) })
    }

    @Test("maps diff in text escapes names and identifications")
    func diff() {
        let new = Self.hostileReport().maps[0]
        var old = new
        old.hosts = []
        let text = MapDiff(old: old, new: new).renderText()
        #expect(Self.offenders(text, allowed: ["\n"]) == [])
        #expect(text.contains("+ host 127.0.0.1: new ("))
    }
}
