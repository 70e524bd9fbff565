import CartographCore
import CartographTestSupport
import Foundation
import Testing

/// A service on loopback that answers with terminal escapes, a probe file that passes them on
/// unfiltered, and a title and target list that hold them too: nothing of it reaches stdout or
/// stderr raw, in any format or listing (issue 11, deliver 3).
@Suite("Hostile strings end to end")
struct HostileOutputTests {
    /// Window title, screen clear, cursor moves, CR, backspace, NUL, a C1 CSI and a bidi override.
    static let payload = "\u{1b}]0;pwned\u{07}\u{1b}[2J\u{1b}[1;1H\rfake\u{8}\u{8}\u{0}\u{9b}31m\u{202e}gpj.exe"
    static let payloadBytes = Array(payload.utf8) + [0xff, 0xfe, 0x1b, 0x5b, 0x4b]   // and invalid UTF-8

    /// Greets with the payload, then answers HTTP with the payload in the Server header and title.
    static func server() throws -> LoopbackServer {
        try LoopbackServer { connection in
            let body = Array("<html><title>".utf8) + payloadBytes + Array("</title></html>".utf8)
            connection.write(Array("HTTP/1.1 200 OK\r\nServer: x".utf8) + payloadBytes
                             + Array("\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8) + body)
            connection.idle()
        }
    }

    /// A probe that takes whatever the port said and returns it in every field, and logs it.
    static func probeDirectory() throws -> URL {
        let dir = Cartograph.scratch.appendingPathComponent("hostile-probes-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let probe = """
        return {
          name = "echo",
          description = "echoes the banner\\27]0;desc\\7",
          categories = { "default" },
          ports = {},
          rarity = 1,
          run = function(host, port)
            local data = port.banner
            if not data then
              local sock = socket.connect(host, port)
              if not sock then return nil end
              data = sock:receive(3000)
              sock:close()
            end
            if not data then return nil end
            log("got " .. data)
            return { name = "echo" .. data:sub(1, 40), product = data, version = data:sub(1, 30), extra = data,
                     hostnames = { "h" .. data:sub(1, 30) .. ".example" }, device_type = data:sub(1, 20),
                     os = { data:sub(1, 20) }, cpe = { "cpe:/a:" .. data:sub(1, 20) } }
          end,
        }
        """
        try probe.write(to: dir.appendingPathComponent("echo.lua"), atomically: true, encoding: .utf8)
        return dir
    }

    /// Characters that must never appear raw; `\n` is the line break every format owns, and CSV
    /// ends its records in CRLF.
    static func offenders(_ text: String, csv: Bool = false) -> [String] {
        let text = csv ? text.replacingOccurrences(of: "\r\n", with: "\n") : text
        return text.unicodeScalars.filter { TerminalSafety.needsEscape($0) && $0 != "\n" && $0 != "\t" }
            .map { "U+" + String($0.value, radix: 16) }
    }

    static func expectSafe(_ result: CommandResult, _ what: String, csv: Bool = false, stderr: String? = nil,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let stderr = stderr ?? result.stderr
        #expect(offenders(result.stdout, csv: csv) == [], "raw control characters on stdout of \(what)",
                sourceLocation: sourceLocation)
        #expect(offenders(stderr) == [], "raw control characters on stderr of \(what): \(stderr.debugDescription)",
                sourceLocation: sourceLocation)
    }

    @Test("a map of a hostile service, in every format, and its listings: no raw escape anywhere")
    func hostileService() throws {
        let server = try Self.server()
        let probes = try Self.probeDirectory()
        let store = Cartograph.freshStore()
        let title = "office \u{1b}]0;title\u{07}\u{9b}"
        let common = ["127.0.0.1", "-p", "\(server.port)", "-n", "--engine", "connect", "--probe-dir", probes.path,
                      "--db", store, "--title", title]
        let text = try Cartograph.run(["map"] + common + ["--progress", "line"])
        #expect(text.status == 0, "\(text.stderr)")
        // The progress line's own redraw (CR, erase line) is the one escape Cartograph writes.
        Self.expectSafe(text, "map --format text", stderr: text.stderr.replacingOccurrences(of: "\r\u{1B}[K", with: ""))
        #expect(text.stdout.contains("\\x1b]0;pwned\\x07"), "the banner is shown, escaped:\n\(text.stdout)")
        #expect(text.stdout.contains("office \\x1b]0;title\\x07\\u{9b}"))
        #expect(text.stderr.contains("cartograph: map 1 none:[127.0.0.1] (network default): complete"), "\(text.stderr)")

        for format in ["json", "csv", "xml", "html"] {
            let result = try Cartograph.run(["map"] + common + ["--format", format, "--progress", "json"])
            #expect(result.status == 0, "\(format): \(result.stderr)")
            Self.expectSafe(result, "map --format \(format)", csv: format == "csv")
            if format == "json" {
                let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
                let host = ((object?["maps"] as? [[String: Any]])?.first?["hosts"] as? [[String: Any]])?.first
                let product = (host?["services"] as? [[String: Any]])?.first?["product"] as? String
                #expect(product?.hasPrefix("HTTP/1.1 200 OK") == true, "JSON decodes to what the service sent")
                #expect(product?.contains("\u{1b}]0;pwned\u{07}") == true, "the JSON value is the service's own text")
            }
        }

        for listing in [["maps", "list"], ["maps", "list", "--format", "json"], ["maps", "show"], ["maps", "show", "1"],
                        ["maps", "diff"], ["maps", "diff", "--format", "json"], ["maps", "report", "--format", "csv"],
                        ["hosts"], ["hosts", "--format", "json"]] {
            let result = try Cartograph.run(listing + ["--db", store])
            #expect(result.status == 0, "\(listing): \(result.stderr)")
            Self.expectSafe(result, listing.joined(separator: " "), csv: listing.contains("csv"))
        }
        let list = try Cartograph.run(["maps", "list", "--db", store])
        #expect(list.stdout.contains("office \\x1b]0;title\\x07\\u{9b}"), "\(list.stdout)")
        let hosts = try Cartograph.run(["hosts", "--db", store])
        #expect(hosts.stdout.contains("echoHTTP/1.1 200 OK\\r\\nServer: x\\x1b]0;pwned"), "\(hosts.stdout)")

        for probeCommand in [["probes", "list", "--probe-dir", probes.path],
                             ["probes", "show", "echo", "--probe-dir", probes.path],
                             ["probes", "test", probes.appendingPathComponent("echo.lua").path, "127.0.0.1:\(server.port)"]] {
            let result = try Cartograph.run(probeCommand)
            Self.expectSafe(result, probeCommand.prefix(2).joined(separator: " "))
        }
        let test = try Cartograph.run(["probes", "test", probes.appendingPathComponent("echo.lua").path, "127.0.0.1:\(server.port)"])
        #expect(test.stdout.contains("log: "), "\(test.stdout)")
    }

    @Test("error lines that quote a target, a file's contents or a network name escape them")
    func hostileInput() throws {
        let target = try Cartograph.run(["map", "bad\u{1b}]0;pwned\u{07}target!", "--dry-run"])
        #expect(target.status == 64)
        Self.expectSafe(target, "a hostile target")
        #expect(target.stderr.contains("bad\\x1b]"), "\(target.stderr)")

        let file = Cartograph.scratch.appendingPathComponent("hostile-targets.txt")
        try "127.0.0.1\nnot\u{1b}[2J\u{9b}a-target!\n".write(to: file, atomically: true, encoding: .utf8)
        let list = try Cartograph.run(["map", "-iL", file.path, "--dry-run"])
        #expect(list.status == 65, "\(list.stderr)")
        Self.expectSafe(list, "a hostile target file")
        #expect(list.stderr.contains("\(file.path):2:"), "\(list.stderr)")

        let option = try Cartograph.run(["map", "127.0.0.1", "--format", "x\u{1b}[2Jy"])
        #expect(option.status == 64)
        Self.expectSafe(option, "a hostile option value")
    }
}
