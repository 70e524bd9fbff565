import CartographTestSupport
import Foundation
import Testing

/// The scanner fleet on the real PostgreSQL server (Scripts/pg.sh): `cartograph agent` processes
/// take queued maps of loopback addresses, a SIGKILLed agent's map is finished by another from its
/// checkpoint, `--scanner all` splits one map between two agents, and a schedule fires once with
/// three agents up.
@Suite("The scanner fleet on PostgreSQL", .serialized)
struct FleetCommandTests {
    static func agent(_ name: String, db: String, extra: [String] = []) throws -> Process {
        try StoreCommandTests.launch(["agent", "--network", "default", "--scanner", name, "--db", db, "--poll", "0.3", "--heartbeat", "1"] + extra)
    }

    static func jobs(_ server: PostgresServer, _ database: String) throws -> [[String]] {
        try server.psql("SELECT id, status, coalesce(claimed_by, ''), attempts, coalesce(map_id, 0), coalesce(split_of, 0) FROM job ORDER BY id",
                        database: database)
            .split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    static func database(_ server: PostgresServer, _ prefix: String) throws -> (String, String) {
        let name = try server.createDatabase(prefix)
        return (name, server.socketURL(name))
    }

    @Test("map --queue, then an agent runs it: the job is done, its map complete in the store")
    func queuedAndRun() throws {
        let server = try PostgresServer.require()
        let (name, db) = try Self.database(server, "fleetrun")
        let ssh = try StoreCommandTests.banner("SSH-2.0-OpenSSH_9.2p1\r\n")
        defer { ssh.stop() }
        let queued = try Cartograph.run(["map", "127.0.0.1", "-p", "\(ssh.port)", "-n", "--engine", "connect", "--db", db, "--queue"])
        #expect(queued.status == 0 && queued.stdout.contains("queued job 1"), "\(queued.stdout) \(queued.stderr)")
        let agent = try Self.agent("sa-one", db: db, extra: ["--exit-when-idle"])
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0)
        let jobs = try Self.jobs(server, name)
        #expect(jobs.count == 1 && jobs[0][1] == "done" && jobs[0][2] == "sa-one" && jobs[0][3] == "1", "\(jobs)")
        let show = try Cartograph.run(["maps", "show", jobs.first?[4] ?? "0", "--db", db])
        #expect(show.stdout.contains("\(ssh.port)/tcp") && show.stdout.contains("ssh"), "\(show.stdout) \(show.stderr)")
        let scanners = try Cartograph.run(["scanners", "--db", db])
        #expect(scanners.stdout.contains("sa-one") && scanners.stdout.contains("stopped"), "\(scanners.stdout)")
    }

    @Test("an agent SIGKILLed mid-map: its lease runs out and another agent finishes the same map, every host once")
    func takeover() throws {
        let server = try PostgresServer.require()
        let (name, db) = try Self.database(server, "fleetkill")
        // Silent listeners: each costs identification its timeouts, so the map takes a while.
        let silent = try (0..<12).map { _ in try LoopbackServer { connection in connection.idle() } }
        defer { silent.forEach { $0.stop() } }
        let ports = silent.map { String($0.port) }.joined(separator: ",")
        let queued = try Cartograph.run(["map", "127.0.0.1-4", "-p", ports, "-n", "--engine", "connect", "--db", db, "--queue"])
        #expect(queued.status == 0, "\(queued.stderr)")
        let first = try Self.agent("killed", db: db, extra: ["--lease", "2"])
        let started = try Poll.until {
            let count = try server.psql("SELECT count(*) FROM host JOIN job ON job.map_id = host.map_id", database: name)
            return Int(count) ?? 0 > 0
        }
        #expect(started, "the first agent never checkpointed hosts")
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let second = try Self.agent("survivor", db: db, extra: ["--lease", "2", "--exit-when-idle"])
        second.waitUntilExit()
        let jobs = try Self.jobs(server, name)
        #expect(jobs.count == 1 && jobs[0][1] == "done" && jobs[0][2] == "survivor" && jobs[0][3] == "2", "\(jobs)")
        let mapID = jobs.first?[4] ?? "0"
        #expect(try server.psql("SELECT count(*) FROM map", database: name) == "1", "the same map was continued, not a second one")
        #expect(try server.psql("SELECT status FROM map WHERE id = \(mapID)", database: name) == "complete")
        let hosts = try server.psql("SELECT count(*), count(DISTINCT address) FROM host WHERE map_id = \(mapID)", database: name)
        #expect(hosts == "4|4", "every host exactly once: \(hosts)")
    }

