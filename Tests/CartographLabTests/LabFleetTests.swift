import CartographTestSupport
import Foundation
import Testing

/// The scanner fleet across the lab's three networks (default: cg-scan behind the router;
/// branch: cg-bscan, reusing 198.18.1.2; depot: cg-dscan), each agent in its network's
/// namespace, all on the one PostgreSQL server of Scripts/pg.sh through its socket directory.
extension LabTests {
@Suite("The fleet across lab networks")
struct LabFleetTests {
    static let networks = [(network: "default", namespace: Lab.scanner), (network: "branch", namespace: "cg-bscan"),
                           (network: "depot", namespace: "cg-dscan")]
    static let depotHost = "198.18.20.2"

    /// An agent, `cartograph agent` inside `namespace`; what it prints goes to a log file, read on failure.
    final class Agent {
        let process = Process()
        let log: URL

        init(_ name: String, network: String, namespace: String, db: String, extra: [String] = []) throws {
            log = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-agent-\(name)-\(getpid()).log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            process.arguments = ["netns", "exec", namespace, Cartograph.binary, "agent", "--network", network, "--scanner", name,
                                 "--db", db, "--poll", "0.3", "--heartbeat", "1", "--verbose"] + extra
            var environment = ProcessInfo.processInfo.environment
            environment["CARTOGRAPH_HOME"] = Cartograph.packageRoot.path
            environment["XDG_DATA_HOME"] = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-agent-data").path
            process.environment = environment
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        func kill() {
            guard process.isRunning else { return }
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    static func queue(_ arguments: [String], db: String) throws {
        let queued = try Cartograph.run(["map"] + arguments + ["--db", db])
        #expect(queued.status == 0 && queued.stdout.contains("queued"), "\(queued.stdout) \(queued.stderr)")
    }

    /// Every host of every complete map: "network address [open ports]", sorted.
    static func hosts(_ server: PostgresServer, _ database: String, map: String? = nil) throws -> [String] {
        try server.psql("""
            SELECT m.network || ' ' || h.address || ' [' || coalesce((SELECT string_agg(s.port::text, ',' ORDER BY s.port)
                FROM service s WHERE s.host_id = h.id), '') || ']'
            FROM host h JOIN map m ON m.id = h.map_id WHERE m.status = 'complete' \(map.map { "AND m.id = \($0)" } ?? "")
            ORDER BY 1
            """, database: database).split(separator: "\n").map(String.init)
    }

    @Test("maps queued per network run on that network's agent; the same address in two networks is two hosts")
    func perNetwork() throws {
        try Lab.require(only: [Lab.scanner, "cg-bscan", "cg-dscan"])
        let server = try PostgresServer.require()
        let name = try server.createDatabase("labfleet")
        let db = server.socketURL(name)
        try Self.queue([Lab.h1, "-p", "22,80,6380", "-n", "--probes", "none", "--network", "default", "--queue"], db: db)
        try Self.queue([Lab.h1, "-p", "22,80,6380", "-n", "--probes", "none", "--network", "branch", "--queue"], db: db)
        try Self.queue([Self.depotHost, "-p", "6381", "-n", "--probes", "none", "--network", "depot", "--queue"], db: db)
        // The depot's host queued for the branch: the branch's scanner cannot reach it.
        try Self.queue([Self.depotHost, "-p", "6381", "-n", "--probes", "none", "--network", "branch", "--queue"], db: db)

        let agents = try Self.networks.map {
            try Agent("sa-\($0.network)", network: $0.network, namespace: $0.namespace, db: db, extra: ["--exit-when-idle"])
        }
        defer { agents.forEach { $0.kill() } }
        for agent in agents {
            agent.process.waitUntilExit()
            #expect(agent.process.terminationStatus == 0, "\(agent.output)")
        }
        let jobs = try server.psql("SELECT network || ' ' || target || ' ' || status || ' ' || claimed_by FROM job ORDER BY id", database: name)
        #expect(jobs.split(separator: "\n") == ["default none:[\(Lab.h1)] done sa-default", "branch none:[\(Lab.h1)] done sa-branch",
                                                 "depot none:[\(Self.depotHost)] done sa-depot",
                                                 "branch none:[\(Self.depotHost)] failed sa-branch"],
                "\(jobs)\n\(agents.map(\.output).joined(separator: "\n"))")
        let unreachable = try server.psql("SELECT error FROM job WHERE network = 'branch' AND target LIKE '%\(Self.depotHost)%'", database: name)
        #expect(unreachable.contains("no route to \(Self.depotHost)"), "\(unreachable)")
        let hosts = try Self.hosts(server, name).filter { !$0.hasPrefix("default 198.18.0.1 ") }
        #expect(hosts == ["branch \(Lab.h1) [6380]", "default \(Lab.h1) [22,80]", "depot \(Self.depotHost) [6381]"], "\(hosts)")
    }

