import CartographTestSupport
import Foundation
import Testing

/// The store from the command line: maps saved by `map`, then listed, shown, reported, compared,
/// deleted; bad stores and ids refused in one line. Loopback only.
@Suite("The store from the command line")
struct StoreCommandTests {
    static func banner(_ text: String) throws -> LoopbackServer {
        try LoopbackServer { connection in
            connection.write(text)
            connection.idle()
        }
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    static func mapLoopback(_ ports: [UInt16], db: String, extra: [String] = []) throws -> CommandResult {
        try Cartograph.run(["map", "127.0.0.1", "-p", ports.map(String.init).joined(separator: ","), "-n",
                            "--engine", "connect", "--db", db, "--format", "json"] + extra)
    }

    @Test("map saves each map; maps list, show, report and diff read them back; delete removes one")
    func mapListDiff() throws {
        let db = Cartograph.freshStore()
        let ssh = try Self.banner("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        let ftp = try Self.banner("220 (vsFTPd 3.0.3)\r\n")
        let ports = [ssh.port, ftp.port]

        let first = try Self.mapLoopback(ports, db: db, extra: ["--title", "loopback check"])
        #expect(first.status == 0, "\(first.stderr)")
        let firstMap = try #require(((try Self.json(first.stdout)) as? [String: Any])?["maps"] as? [[String: Any]]).first
        #expect(firstMap?["id"] as? Int == 1)
        #expect(firstMap?["network"] as? String == "default")
        #expect(firstMap?["title"] as? String == "loopback check")
        #expect((firstMap?["hosts"] as? [[String: Any]])?.first?["new"] as? Bool == true)

        ftp.stop()
        let second = try Self.mapLoopback(ports, db: db)
        #expect(second.status == 0, "\(second.stderr)")
        let secondHost = ((try Self.json(second.stdout) as? [String: Any])?["maps"] as? [[String: Any]])?.first?["hosts"] as? [[String: Any]]
        #expect(secondHost?.first?["new"] == nil, "127.0.0.1 was seen by map 1 in this network")

        let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        let maps = try #require(try Self.json(list.stdout) as? [[String: Any]])
        #expect(maps.map { $0["id"] as? Int } == [2, 1], "newest first")
        #expect(maps.map { $0["status"] as? String } == ["complete", "complete"])
        #expect(maps.map { $0["open_ports"] as? Int } == [1, 2])
        let text = try Cartograph.run(["maps", "list", "--db", db])
        #expect(text.stdout.contains("loopback check (none:[127.0.0.1])"), "\(text.stdout)")

        let diff = try Cartograph.run(["maps", "diff", "--db", db])
        #expect(diff.status == 0, "\(diff.stderr)")
        #expect(diff.stdout.contains("map 1 → map 2"), "\(diff.stdout)")
        #expect(diff.stdout.contains("- 127.0.0.1 \(ftp.port)/tcp: closed, was ftp vsftpd 3.0.3"), "\(diff.stdout)")
        #expect(!diff.stdout.contains("\(ssh.port)/tcp"), "an unchanged port is not a change: \(diff.stdout)")

        let show = try Cartograph.run(["maps", "show", "1", "--db", db])
        #expect(show.stdout.contains("launched by"), "\(show.stdout)")
        #expect(show.stdout.contains("tcp_ports: \"\(ports.min()!)"), "the settings as used, with -p applied: \(show.stdout)")
        #expect(show.stdout.contains("\(ftp.port)/tcp"))

        let report = try Cartograph.run(["maps", "report", "--db", db, "--format", "json"])
        let reported = (try Self.json(report.stdout) as? [String: Any])?["maps"] as? [[String: Any]]
        #expect(reported?.first?["id"] as? Int == 2, "the default is the latest map")

        let hosts = try Cartograph.run(["hosts", "--db", db])
        #expect(hosts.stdout.contains("default  127.0.0.1"), "\(hosts.stdout)")
        #expect(hosts.stdout.contains("\(ssh.port)/tcp ssh") && !hosts.stdout.contains("\(ftp.port)/tcp"), "the latest state: \(hosts.stdout)")

        #expect(try Cartograph.run(["maps", "delete", "2", "--db", db]).status == 0)
        let after = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        #expect((try Self.json(after.stdout) as? [[String: Any]])?.count == 1)
        let gone = try Cartograph.run(["maps", "show", "2", "--db", db])
        #expect(gone.status == 66 && gone.stderr.contains("no map 2"), "\(gone.stderr)")
        ssh.stop()
    }

    @Test("a map killed mid-run leaves a readable store with the map marked interrupted")
    func killed() throws {
        let db = Cartograph.freshStore()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Cartograph.binary)
        // Slow on purpose: 65536 loopback addresses at 300 connects per second.
        process.arguments = ["map", "127.1.0.0/16", "-p", "9", "-n", "--engine", "connect", "--rate", "300", "--db", db]
        var environment = ProcessInfo.processInfo.environment
        environment["CARTOGRAPH_HOME"] = Cartograph.packageRoot.path
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()

        // Wait for a checkpoint with hosts in it, while the map runs.
        var running: [String: Any]?
        for _ in 0..<300 where running == nil {
            usleep(100_000)
            let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
            if let map = (try? Self.json(list.stdout) as? [[String: Any]])?.first,
               map["status"] as? String == "running", (map["hosts"] as? Int ?? 0) > 0 {
                running = map
            }
        }
        #expect(running != nil, "the map never showed up running with hosts")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()

        let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        let map = try #require((try Self.json(list.stdout) as? [[String: Any]])?.first)
        #expect(map["status"] as? String == "interrupted")
        #expect((map["hosts"] as? Int ?? 0) > 0, "what was found before the kill is kept")
        let report = try Cartograph.run(["maps", "report", "--db", db, "--format", "json"])
        let hosts = ((try Self.json(report.stdout) as? [String: Any])?["maps"] as? [[String: Any]])?.first?["hosts"] as? [[String: Any]]
        #expect((hosts?.count ?? 0) > 0)
        #expect(hosts?.allSatisfy { ($0["address"] as? String ?? "").hasPrefix("127.1.") } == true)
    }

    @Test("hosts not approved by the inventory are rogue in the report, the diff and hosts")
    func rogue() throws {
        let db = Cartograph.freshStore()
        let ssh = try Self.banner("SSH-2.0-OpenSSH_9.2p1\r\n")
        let inventory = Cartograph.scratch.appendingPathComponent("approved-\(getpid()).yaml")
        try "none:\n  netblocks: [127.0.0.0/8]\n  approved: [127.0.0.1]\n".write(to: inventory, atomically: true, encoding: .utf8)
        let first = try Cartograph.run(["map", "127.0.0.1", "-p", "\(ssh.port)", "-n", "--engine", "connect", "--db", db,
                                        "--inventory", inventory.path, "--format", "json"])
        #expect(first.status == 0, "\(first.stderr)")
        let second = try Cartograph.run(["map", "127.0.0.1,127.0.0.2", "-p", "\(ssh.port)", "-n", "--engine", "connect",
                                         "--db", db, "--inventory", inventory.path])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("127.0.0.2  found by") && second.stdout.contains("[new] [rogue]"), "\(second.stdout)")
        let hosts = try Cartograph.run(["hosts", "--db", db, "--format", "json"])
        let states = try #require(try Self.json(hosts.stdout) as? [[String: Any]])
        let rogue = states.compactMap { $0["host"] as? [String: Any] }.filter { $0["rogue"] as? Bool == true }.compactMap { $0["address"] as? String }
        #expect(rogue == ["127.0.0.2"])
        // Different targets: compare by id.
        let diff = try Cartograph.run(["maps", "diff", "1", "2", "--db", db])
        #expect(diff.stdout.contains("+ host 127.0.0.2: new") && diff.stdout.contains("[rogue, first seen in this network]"), "\(diff.stdout)")
        #expect(diff.stdout.contains("note: the maps differ in target"), "\(diff.stdout)")
        ssh.stop()
    }

