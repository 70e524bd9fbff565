import CartographTestSupport
import Foundation
import Testing

/// Ctrl-C (SIGINT) and SIGTERM at each stage of a map on loopback: the map ends with exit 130,
/// the report is written and parses, and the store holds what was found, marked interrupted.
/// The harness waits at most 10 s for the end, so a stage that ignores the signal fails the test
/// instead of hanging it.
@Suite("Ctrl-C and SIGTERM at every stage", .serialized)
struct InterruptTests {
    static func json(_ text: String) -> Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }

    /// The report file's first map, and the store's first map (from `maps list`).
    static func outcome(report: String, db: String) throws -> (report: [String: Any]?, stored: [String: Any]?) {
        let text = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        let map = ((json(text) as? [String: Any])?["maps"] as? [[String: Any]])?.first
        let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        return (map, (json(list.stdout) as? [[String: Any]])?.first)
    }

    static func files(_ name: String) -> (db: String, report: String) {
        (Cartograph.freshStore(name), Cartograph.scratch.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(6)).json").path)
    }

    @Test("SIGINT during the live host sweep", arguments: [SIGINT, SIGTERM])
    func sweep(signal: Int32) throws {
        let (db, report) = Self.files("sweep\(signal)")
        // Slow on purpose: 65536 loopback addresses at 300 connects per second.
        let run = try InterruptedRun.run(["map", "127.1.0.0/16", "-p", "9", "-n", "--engine", "connect", "--rate", "300",
                                          "--db", db, "--format", "json", "-o", report],
                                         stage: "sweep", signal: signal) { ($0["hosts_found"] as? Int ?? 0) > 0 }
        #expect(run.reachedStage, "the sweep never found a host: \(run.stderr)")
        #expect(run.status == 130, "exit \(run.status): \(run.stderr)")
        let (map, stored) = try Self.outcome(report: report, db: db)
        #expect(map?["status"] as? String == "interrupted", "report: \(String(describing: map))")
        #expect(((map?["hosts"] as? [Any])?.count ?? 0) > 0, "the report keeps the hosts found")
        #expect(stored?["status"] as? String == "interrupted")
        #expect((stored?["hosts"] as? Int ?? 0) > 0, "the store keeps the hosts found")
    }

    @Test("SIGINT during a port scan of every port")
    func scan() throws {
        let (db, report) = Self.files("scan")
        let run = try InterruptedRun.run(["map", "127.0.0.1", "-p", "1-65535", "-n", "--engine", "connect", "--rate", "500",
                                          "--db", db, "--format", "json", "-o", report],
                                         stage: "scan") { ($0["done"] as? Int ?? 0) > 0 }
        #expect(run.reachedStage, "\(run.stderr)")
        #expect(run.status == 130, "exit \(run.status): \(run.stderr)")
        let (map, stored) = try Self.outcome(report: report, db: db)
        #expect(map?["status"] as? String == "interrupted")
        #expect((map?["hosts"] as? [[String: Any]])?.first?["address"] as? String == "127.0.0.1", "the swept host is kept")
        #expect(stored?["status"] as? String == "interrupted")
    }

    @Test("SIGINT while reverse lookups wait for a resolver that never answers")
    func silentResolver() throws {
        let resolver = try SilentUDP(address: "127.0.0.77", port: 53)
        let listener = try LoopbackServer { connection in connection.write("SSH-2.0-OpenSSH_9.2p1\r\n") }
        let (db, report) = Self.files("dns")
        let run = try InterruptedRun.run(["map", "127.0.0.1", "-p", "\(listener.port)", "--dns-servers", "127.0.0.77",
                                          "--engine", "connect", "--probes", "none", "--db", db, "--format", "json", "-o", report],
                                         stage: "names")
        #expect(run.reachedStage, "\(run.stderr)")
        #expect(run.status == 130, "exit \(run.status): \(run.stderr)")
        #expect(resolver.received > 0, "the lookups went to the silent resolver")
        let (map, stored) = try Self.outcome(report: report, db: db)
        #expect(map?["status"] as? String == "interrupted")
        let services = (map?["hosts"] as? [[String: Any]])?.first?["services"] as? [[String: Any]]
        #expect(services?.first?["port"] as? Int == Int(listener.port), "the open port found before is kept")
        #expect(stored?["status"] as? String == "interrupted")
        #expect(stored?["open_ports"] as? Int == 1, "\(String(describing: stored))")
    }

    @Test("SIGINT while probes wait on a service that never speaks")
    func identification() throws {
        let silent = try LoopbackServer { connection in connection.idle() }
        let (db, report) = Self.files("identify")
        let run = try InterruptedRun.run(["map", "127.0.0.1", "-p", "\(silent.port)", "-n", "--engine", "connect",
                                          "--db", db, "--format", "json", "-o", report],
                                         stage: "identification")
        #expect(run.reachedStage, "\(run.stderr)")
        #expect(run.status == 130, "exit \(run.status): \(run.stderr)")
        let (map, stored) = try Self.outcome(report: report, db: db)
        #expect(map?["status"] as? String == "interrupted")
        #expect(((map?["hosts"] as? [[String: Any]])?.first?["services"] as? [Any])?.count == 1)
        #expect(stored?["status"] as? String == "interrupted")
    }

    @Test("SIGINT while a webhook never answers: the finished map's report and row stay")
    func notification() throws {
        let hook = try LoopbackServer { connection in connection.idle() }
        let settings = Cartograph.scratch.appendingPathComponent("hang-\(UUID().uuidString.prefix(6)).yaml")
        try "retries: 3\nretry_delay_ms: 5000\nwebhook:\n  url: http://127.0.0.1:\(hook.port)/hook\n"
            .write(to: settings, atomically: true, encoding: .utf8)
        let listener = try LoopbackServer { connection in connection.write("SSH-2.0-OpenSSH_9.2p1\r\n") }
        let (db, report) = Self.files("notify")
        let run = try InterruptedRun.run(["map", "127.0.0.1", "-p", "\(listener.port)", "-n", "--engine", "connect",
                                          "--notifications", settings.path, "--db", db, "--format", "json", "-o", report],
                                         stage: "summary")
        #expect(run.reachedStage, "\(run.stderr)")
        #expect(run.status == 130, "exit \(run.status): \(run.stderr)")
        let (map, stored) = try Self.outcome(report: report, db: db)
        #expect(map?["status"] as? String == "complete", "the map had finished before the signal")
        #expect(stored?["status"] as? String == "complete")
        #expect(stored?["open_ports"] as? Int == 1)
    }
}