    @Test("--scanner all with two agents of the default network: the office /24 split in two shards, merged with every host once")
    func sharedInLab() throws {
        try Lab.require(only: [Lab.scanner, "cg-office"])
        let server = try PostgresServer.require()
        let name = try server.createDatabase("labshare")
        let db = server.socketURL(name)
        let agents = try ["sa-left", "sa-right"].map { try Agent($0, network: "default", namespace: Lab.scanner, db: db) }
        defer { agents.forEach { $0.kill() } }
        #expect(Poll.until(tries: 900) { (try? server.psql("SELECT count(*) FROM scanner WHERE state = 'idle'", database: name)) == "2" })
        try Self.queue(["198.18.240.0/24", "-p", "22", "-n", "--probes", "none", "--scanner", "all", "--network", "default"], db: db)
        let done = Poll.until(tries: 900) { (try? server.psql("SELECT status FROM job WHERE split_of IS NULL", database: name)) == "done" }
        let jobs = (try? server.psql("SELECT id, status, claimed_by, split_of FROM job ORDER BY id", database: name)) ?? ""
        #expect(done, "\(jobs)\n\(agents.map(\.output).joined(separator: "\n"))")
        let shards = try server.psql("SELECT claimed_by FROM job WHERE split_of IS NOT NULL ORDER BY claimed_by", database: name)
        #expect(shards == "sa-left\nsa-right", "each agent ran one shard: \(jobs)")
        let map = try server.psql("SELECT map_id FROM job WHERE split_of IS NULL", database: name)
        let office = try Self.hosts(server, name, map: map).filter { $0.hasPrefix("default 198.18.240.") }
        #expect(office.count == 24 && Set(office).count == 24, "\(office)")
        #expect(office.allSatisfy { $0.hasSuffix(" [22]") }, "\(office)")
        #expect(try server.psql("SELECT count(*) FROM map", database: name) == "1", "the shards' maps are merged into one")
    }

