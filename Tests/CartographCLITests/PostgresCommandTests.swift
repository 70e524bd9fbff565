import CartographTestSupport
import Foundation
import Testing

/// The store commands on PostgreSQL (the server of Scripts/pg.sh): a real `cartograph map` of a
/// loopback service kept in a database reached through its socket directory, then read back;
/// the URL from `$CARTOGRAPH_DB` over TCP with the password from `PGPASSWORD` or `~/.pgpass`.
@Suite("The store commands on PostgreSQL")
struct PostgresCommandTests {
    @Test("map --db postgresql:///DB?host=SOCKETDIR keeps the map; maps list and maps show read it back")
    func mapListShow() throws {
        let server = try PostgresServer.require()
        let db = server.socketURL(try server.createDatabase("cli"))
        let ssh = try StoreCommandTests.banner("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        defer { ssh.stop() }
        let mapped = try StoreCommandTests.mapLoopback([ssh.port], db: db, extra: ["--title", "pg check"])
        #expect(mapped.status == 0, "\(mapped.stderr)")
        let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        #expect(list.status == 0, "\(list.stderr)")
        let maps = try #require(try StoreCommandTests.json(list.stdout) as? [[String: Any]])
        #expect(maps.map { $0["id"] as? Int } == [1])
        #expect(maps.first?["title"] as? String == "pg check" && maps.first?["status"] as? String == "complete")
        #expect(maps.first?["hosts"] as? Int == 1 && maps.first?["open_ports"] as? Int == 1)
        let show = try Cartograph.run(["maps", "show", "1", "--db", db])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("\(ssh.port)/tcp") && show.stdout.contains("ssh"), "\(show.stdout)")
        #expect(show.stdout.contains("launched by"), "\(show.stdout)")
        let hosts = try Cartograph.run(["hosts", "--db", db])
        #expect(hosts.stdout.contains("default  127.0.0.1"), "\(hosts.stdout)")
        let name = String(db.split(separator: "?")[0].dropFirst("postgresql:///".count))
        let rows = try server.psql("SELECT count(*) FROM service", database: name)
        #expect(rows == "1", "the map is in PostgreSQL, not in a file")

        // A password in the URL (the socket is trusted, so it is never asked for) stays out of
        // the XML report's command line, the messages and the store.
        let secret = "sekrit-\(UUID().uuidString.prefix(6))"
        let withPassword = "postgresql://postgres:\(secret)@/\(name)?host=\(server.socket)&port=\(server.port)"
        let xml = try Cartograph.run(["map", "127.0.0.1", "-p", "\(ssh.port)", "-n", "--engine", "connect", "--db", withPassword,
                                      "--format", "xml"])
        #expect(xml.status == 0, "\(xml.stderr)")
        #expect(xml.stdout.contains("postgresql://postgres@/\(name)?host=") && !xml.stdout.contains(secret), "\(xml.stdout.prefix(600))")
        #expect(!xml.stderr.contains(secret))
        let dump = try server.psql("SELECT count(*) FROM map WHERE (map::text) LIKE '%\(secret)%'", database: name)
        #expect(dump == "0", "no row holds the password")
    }

    @Test("$CARTOGRAPH_DB over TCP: the password from PGPASSWORD, else ~/.pgpass; a wrong one is refused without printing it")
    func passwords() throws {
        let server = try PostgresServer.require()
        let name = try server.createDatabase("clipw")
        let url = server.tcpURL(name, sslmode: "require")
        let withEnv = try Cartograph.run(["maps", "list"], environment: ["CARTOGRAPH_DB": url, "PGPASSWORD": server.rolePassword])
        #expect(withEnv.status == 0 && withEnv.stdout.contains("no maps in \(url)"), "\(withEnv.stdout) \(withEnv.stderr)")

        let home = Cartograph.scratch.appendingPathComponent("pghome-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let pgpass = home.appendingPathComponent(".pgpass")
        try "127.0.0.1:\(server.port):\(name):\(server.role):\(server.rolePassword)\n".write(to: pgpass, atomically: true, encoding: .utf8)
        chmod(pgpass.path, 0o600)
        let withFile = try Cartograph.run(["maps", "list", "--db", url], environment: ["HOME": home.path])
        #expect(withFile.status == 0, "\(withFile.stderr)")

        let secret = "wrong-\(UUID().uuidString.prefix(6))"
        let withURL = "postgresql://\(server.role):\(secret)@127.0.0.1:\(server.port)/\(name)"
        let refused = try Cartograph.run(["maps", "list", "--db", withURL], environment: ["HOME": "/nonexistent"])
        #expect(refused.status == 66, "\(refused.stderr)")
        #expect(refused.stderr.contains("password authentication failed") && !refused.stderr.contains(secret), "\(refused.stderr)")
        #expect(refused.stderr.contains("postgresql://\(server.role)@127.0.0.1:\(server.port)/\(name)"), "\(refused.stderr)")
    }

    @Test("ten maps started together on a new database are all kept, each complete: its first use migrates once (three rounds)")
    func concurrentFreshDatabase() throws {
        let server = try PostgresServer.require()
        let ssh = try StoreCommandTests.banner("SSH-2.0-OpenSSH_9.2p1\r\n")
        defer { ssh.stop() }
        for round in 0..<3 {
            let db = server.socketURL(try server.createDatabase("together"))
            let processes = try (0..<10).map { index in
                try StoreCommandTests.launch(["map", "127.0.0.1", "-p", "\(ssh.port)", "-n", "--engine", "connect", "--db", db,
                                              "--title", "concurrent \(index)", "--progress", "none"])
            }
            for process in processes { process.waitUntilExit() }
            #expect(processes.allSatisfy { $0.terminationStatus == 0 }, "round \(round): \(processes.map(\.terminationStatus))")
            let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
            let maps = try #require(try StoreCommandTests.json(list.stdout) as? [[String: Any]])
            #expect(maps.count == 10, "round \(round): \(maps.count) of 10 maps kept")
            #expect(Set(maps.compactMap { $0["title"] as? String }) == Set((0..<10).map { "concurrent \($0)" }))
            #expect(maps.allSatisfy { $0["status"] as? String == "complete" && $0["open_ports"] as? Int == 1 }, "\(maps)")
        }
    }

    @Test("a map SIGKILLed mid-run stays running while it runs, and is interrupted once its connection is gone, keeping its hosts")
    func killed() throws {
        let server = try PostgresServer.require()
        let db = server.socketURL(try server.createDatabase("killed"))
        let process = try StoreCommandTests.launch(["map", "127.1.0.0/16", "-p", "9", "-n", "--engine", "connect", "--rate", "300", "--db", db])
        var running: [String: Any]?
        for _ in 0..<300 where running == nil {
            usleep(100_000)
            let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
            if let map = (try? StoreCommandTests.json(list.stdout) as? [[String: Any]])?.first,
               map["status"] as? String == "running", (map["hosts"] as? Int ?? 0) > 0 {
                running = map
            }
        }
        #expect(running != nil, "the map never showed up running with hosts (a reader must not mark a live map interrupted)")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        // The server notices the dead connection (and drops its lock) as soon as the socket closes.
        var map: [String: Any]?
        for _ in 0..<50 {
            let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
            map = (try StoreCommandTests.json(list.stdout) as? [[String: Any]])?.first
            if map?["status"] as? String == "interrupted" { break }
            usleep(100_000)
        }
        #expect(map?["status"] as? String == "interrupted")
        #expect((map?["hosts"] as? Int ?? 0) > 0, "what was found before the kill is kept")
    }
}
