import CartographTestSupport
import Foundation
import Testing

/// The binary, run as a user would, with input that is wrong in one way each.
@Suite("Bad input gets one clear line")
struct BadInputTests {
    static let scratch: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-cli-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try? "name: typo\nperformance:\n  rtt_timout: 5\n".write(to: dir.appendingPathComponent("typo.yaml"), atomically: true, encoding: .utf8)
        try? "127.0.0.1\n10.0.0.999\n".write(to: dir.appendingPathComponent("targets.txt"), atomically: true, encoding: .utf8)
        try? "127.0.0.1/33\n".write(to: dir.appendingPathComponent("exclude.txt"), atomically: true, encoding: .utf8)
        try? "domains:\n  example.com:\n    netblock: [10.0.0.0/24]\n".write(to: dir.appendingPathComponent("inventory.yaml"), atomically: true, encoding: .utf8)
        return dir
    }()

    static let cases: [([String], Int32, String)] = [
        (["map", "10.0.0.300", "--dry-run"], 64, "invalid target \"10.0.0.300\": octet 300 is out of range (0-255)"),
        (["map", "10.0.0.1-10.0.0.0", "--dry-run"], 64, "invalid target \"10.0.0.1-10.0.0.0\": range ends"),
        (["map", "ex ample.com:[10.0.0.0/8", "--dry-run"], 64, "missing \"]\""),
        (["map", "--profile", "nosuch", "127.0.0.1", "--dry-run"], 64, "unknown profile \"nosuch\" (available: default, discovery-only, fast, low-impact, thorough)"),
        (["map", "--profile", "defualt", "127.0.0.1", "--dry-run"], 64, "did you mean \"default\"?"),
        (["map", "--profile", scratch.appendingPathComponent("typo.yaml").path, "127.0.0.1", "--dry-run"], 65,
         "typo.yaml:3: unknown key \"performance.rtt_timout\""),
        (["map", "-p", "70000", "127.0.0.1", "--dry-run"], 64, "invalid port specification \"70000\": port 70000 is out of range (1-65535)"),
        (["map", "-p", "22,,80", "127.0.0.1", "--dry-run"], 64, "empty item between commas"),
        (["map", "--probe-dir", "/nonexistent-probes", "127.0.0.1", "-p", "1", "-n"], 66, "probe directory /nonexistent-probes: probe directory does not exist"),
        (["map", "-iL", "/nonexistent-targets"], 66, "cannot read target list /nonexistent-targets"),
        (["map", "-iL", scratch.appendingPathComponent("targets.txt").path, "--dry-run"], 65, "targets.txt:2: invalid target \"10.0.0.999\""),
        (["map", "--exclude-file", scratch.appendingPathComponent("exclude.txt").path, "127.0.0.1", "--dry-run"], 65, "exclude.txt:1: invalid target \"127.0.0.1/33\""),
        (["map", "--exclude", "10.0.0.999", "127.0.0.1", "--dry-run"], 64, "--exclude: invalid target \"10.0.0.999\""),
        (["map", "-n", "example.com", "--dry-run"], 64, "target \"example.com\" is a name, but DNS traffic is disabled"),
        (["map", "127.0.0.1", "--dns-servers", "192.0.2.1,bogus", "--dry-run"], 64, "--dns-servers: \"bogus\" is not an IP address"),
        (["map", "--inventory", scratch.appendingPathComponent("inventory.yaml").path, "127.0.0.1", "--dry-run"], 65,
         "inventory.yaml:3: unknown key \"domains.example.com.netblock\" (did you mean \"netblocks\"?)"),
        (["map", "--inventory", "/nonexistent-inventory.yaml", "127.0.0.1", "--dry-run"], 66, "inventory file /nonexistent-inventory.yaml does not exist"),
        (["map", "@office", "--dry-run"], 64, "asset group \"@office\" is unknown: no inventory was loaded"),
        (["map", "--rate=-5", "127.0.0.1"], 64, "--rate must be 0 or more"),
        (["map"], 64, "no targets"),
        (["profiles", "show", "nosuch"], 64, "unknown profile \"nosuch\""),
        (["probes", "show", "htpp"], 64, "no probe named \"htpp\"; did you mean \"http\"?"),
        (["probes", "test", Cartograph.packageRoot.appendingPathComponent("Probes/ssh.lua").path, "127.0.0.1:22", "--timeout=-5"], 64, "--timeout must be a positive number of milliseconds, not -5"),
    ]

    @Test("each mistake: its exit code, the problem named, no crash", arguments: cases)
    func badInput(arguments: [String], status: Int32, message: String) throws {
        let result = try Cartograph.run(arguments)
        #expect(result.status == status, "exit \(result.status), stderr: \(result.stderr)")
        #expect(result.stderr.contains(message), "stderr was: \(result.stderr)")
        let lines = result.stderr.split(separator: "\n").filter { !$0.hasPrefix("Usage:") && !$0.hasPrefix("  See ") && !$0.isEmpty }
        #expect(lines.count == 1, "expected one line, got: \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
        #expect(result.stdout.isEmpty)
    }
}