    @Test("SIGTERM: the agent stops its map, gives the job back to the queue, and says it stopped")
    func terminated() throws {
        let server = try PostgresServer.require()
        let (name, db) = try Self.database(server, "fleetterm")
        let silent = try (0..<12).map { _ in try LoopbackServer { connection in connection.idle() } }
        defer { silent.forEach { $0.stop() } }
        _ = try Cartograph.run(["map", "127.0.0.1-4", "-p", silent.map { String($0.port) }.joined(separator: ","), "-n",
                                "--engine", "connect", "--db", db, "--queue"])
        let agent = try Self.agent("polite", db: db)
        #expect(Poll.until { (try? Self.jobs(server, name))?.first?[1] == "running" })
        kill(agent.processIdentifier, SIGTERM)
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0)
        let jobs = try Self.jobs(server, name)
        #expect(jobs.first?[1] == "queued", "\(jobs)")
        #expect(try server.psql("SELECT state FROM scanner WHERE name = 'polite'", database: name) == "stopped")
    }

    @Test("--scanner all with two agents up: one map split in two shards, one per agent, merged into one map")
    func sharedMap() throws {
        let server = try PostgresServer.require()
        let (name, db) = try Self.database(server, "fleetall")
        let ssh = try StoreCommandTests.banner("SSH-2.0-OpenSSH_9.2p1\r\n")
        defer { ssh.stop() }
        let agents = try ["left", "right"].map { try Self.agent($0, db: db) }
        defer { agents.forEach { kill($0.processIdentifier, SIGKILL); $0.waitUntilExit() } }
        #expect(Poll.until { (try? server.psql("SELECT count(*) FROM scanner", database: name)) == "2" })
        let queued = try Cartograph.run(["map", "127.0.0.1-16", "-p", "\(ssh.port)", "-n", "--engine", "connect", "--db", db,
                                         "--scanner", "all"])
        #expect(queued.status == 0 && queued.stdout.contains("shared by"), "\(queued.stdout) \(queued.stderr)")
        let ended = try Poll.until { try Self.jobs(server, name).first?[1] == "done" }
        #expect(ended, "\((try? Self.jobs(server, name)) ?? [])")
        let jobs = try Self.jobs(server, name)
        let shards = jobs.filter { $0[5] != "0" }
        #expect(shards.count == 2 && Set(shards.map { $0[2] }) == ["left", "right"], "each agent ran one shard: \(jobs)")
        let maps = try server.psql("SELECT id FROM map", database: name)
        #expect(maps == jobs.first?[4], "only the merged map is left: \(maps)")
        let hosts = try server.psql("SELECT count(*), count(DISTINCT address) FROM host WHERE map_id = \(maps)", database: name)
        #expect(hosts == "16|16", "\(hosts)")
    }

    @Test("a due schedule with three agents up is queued once")
    func scheduleOnce() throws {
        let server = try PostgresServer.require()
        let (name, db) = try Self.database(server, "fleetsched")
        let added = try Cartograph.run(["schedule", "add", "hourly", "--every", "1h", "--db", db, "127.0.0.1", "-p", "9", "-n",
                                        "--engine", "connect", "--probes", "none"])
        #expect(added.status == 0, "\(added.stdout) \(added.stderr)")
        let agents = try ["s1", "s2", "s3"].map { try Self.agent($0, db: db) }
        defer { agents.forEach { kill($0.processIdentifier, SIGKILL); $0.waitUntilExit() } }
        #expect(Poll.until { (try? Self.jobs(server, name))?.first?[1] == "done" })
        usleep(2_000_000)   // three heartbeats of every agent: each looked at the schedules again
        #expect(try Self.jobs(server, name).count == 1)
        let list = try Cartograph.run(["schedule", "list", "--db", db])
        #expect(list.stdout.contains("hourly") && list.stdout.contains("1h"), "\(list.stdout)")
        #expect(try server.psql("SELECT fired, next_at > now() FROM schedule", database: name) == "1|t")
    }

    @Test("map --resume ID continues a SIGKILLed map under its own id to complete, every host once; a complete map is refused")
    func resume() throws {
        let db = Cartograph.freshStore()
        let silent = try (0..<12).map { _ in try LoopbackServer { connection in connection.idle() } }
        defer { silent.forEach { $0.stop() } }
        let process = try StoreCommandTests.launch(["map", "127.0.0.1-4", "-p", silent.map { String($0.port) }.joined(separator: ","),
                                                    "-n", "--engine", "connect", "--db", db])
        let checkpointed = try Poll.until {
            let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
            return ((try? StoreCommandTests.json(list.stdout) as? [[String: Any]])?.first?["hosts"] as? Int ?? 0) > 0
        }
        #expect(checkpointed)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let resumed = try Cartograph.run(["map", "--resume", "1", "--db", db, "--format", "json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        let maps = try #require(try StoreCommandTests.json(list.stdout) as? [[String: Any]])
        #expect(maps.count == 1 && maps.first?["status"] as? String == "complete" && maps.first?["hosts"] as? Int == 4, "\(maps)")
        let again = try Cartograph.run(["map", "--resume", "1", "--db", db])
        #expect(again.status == 64 && again.stderr.contains("is complete"), "\(again.stderr)")
    }

    @Test("bad fleet input: --queue on a SQLite file, --scanner all with no agent up, an unknown job: one line each")
    func badInput() throws {
        let sqlite = try Cartograph.run(["map", "127.0.0.1", "-p", "9", "-n", "--queue", "--db", Cartograph.freshStore()])
        #expect(sqlite.status == 64 && sqlite.stderr.contains("PostgreSQL"), "\(sqlite.stderr)")
        #expect(sqlite.stderr.split(separator: "\n").count == 1)
        let server = try PostgresServer.require()
        let (_, db) = try Self.database(server, "fleetbad")
        let none = try Cartograph.run(["map", "127.0.0.1", "-p", "9", "-n", "--scanner", "all", "--db", db])
        #expect(none.status == 64 && none.stderr.contains("no scanner of network default is up"), "\(none.stderr)")
        let cancel = try Cartograph.run(["queue", "cancel", "42", "--db", db])
        #expect(cancel.status == 64 && cancel.stderr.contains("no queued or running job 42"), "\(cancel.stderr)")
        let report = try Cartograph.run(["map", "127.0.0.1", "--queue", "-o", "/tmp/x.json", "--db", db])
        #expect(report.status == 64 && report.stderr.contains("no report here"), "\(report.stderr)")
    }
}
