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
        // Slow on purpose: 65536 loopback addresses at 300 connects per second.
        let process = try Self.launch(["map", "127.1.0.0/16", "-p", "9", "-n", "--engine", "connect", "--rate", "300", "--db", db])

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

    /// Starts `cartograph ARGS` without waiting, under `umask` when given (through sh).
    static func launch(_ arguments: [String], umask: String? = nil) throws -> Process {
        let process = Process()
        if let umask {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "umask \(umask) && exec \"$0\" \"$@\"", Cartograph.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Cartograph.binary)
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["CARTOGRAPH_HOME"] = Cartograph.packageRoot.path
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func mode(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_mode & 0o7777) : nil
    }

    static func digest(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    @Test("ten maps started together on one new store are all kept, each complete (three rounds)")
    func concurrentFreshStore() throws {
        let ssh = try Self.banner("SSH-2.0-OpenSSH_9.2p1\r\n")
        for round in 0..<3 {
            // A new directory too: creating it, the file, WAL and the schema all race.
            let db = Cartograph.scratch.appendingPathComponent("concurrent-\(round)-\(UUID().uuidString.prefix(8))/maps.sqlite").path
            let processes = try (0..<10).map { index in
                try Self.launch(["map", "127.0.0.1", "-p", "\(ssh.port)", "-n", "--engine", "connect", "--db", db,
                                 "--title", "concurrent \(index)", "--progress", "none"])
            }
            for process in processes { process.waitUntilExit() }
            #expect(processes.allSatisfy { $0.terminationStatus == 0 }, "round \(round): \(processes.map(\.terminationStatus))")
            let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
            let maps = try #require(try Self.json(list.stdout) as? [[String: Any]])
            #expect(maps.count == 10, "round \(round): \(maps.count) of 10 maps kept")
            #expect(Set(maps.compactMap { $0["title"] as? String }) == Set((0..<10).map { "concurrent \($0)" }))
            #expect(maps.allSatisfy { $0["status"] as? String == "complete" && $0["open_ports"] as? Int == 1 }, "\(maps)")
        }
        ssh.stop()
    }

    @Test("-o naming the store, its -wal or -shm (by path, relative path or symlink) is refused before anything runs")
    func reportOverStore() throws {
        let db = Cartograph.freshStore()
        let first = try Self.mapLoopback([1], db: db, extra: ["--probes", "none"])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try #require(Self.digest(db))
        let link = Cartograph.scratch.appendingPathComponent("store-link-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: db)
        let dir = (db as NSString).deletingLastPathComponent
        let relative = dir + "/./../" + (dir as NSString).lastPathComponent + "/" + (db as NSString).lastPathComponent
        for output in [db, db + "-wal", db + "-shm", link, relative] {
            for command in [["map", "127.0.0.1", "-p", "1", "-n", "--engine", "connect", "--probes", "none"], ["maps", "report"]] {
                let result = try Cartograph.run(command + ["--db", db, "-o", output])
                #expect(result.status == 64, "\(command) -o \(output): \(result.stderr)")
                let lines = result.stderr.split(separator: "\n")
                #expect(lines.count == 1 && lines[0].contains("that is the map store"), "\(result.stderr)")
            }
        }
        #expect(Self.digest(db) == before, "the store is untouched")
        let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        #expect((try Self.json(list.stdout) as? [[String: Any]])?.count == 1, "no map was added: \(list.stdout)")
    }

    @Test("an unwritable -o (missing directory, a directory, a directory nobody may write) is refused before the scan")
    func unwritableReport() throws {
        let db = Cartograph.freshStore()
        #expect(try Self.mapLoopback([1], db: db, extra: ["--probes", "none"]).status == 0)
        let before = try #require(Self.digest(db))
        let locked = Cartograph.scratch.appendingPathComponent("locked-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true)
        // Immutable: even root cannot make a file in it.
        #expect(try Self.shell("chattr +i '\(locked)'") == 0)
        defer { _ = try? Self.shell("chattr -i '\(locked)'") }
        let cases = [("/nonexistent-\(getpid())/report.txt", "No such file or directory"),
                     (Cartograph.scratch.path, "Is a directory"), (locked + "/report.txt", "Operation not permitted")]
        for (output, reason) in cases {
            let result = try Cartograph.run(["map", "127.0.0.1", "-p", "1", "-n", "--engine", "connect", "--probes", "none",
                                             "--db", db, "-o", output])
            #expect(result.status == 64, "-o \(output): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("-o \(output): cannot write the report there: \(reason)"), "\(result.stderr)")
        }
        #expect(Self.digest(db) == before, "no scan ran: the store is untouched")
        let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        #expect((try Self.json(list.stdout) as? [[String: Any]])?.count == 1)
    }

    static func shell(_ command: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test("the store's directory is made 0700, the store, -wal and -shm 0600, reports 0600, whatever the umask",
          arguments: ["000", "022", "077"])
    func permissions(umask: String) throws {
        let dir = Cartograph.scratch.appendingPathComponent("perm-\(umask)-\(UUID().uuidString.prefix(8))")
        let db = dir.appendingPathComponent("inner/maps.sqlite").path
        let report = dir.path + "-report.txt"
        // Slow on purpose, so the -wal and -shm files exist while it runs.
        let process = try Self.launch(["map", "127.1.0.0/16", "-p", "9", "-n", "--engine", "connect", "--rate", "300",
                                       "--db", db, "-o", report], umask: umask)
        var seen = false
        for _ in 0..<300 where !seen {
            usleep(100_000)
            seen = FileManager.default.fileExists(atPath: db + "-wal") && FileManager.default.fileExists(atPath: db + "-shm")
        }
        #expect(seen, "the map never opened its store")
        #expect(Self.mode(dir.path) == 0o700)
        #expect(Self.mode(dir.appendingPathComponent("inner").path) == 0o700)
        for file in [db, db + "-wal", db + "-shm"] { #expect(Self.mode(file) == 0o600, "\(file) under umask \(umask)") }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let mapped = try Self.launch(["map", "127.0.0.1", "-p", "1", "-n", "--engine", "connect", "--probes", "none",
                                      "--db", db, "-o", report], umask: umask)
        mapped.waitUntilExit()
        #expect(mapped.terminationStatus == 0)
        #expect(Self.mode(report) == 0o600, "the report under umask \(umask)")
        let reported = try Self.launch(["maps", "report", "--db", db, "-o", report + ".2"], umask: umask)
        reported.waitUntilExit()
        #expect(reported.terminationStatus == 0)
        #expect(Self.mode(report + ".2") == 0o600)
    }

    /// Starts a slow map (65536 loopback addresses at 300 connects per second) and waits until
    /// the store shows it running.
    static func startSlowMap(db: String) throws -> Process {
        let process = try launch(["map", "127.1.0.0/16", "-p", "9", "-n", "--engine", "connect", "--rate", "300", "--db", db])
        var running = false
        for _ in 0..<300 where !running {
            usleep(100_000)
            let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
            running = (try? json(list.stdout) as? [[String: Any]])?.first?["status"] as? String == "running"
        }
        #expect(running, "the map never showed up running")
        return process
    }

    /// Runs `cartograph ARGS` with `directory` mounted read-only over itself, in a mount
    /// namespace of its own (root bypasses permission bits, not a read-only mount).
    static func readOnly(_ directory: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let quoted = ([Cartograph.binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["-m", "/bin/sh", "-c", "mount --bind -o ro '\(directory)' '\(directory)' && exec \(quoted)"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stderr = err.fileHandleForReading
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = stderr.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdoutData, as: UTF8.self), String(decoding: stderrData, as: UTF8.self))
    }

    @Test("a store on a read-only medium or an immutable file is read, never migrated or marked; a note says what it would do")
    func readOnlyStore() throws {
        let dir = Cartograph.scratch.appendingPathComponent("readonly-\(UUID().uuidString.prefix(8))").path
        let db = dir + "/maps.sqlite"
        let ssh = try Self.banner("SSH-2.0-OpenSSH_9.2p1\r\n")
        #expect(try Self.mapLoopback([ssh.port], db: db).status == 0)
        // A second map killed mid-run: its row stays `running` with a dead pid.
        let process = try Self.startSlowMap(db: db)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let files = [db, db + "-wal", db + "-shm"]
        let before = files.map(Self.digest)

        let list = try Self.readOnly(dir, ["maps", "list", "--db", db, "--format", "json"])
        #expect(list.status == 0, "\(list.stderr)")
        let maps = try #require(try Self.json(list.stdout) as? [[String: Any]])
        #expect(maps.map { $0["status"] as? String } == ["running", "complete"], "a read-only store is not marked")
        #expect(list.stderr.contains("is read-only: map 2 looks interrupted (its process is gone) but stays marked running"), "\(list.stderr)")
        let show = try Self.readOnly(dir, ["maps", "show", "1", "--db", db])
        #expect(show.status == 0 && show.stdout.contains("\(ssh.port)/tcp"), "\(show.stderr)")
        let report = try Self.readOnly(dir, ["maps", "report", "1", "--db", db, "--format", "csv"])
        #expect(report.status == 0 && report.stdout.contains("\(ssh.port),tcp"), "\(report.stderr)")
        #expect(files.map(Self.digest) == before, "nothing was written")

        // An immutable store file (its directory writable): read as it is, too.
        #expect(try Self.shell("chattr +i '\(db)'") == 0)
        let immutable = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        _ = try Self.shell("chattr -i '\(db)'")
        #expect(immutable.status == 0, "\(immutable.stderr)")
        #expect((try? Self.json(immutable.stdout) as? [[String: Any]])?.first?["status"] as? String == "running")

        // Writable again: the dead map is marked at the next open.
        let after = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        #expect((try Self.json(after.stdout) as? [[String: Any]])?.first?["status"] as? String == "interrupted")
        ssh.stop()
    }

    @Test("maps diff calls a port closed only when the newer map scanned it, notes different port lists, skips running maps")
    func honestDiff() throws {
        let db = Cartograph.freshStore()
        let ssh = try Self.banner("SSH-2.0-OpenSSH_9.2p1\r\n")
        let ftp = try Self.banner("220 (vsFTPd 3.0.3)\r\n")
        #expect(try Self.mapLoopback([ssh.port, ftp.port], db: db).status == 0)
        // The newer map scans only the ssh port: the ftp port is not closed, just not scanned.
        let second = try Cartograph.run(["map", "127.0.0.1", "-p", "\(ssh.port)", "-n", "--engine", "connect", "--db", db])
        #expect(second.status == 0)
        #expect(second.stderr.contains("1 not scanned this time") && !second.stderr.contains("1 closed"), "the trend: \(second.stderr)")
        let diff = try Cartograph.run(["maps", "diff", "--db", db])
        #expect(diff.stdout.contains("? 127.0.0.1 \(ftp.port)/tcp: not scanned in the newer map, was ftp"), "\(diff.stdout)")
        #expect(!diff.stdout.contains("closed,"), "\(diff.stdout)")
        #expect(diff.stdout.contains("note: the maps scanned different port lists"), "\(diff.stdout)")
        ssh.stop()
        ftp.stop()
        // Both ports scanned, both gone: closed.
        #expect(try Self.mapLoopback([ssh.port, ftp.port], db: db).status == 0)
        let closed = try Cartograph.run(["maps", "diff", "1", "3", "--db", db])
        #expect(closed.stdout.contains("- 127.0.0.1 \(ftp.port)/tcp: closed") && closed.stdout.contains("- 127.0.0.1 \(ssh.port)/tcp: closed"),
                "\(closed.stdout)")

        // A map still running is left out of the default pair and refused by id unless asked for.
        let process = try Self.startSlowMap(db: db)
        let latest = try Cartograph.run(["maps", "diff", "--db", db])
        #expect(latest.stdout.hasPrefix("map 2 → map 3"), "the two newest complete maps: \(latest.stdout)")
        let byID = try Cartograph.run(["maps", "diff", "3", "4", "--db", db])
        #expect(byID.status == 64 && byID.stderr.contains("map 4 is still running"), "\(byID.stderr)")
        let asked = try Cartograph.run(["maps", "diff", "3", "4", "--include-running", "--db", db])
        #expect(asked.status == 0 && asked.stdout.contains("note: the newer map is running"), "\(asked.stdout)\(asked.stderr)")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