    @Test("an agent SIGKILLed mid-map in the lab: another agent of its network finishes the map, every host exactly once")
    func takeoverInLab() throws {
        try Lab.require(only: [Lab.scanner, "cg-office"])
        let server = try PostgresServer.require()
        let name = try server.createDatabase("labkill")
        let db = server.socketURL(name)
        // A slow map: the office /24 and its ssh and http named, at 200 packets a second.
        try Self.queue(["198.18.240.0/24", "-p", "22,80", "-n", "--rate", "200", "--network", "default", "--queue"], db: db)
        let first = try Agent("sa-killed", network: "default", namespace: Lab.scanner, db: db, extra: ["--lease", "2"])
        defer { first.kill() }
        // Killed once a checkpoint holds a host and a settled part of the sweep's order.
        let started = Poll.until(tries: 900) {
            let row = (try? server.psql("""
                SELECT (SELECT count(*) FROM host WHERE host.map_id = map.id),
                       coalesce(((progress::jsonb)->'sweep'->>'settled')::bigint, 0)
                FROM map JOIN job ON job.map_id = map.id
                """, database: name)) ?? ""
            let numbers = row.split(separator: "|").compactMap { Int($0) }
            return numbers.count == 2 && numbers[0] > 0 && numbers[1] > 0
        }
        #expect(started, "the first agent never checkpointed a host and a settled sweep: \(first.output)")
        let status = try server.psql("SELECT status FROM job", database: name)
        #expect(status == "running", "the map ended before the agent could be killed: \(status)")
        first.kill()
        let second = try Agent("sa-survivor", network: "default", namespace: Lab.scanner, db: db, extra: ["--lease", "2", "--exit-when-idle"])
        defer { second.kill() }
        second.process.waitUntilExit()
        let job = try server.psql("SELECT status || ' ' || claimed_by || ' ' || attempts FROM job", database: name)
        #expect(job == "done sa-survivor 2", "\(job)\n\(second.output)")
        #expect(try server.psql("SELECT count(*) FROM map", database: name) == "1", "the map was continued, not begun again")
        #expect(second.output.contains("the sweep goes on after"), "the survivor swept the whole /24 again: \(second.output)")
        #expect(try server.psql("SELECT progress IS NULL FROM map", database: name) == "t", "a complete map keeps no position")
        let office = try Self.hosts(server, name).filter { $0.hasPrefix("default 198.18.240.") }
        #expect(office.count == 24 && Set(office).count == 24, "every office host exactly once: \(office)")
        #expect(office.allSatisfy { $0.hasSuffix(" [22,80]") || $0.hasSuffix(" [22]") }, "\(office)")
    }

    @Test("a schedule for each lab network, three agents up: each is queued once and run by its own network's agent")
    func schedulesInLab() throws {
        try Lab.require(only: [Lab.scanner, "cg-bscan", "cg-dscan"])
        let server = try PostgresServer.require()
        let name = try server.createDatabase("labsched")
        let db = server.socketURL(name)
        // The branch's 198.18.1.2 is another host than the default network's: it listens on 6380.
        let targets = ["default": (Lab.h1, "22"), "branch": (Lab.h1, "6380"), "depot": (Self.depotHost, "6381")]
        for (network, (target, port)) in targets.sorted(by: { $0.key < $1.key }) {
            let added = try Cartograph.run(["schedule", "add", "every-\(network)", "--every", "1h", "--db", db, target, "-p", port,
                                            "-n", "--probes", "none", "--network", network])
            #expect(added.status == 0, "\(added.stdout) \(added.stderr)")
        }
        let agents = try Self.networks.map { try Agent("sa-\($0.network)", network: $0.network, namespace: $0.namespace, db: db) }
        defer { agents.forEach { $0.kill() } }
        let done = Poll.until(tries: 900) {
            (try? server.psql("SELECT count(*) FROM job WHERE status = 'done'", database: name)) == "3"
        }
        #expect(done, "\((try? server.psql("SELECT * FROM job", database: name)) ?? "")\n\(agents.map(\.output).joined(separator: "\n"))")
        // Every agent has looked at the schedules again since (a heartbeat a second).
        let beats = Poll.until(tries: 900) {
            (try? server.psql("SELECT count(*) FROM scanner WHERE heartbeat_at > (SELECT max(finished_at) FROM job) + interval '2 seconds'", database: name)) == "3"
        }
        #expect(beats, "\((try? server.psql("SELECT * FROM scanner", database: name)) ?? "")")
        let jobs = try server.psql("SELECT network || ' ' || claimed_by || ' ' || status FROM job ORDER BY network", database: name)
        #expect(jobs == "branch sa-branch done\ndefault sa-default done\ndepot sa-depot done", "each schedule queued once, run in its network: \(jobs)")
        #expect(try server.psql("SELECT string_agg(fired::text, ',') FROM schedule", database: name) == "1,1,1")
        let hosts = try Self.hosts(server, name).filter { !$0.hasPrefix("default 198.18.0.1 ") }   // the router on the way
        #expect(hosts == ["branch \(Lab.h1) [6380]", "default \(Lab.h1) [22]", "depot \(Self.depotHost) [6381]"], "\(hosts)")
    }
}
}
