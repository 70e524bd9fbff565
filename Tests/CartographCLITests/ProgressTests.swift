import CartographTestSupport
import Foundation
import Testing

/// Progress on stderr: a live line when asked (or on a terminal), JSON lines for wrappers,
/// nothing but the summary otherwise; the summary names the trend against the last map.
@Suite("Progress and the end-of-map summary")
struct ProgressTests {
    /// A map slow enough to be watched: 4096 loopback addresses at 2,000 connects a second.
    static func slowMap(_ extra: [String], db: String) throws -> CommandResult {
        try Cartograph.run(["map", "127.2.0.0/20", "-p", "9", "-n", "--engine", "connect", "--rate", "2000",
                            "--probes", "none", "--db", db, "-o", "/dev/null"] + extra)
    }

    @Test("--progress json: progress objects per stage with done, total, rate, hosts and ETA, then the summary")
    func json() throws {
        let db = Cartograph.freshStore()
        let result = try Self.slowMap(["--progress", "json"], db: db)
        #expect(result.status == 0, "\(result.stderr)")
        let events = result.stderr.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let progress = events.filter { $0["event"] as? String == "progress" }
        let sweep = progress.filter { $0["stage"] as? String == "sweep" }
        #expect(!sweep.isEmpty, "\(result.stderr)")
        let last = try #require(sweep.last)
        let total = last["total"] as? Int ?? 0
        #expect(total > 0 && total % 4096 == 0, "one unit per address and discovery port: \(last)")
        #expect((last["done"] as? Int ?? 0) > 0 && last["rate_per_second"] as? Double != nil && last["hosts_found"] != nil)
        #expect(sweep.contains { $0["eta_seconds"] != nil })
        let summary = try #require(events.last, "no summary")
        #expect(summary["event"] as? String == "summary")
        let map = try #require(summary["map"] as? [String: Any])
        #expect(map["map_id"] as? Int == 1 && map["hosts_found"] as? Int == 4096, "\(map)")
        #expect(map["trend"] == nil, "the first map of its target has no trend")
    }

    @Test("--progress line draws a line that rewrites itself; without a terminal only the summary is printed")
    func line() throws {
        let db = Cartograph.freshStore()
        let drawn = try Self.slowMap(["--progress", "line"], db: db)
        #expect(drawn.status == 0)
        #expect(drawn.stderr.contains("\r\u{1B}[Ksweep"), "\(drawn.stderr.debugDescription.prefix(400))")
        #expect(drawn.stderr.contains("hosts ") && drawn.stderr.contains("/s"))

        let quiet = try Self.slowMap([], db: db)
        #expect(!quiet.stderr.contains("\r"), "no terminal, no progress line: \(quiet.stderr.debugDescription.prefix(300))")
        let lines = quiet.stderr.split(separator: "\n")
        let summary = try #require(lines.last.map(String.init))
        #expect(summary.hasPrefix("cartograph: map 2 none:[127.2.0.0/20] (network default): complete in "), "\(summary)")
        #expect(summary.contains("4096 hosts, 0 open ports, 0 services identified"), "\(summary)")
        #expect(summary.contains("trend: +0 hosts, +0 open ports (no changes) since map 1"), "\(summary)")
    }
}