@Suite("Plans and profiles from the command line")
struct PlanTests {
    @Test("a /8 dry run streams: it prints the plan and stays far under 100 MB")
    func hugeDryRun() throws {
        let result = try Cartograph.run(["map", "10.0.0.0/8", "--dry-run"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("map 1: none:[10.0.0.0/8]"))
        #expect(result.stdout.contains("addresses: 16777216"))
        #expect(result.stdout.contains("nothing was sent"))
        let (run, peakKiB) = try Cartograph.peakMemoryKiB(["map", "10.0.0.0/8", "--dry-run"])
        #expect(run.status == 0)
        #expect(peakKiB > 0 && peakKiB < 100 * 1024, "peak memory was \(peakKiB) KiB")
    }

    @Test("each domain is its own map, bare addresses one none map, exclusions counted")
    func plan() throws {
        let result = try Cartograph.run(["map", "example.com", "198.18.1.0/24", "none:[198.18.9.1]",
                                         "example.org:[198.18.5.0/30]", "--exclude", "198.18.1.0/25", "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("map 1: example.com"))
        #expect(lines.contains("map 2: example.org:[198.18.5.0/30]"))
        #expect(lines.contains("map 3: none:[198.18.1.0/24, 198.18.9.1]"))
        #expect(lines.contains("  addresses: 129 (128 excluded)"))
    }

    @Test("profiles list names the shipped profiles; show prints every key")
    func profiles() throws {
        let list = try Cartograph.run(["profiles", "list"])
        #expect(list.status == 0)
        for name in ["default", "fast", "thorough", "discovery-only", "low-impact"] {
            #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix(name + " ") }, "\(name) missing from: \(list.stdout)")
        }
        let show = try Cartograph.run(["profiles", "show", "low-impact"])
        #expect(show.status == 0)
        #expect(show.stdout.contains("  rate: 20\n"))
        #expect(show.stdout.contains("  include: [safe]\n"))
        #expect(show.stdout.contains("  reverse_lookups: true\n"), "defaults are filled in")
    }

    @Test("-p overrides the profile's ports, in nmap's syntax")
    func portsOverride() throws {
        let result = try Cartograph.run(["map", "127.0.0.1", "-p", "T:1-10,U:53", "--dry-run"])
        #expect(result.stdout.contains("scan 10 TCP and 1 UDP port(s)"), "\(result.stdout)")
        let all = try Cartograph.run(["map", "127.0.0.1", "-p-", "--dry-run"])
        #expect(all.stdout.contains("scan 65535 TCP and 0 UDP port(s)"), "nmap's -p- means every port: \(all.stdout)\(all.stderr)")
        let none = try Cartograph.run(["map", "127.0.0.1", "--probes", "none", "--dry-run", "-n"])
        #expect(none.stdout.contains("no probes") && none.stdout.contains("DNS traffic disabled"), "\(none.stdout)")
    }
}

/// Inputs that used to be taken silently and wrongly (issue 11, deliver 6): each is now one exact
/// line on stderr, with `file:line` where there is a file, and its exit code.
@Suite("Wrong-but-silent input is an error")
struct SilentInputTests {
    static let dir: URL = {
        let dir = Cartograph.scratch.appendingPathComponent("silent-input")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let files = [
            "negative.yaml": "name: negative\ninformation_gathering:\n  tcp_ports: [22, -5]\n",
            "discovery.yaml": "host_discovery:\n  tcp_ports:\n    - 80\n    - -443\n",
            "probes.yaml": "probes:\n  include:\n    - default\n    - sshh\n",
            "exclude-probes.yaml": "probes:\n  exclude: [htpp]\n",
            "networks.yaml": "networks:\n  default: {}\n  all: {scanner: x}\n",
            "spaced.yaml": "networks:\n  \"two words\": {}\n",
        ]
        for (name, text) in files { try? text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return dir
    }()

    static func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    static let cases: [([String], Int32, String)] = [
        (["map", "--profile", path("negative.yaml"), "127.0.0.1", "--dry-run"], 65,
         "profile \(path("negative.yaml")):3: \"information_gathering.tcp_ports\": port -5 is out of range (1-65535); write a range as \"1-5\""),
        (["map", "--profile", path("discovery.yaml"), "127.0.0.1", "--dry-run"], 65,
         "profile \(path("discovery.yaml")):4: \"host_discovery.tcp_ports\": port -443 is out of range (1-65535); write a range as \"1-443\""),
        (["map", "fd00::-fd00:0:0:1::", "--dry-run"], 64,
         "invalid target \"fd00::-fd00:0:0:1::\": IPv6 ranges wider than a /64 (2^64 addresses) cannot be scanned address by address"),
        (["map", "--probes", "", "127.0.0.1", "--dry-run"], 64,
         "--probes: the list is empty; name probes or categories, or give \"none\" to turn identification off"),
        (["map", "--probes", " , ", "127.0.0.1", "--dry-run"], 64,
         "--probes: the list is empty; name probes or categories, or give \"none\" to turn identification off"),
        (["map", "--probes", "ssh,htpp", "127.0.0.1", "--dry-run"], 64,
         "--probes: no probe or category named \"htpp\" (did you mean \"http\"?)"),
        (["map", "--probes", "zzzzzz", "127.0.0.1", "-p", "1", "-n"], 64, "--probes: no probe or category named \"zzzzzz\""),
        (["map", "--probes", "none,http", "127.0.0.1", "--dry-run"], 64,
         "--probes: \"none\" turns identification off and cannot be combined with other names"),
        (["map", "--profile", path("probes.yaml"), "127.0.0.1", "--dry-run"], 65,
         "profile \(path("probes.yaml")):4: no probe or category named \"sshh\" (did you mean \"ssh\"?)"),
        (["map", "--profile", path("exclude-probes.yaml"), "--probes", "http", "127.0.0.1", "--dry-run"], 65,
         "profile \(path("exclude-probes.yaml")):2: no probe or category named \"htpp\" (did you mean \"http\"?)"),
        (["map", "--network", "all", "127.0.0.1", "--dry-run"], 64, "--network: \"all\" is reserved (it means every network)"),
        (["map", "--network=-branch", "127.0.0.1", "--dry-run"], 64,
         "--network: \"-branch\" is not a network name: it cannot start with \"-\""),
        (["map", "--network", "a\u{1b}b", "127.0.0.1", "--dry-run"], 64,
         "--network: \"a\\x1bb\" is not a network name: no spaces or control characters"),
        (["maps", "list", "--network", "all"], 64, "--network: \"all\" is reserved (it means every network)"),
        (["hosts", "--network", "two words"], 64, "--network: \"two words\" is not a network name: no spaces or control characters"),
        (["maps", "report", "--network", ""], 64, "--network: a network name cannot be empty"),
        (["map", "--inventory", path("networks.yaml"), "127.0.0.1", "--dry-run"], 65,
         "inventory \(path("networks.yaml")):3: \"networks\": \"all\" is reserved (it means every network)"),
        (["map", "--inventory", path("spaced.yaml"), "127.0.0.1", "--dry-run"], 65,
         "inventory \(path("spaced.yaml")):2: \"networks\": \"two words\" is not a network name: no spaces or control characters"),
    ]

    @Test("each silent mistake: one exact line and its exit code", arguments: cases)
    func silentInput(arguments: [String], status: Int32, message: String) throws {
        let result = try Cartograph.run(arguments + ["--db", Cartograph.freshStore()])
        #expect(result.status == status, "exit \(result.status), stderr: \(result.stderr)")
        #expect(result.stderr == "cartograph: \(message)\n")
        #expect(result.stdout.isEmpty)
    }

    @Test("CRLF target and exclude files read like LF ones, comments and line numbers included")
    func crlfFiles() throws {
        let targets = Self.dir.appendingPathComponent("targets-crlf.txt")
        let exclude = Self.dir.appendingPathComponent("exclude-crlf.txt")
        try "# office\r\n198.18.200.0/30\r\n198.18.201.1 # printer\r\n\r\n198.18.202.1,198.18.202.2\r\n"
            .write(to: targets, atomically: true, encoding: .utf8)
        try "198.18.200.1\r\n# none\r\n198.18.202.2\r\n".write(to: exclude, atomically: true, encoding: .utf8)
        let result = try Cartograph.run(["map", "-iL", targets.path, "--exclude-file", exclude.path, "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("map 1: none:[198.18.200.0/30, 198.18.201.1, 198.18.202.1, 198.18.202.2]\n"), "\(result.stdout)")
        #expect(result.stdout.contains("  addresses: 5 (2 excluded)\n"), "\(result.stdout)")

        let stdin = try Cartograph.run(["map", "-iL", "-", "--dry-run"], stdin: "198.18.203.1\r\n198.18.203.2\r\n")
        #expect(stdin.stdout.contains("  addresses: 2\n"), "\(stdin.stdout)\(stdin.stderr)")

        let bad = Self.dir.appendingPathComponent("bad-crlf.txt")
        try "198.18.200.1\r\n\r\n198.18.200.999\r\n".write(to: bad, atomically: true, encoding: .utf8)
        let error = try Cartograph.run(["map", "-iL", bad.path, "--dry-run"])
        #expect(error.status == 65)
        #expect(error.stderr == "cartograph: \(bad.path):3: invalid target \"198.18.200.999\": octet 999 is out of range (0-255)\n")
        let badExclude = try Cartograph.run(["map", "127.0.0.1", "--exclude-file", bad.path, "--dry-run"])
        #expect(badExclude.status == 65)
        #expect(badExclude.stderr == "cartograph: \(bad.path):3: invalid target \"198.18.200.999\": octet 999 is out of range (0-255)\n")
    }

    @Test("a world-writable probe directory, and a world-writable probe in it, get a warning line naming them")
    func worldWritableProbes() throws {
        let probes = Self.dir.appendingPathComponent("open-probes-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: probes, withIntermediateDirectories: true)
        let file = probes.appendingPathComponent("hello.lua")
        try "return { name = \"hello\", description = \"d\", categories = { \"safe\" }, ports = {}, run = function() return nil end }\n"
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(chmod(probes.path, 0o755) == 0)
        let closed = try Cartograph.run(["probes", "list", "--probe-dir", probes.path])
        #expect(closed.status == 0 && closed.stderr.isEmpty, "\(closed.stderr)")

        #expect(chmod(probes.path, 0o1777) == 0 && chmod(file.path, 0o666) == 0)
        let directoryLine = "cartograph: warning: probe directory \(probes.path) is writable by every user, who can change what runs in a map (chmod o-w \(probes.path))"
        let fileLine = "cartograph: warning: probe file \(file.path) is writable by every user, who can change what runs in a map (chmod o-w \(file.path))"
        let list = try Cartograph.run(["probes", "list", "--probe-dir", probes.path])
        #expect(list.status == 0)
        #expect(list.stderr == directoryLine + "\n" + fileLine + "\n")
        let map = try Cartograph.run(["map", "127.0.0.1", "--probe-dir", probes.path, "--dry-run"])
        #expect(map.status == 0)
        #expect(map.stderr.split(separator: "\n").map(String.init).prefix(2) == [directoryLine, fileLine], "\(map.stderr)")

        // A real map carries both warnings in its report and in the store, once each.
        let server = try LoopbackServer { connection in
            connection.write("220 (vsFTPd 3.0.3)\r\n")
            connection.idle()
        }
        defer { server.stop() }
        let db = Cartograph.freshStore("worldwritable")
        let mapped = try Cartograph.run(["map", "127.0.0.1", "-p", String(server.port), "-n", "--engine", "connect",
                                         "--probe-dir", probes.path, "--db", db, "--format", "json"])
        #expect(mapped.status == 0, "\(mapped.stderr)")
        let stored = try Cartograph.run(["maps", "report", "--db", db, "--format", "json"])
        let expected = [directoryLine, fileLine].map { String($0.dropFirst("cartograph: warning: ".count)) }
        for (what, json) in [("the map's report", mapped.stdout), ("the stored map", stored.stdout)] {
            let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            let warnings = (object?["maps"] as? [[String: Any]])?.first?["warnings"] as? [String] ?? []
            for line in expected {
                #expect(warnings.filter { $0 == line }.count == 1, "\(what): \(line) in \(warnings)")
            }
        }
    }
}