    @Test("bad stores, ids and networks are refused in one line", arguments: [
        (["maps", "list", "--db", "/etc/passwd"], Int32(66), "store /etc/passwd: file is not a database"),
        (["maps", "show", "999"], 66, "no map 999"),
        (["maps", "report", "0"], 64, "invalid"),
        (["maps", "diff", "1"], 64, "give two map ids"),
        (["maps", "diff"], 66, "holds no maps yet"),
        (["hosts", "--network", "nowhere"], 64, "no network \"nowhere\""),
        (["map", "127.0.0.1", "--network", "two words", "--dry-run"], 64, "is not a network name"),
    ])
    func badInput(arguments: [String], status: Int32, message: String) throws {
        var arguments = arguments
        if !arguments.contains("--db") && arguments.first != "map" { arguments += ["--db", Cartograph.freshStore()] }
        let result = try Cartograph.run(arguments)
        #expect(result.status == status, "\(arguments): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").first?.contains(message) == true, "the first line says what is wrong: \(result.stderr)")
    }

    @Test("-o writes the file in place (its inode stays), so -o /dev/null or a FIFO stays what it is")
    func outputInPlace() throws {
        let file = Cartograph.scratch.appendingPathComponent("in-place-\(getpid()).txt").path
        try "old contents, longer than the report will be? no: shorter".write(toFile: file, atomically: false, encoding: .utf8)
        let before = try FileManager.default.attributesOfItem(atPath: file)[.systemFileNumber] as? Int
        let result = try Cartograph.run(["map", "127.0.0.1", "-p", "1", "-n", "--engine", "connect", "--probes", "none",
                                         "--db", Cartograph.freshStore(), "-o", file])
        #expect(result.status == 0, "\(result.stderr)")
        let after = try FileManager.default.attributesOfItem(atPath: file)[.systemFileNumber] as? Int
        #expect(before != nil && before == after, "the report replaced the file instead of writing into it")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.hasPrefix("Map 1: none:[127.0.0.1]") && !text.contains("old contents"), "\(text)")
    }

    @Test("a store that cannot be opened costs the history, not the map: the report still comes")
    func storeUnavailable() throws {
        let result = try Cartograph.run(["map", "127.0.0.1", "-p", "1", "-n", "--engine", "connect", "--probes", "none",
                                         "--db", "/etc/passwd", "--format", "json"])
        #expect(result.status == 1, "not saved is a failure to report: \(result.stderr)")
        #expect(result.stderr.contains("store /etc/passwd: file is not a database; maps will not be saved"), "\(result.stderr)")
        #expect(result.stdout.contains("\"address\" : \"127.0.0.1\""), "the report is still written")
    }

    @Test("a network the inventory does not declare is refused, with the nearest declared name")
    func undeclaredNetwork() throws {
        let inventory = Cartograph.scratch.appendingPathComponent("networks-\(getpid()).yaml")
        try "networks:\n  branch:\n    scanner: other\n  lab:\n    description: the lab\n".write(to: inventory, atomically: true, encoding: .utf8)
        let result = try Cartograph.run(["map", "127.0.0.1", "-n", "--inventory", inventory.path, "--network", "brnch",
                                         "--db", Cartograph.freshStore()])
        #expect(result.status == 64)
        #expect(result.stderr.contains("declares no network \"brnch\" (did you mean \"branch\"?)"), "\(result.stderr)")
    }
}
