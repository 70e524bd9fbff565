import CartographTestSupport
import Foundation
import Testing

/// The binary driven with nmap's and naabu's habits, and its JSON lines followed live.
@Suite("nmap habits, report files and JSON lines")
struct HabitsTests {
    /// An HTTP service that answers after `delayMs`, so a map of it lasts at least that long.
    static func slowHTTP(delayMs: UInt32 = 0) throws -> LoopbackServer {
        try LoopbackServer { connection in
            _ = connection.read(until: "\r\n\r\n")
            usleep(delayMs * 1000)
            connection.write("HTTP/1.1 200 OK\r\nServer: testd/3.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        }
    }

    /// A loopback port nothing listens on (a server's, once it has stopped).
    static func closedPort() throws -> UInt16 {
        let server = try LoopbackServer { _ in }
        server.stop()
        return server.port
    }

    @Test("naabu's -host is one line naming our form and exit 64, never the help with exit 0")
    func naabuHost() throws {
        for arguments in [["-host", "127.0.0.1"], ["map", "-host", "127.0.0.1"], ["map", "127.0.0.1", "-silent"]] {
            let result = try Cartograph.run(arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(arguments) printed \(result.stdout)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
            #expect(!result.stderr.contains("USAGE") && !result.stderr.contains("OPTIONS"))
        }
    }

    @Test("-p with service names and octet ranges reach the plan")
    func namesAndOctets() throws {
        let result = try Cartograph.run(["map", "-p", "ssh,http,https", "10.0.1-6.2", "10.0.0.*", "--dry-run"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("scan 3 TCP and 0 UDP port(s)"), "\(result.stdout)")
        #expect(result.stdout.contains("addresses: 262"), "\(result.stdout)")
        let udp = try Cartograph.run(["-sU", "--top-ports", "5", "-T4", "127.0.0.1", "--dry-run"])
        #expect(udp.status == 0, "\(udp.stderr)")
        #expect(udp.stdout.contains("scan 0 TCP and 5 UDP port(s)"), "\(udp.stdout)")
    }

    @Test("-o FILE.xml writes nmap XML, -oJ FILE JSON, -o - the standard output (no file named -)")
    func reportDestinations() throws {
        let server = try Self.slowHTTP()
        let dir = Cartograph.scratch.appendingPathComponent("habits-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let xml = dir.appendingPathComponent("map.xml").path
        let first = try Cartograph.run(["map", "127.0.0.1", "-p", "\(server.port)", "-n", "-o", xml])
        #expect(first.status == 0, "\(first.stderr)")
        let xmlText = try String(contentsOfFile: xml, encoding: .utf8)
        #expect(xmlText.hasPrefix("<?xml"), "\(xmlText.prefix(80))")
        #expect(xmlText.contains("portid=\"\(server.port)\""))
        let json = dir.appendingPathComponent("out.data").path
        let second = try Cartograph.run(["-oJ", json, "127.0.0.1", "-p", "\(server.port)", "-n"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect((try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json)))) != nil)
        let stdout = try Cartograph.run(["map", "127.0.0.1", "-p", "\(server.port)", "-n", "--format", "text", "-o", "-"])
        #expect(stdout.status == 0, "\(stdout.stderr)")
        #expect(stdout.stdout.contains("\(server.port)/tcp"), "\(stdout.stdout)")
        #expect(!FileManager.default.fileExists(atPath: "-"))
    }

    @Test("--open leaves out closed ports and the hosts without an open one")
    func openOnly() throws {
        let server = try Self.slowHTTP()
        let closed = try Self.closedPort()
        let both = try Cartograph.run(["map", "127.0.0.1", "-p", "\(server.port),\(closed)", "-n", "--open", "--format", "json"])
        #expect(both.status == 0, "\(both.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(both.stdout.utf8)) as? [String: Any])
        let hosts = try #require((report["maps"] as? [[String: Any]])?.first?["hosts"] as? [[String: Any]])
        let ports = hosts.flatMap { ($0["services"] as? [[String: Any]] ?? []).compactMap { $0["port"] as? Int } }
        #expect(ports == [Int(server.port)])
        let none = try Cartograph.run(["map", "127.0.0.1", "-Pn", "-p", "\(closed)", "-n", "--open", "--format", "json"])
        #expect(none.status == 0, "\(none.stderr)")
        let noneReport = try #require(try JSONSerialization.jsonObject(with: Data(none.stdout.utf8)) as? [String: Any])
        #expect(((noneReport["maps"] as? [[String: Any]])?.first?["hosts"] as? [Any])?.isEmpty == true)
    }

    @Test("--format jsonl streams: the port line arrives while the map still runs, the map line ends it")
    func jsonLinesStream() throws {
        // The service answers a request after 800 ms, so identification holds the map that long
        // after the port is found (on top of the passive banner read before the request).
        let server = try Self.slowHTTP(delayMs: 800)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Cartograph.binary)
        process.arguments = ["map", "127.0.0.1", "-p", "\(server.port)", "-n", "--format", "jsonl",
                             "--db", Cartograph.freshStore()]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text = ""
        var runningAtPortLine: Bool?
        while true {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            if runningAtPortLine == nil && text.contains("\"type\":\"port\"") { runningAtPortLine = process.isRunning }
        }
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(runningAtPortLine == true, "the port line came only at the end: \(text)")
        let lines = try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        try #require(lines.map { $0["type"] as? String } == ["host", "port", "service", "map"], "\(text)")
        for line in lines {
            #expect(line["map_id"] as? Int == 1)
            #expect(line["target"] as? String == "none:[127.0.0.1]")
            #expect((line["time"] as? String)?.range(of: #"^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(line)")
        }
        #expect(lines[1]["port"] as? Int == Int(server.port) && lines[1]["protocol"] as? String == "tcp")
        #expect(lines[2]["service"] as? String == "http" && lines[2]["product"] as? String == "testd")
        #expect(lines[3]["status"] as? String == "complete" && lines[3]["open_ports"] as? Int == 1)
    }

    @Test("a reader that goes away after one line (| head -1) stops the map as Ctrl-C would: stored, exit 130, no SIGPIPE death")
    func readerGoesAway() throws {
        let server = try Self.slowHTTP(delayMs: 800)
        let store = Cartograph.freshStore()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Cartograph.binary)
        process.arguments = ["map", "127.0.0.1", "-p", "\(server.port)", "-n", "--format", "jsonl", "--db", store]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var first = Data()
        while !first.contains(UInt8(ascii: "\n")) {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            first += data
        }
        try out.fileHandleForReading.close()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(String(decoding: first, as: UTF8.self).hasPrefix("{\"address\":\"127.0.0.1\""), "\(String(decoding: first, as: UTF8.self))")
        #expect(process.terminationReason == .exit && process.terminationStatus == 130, "\(process.terminationReason) \(process.terminationStatus): \(stderr)")
        #expect(stderr.contains("the reader of the JSON lines went away; stopping the map"), "\(stderr)")
        let list = try Cartograph.run(["maps", "list", "--db", store])
        #expect(list.stdout.contains("interrupted"), "\(list.stdout)")
    }

    @Test("maps report --format jsonl writes the stored map as the same lines")
    func storedJSONLines() throws {
        let server = try Self.slowHTTP()
        let store = Cartograph.freshStore()
        let map = try Cartograph.run(["map", "127.0.0.1", "-p", "\(server.port)", "-n", "--db", store, "--progress", "none"])
        #expect(map.status == 0, "\(map.stderr)")
        let report = try Cartograph.run(["maps", "report", "--db", store, "-o", "-", "--format", "jsonl"])
        #expect(report.status == 0, "\(report.stderr)")
        let types = report.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["type"] as? String
        }
        #expect(types == ["host", "port", "service", "map"], "\(report.stdout)")
    }

    @Test("help texts show no internal names and each default once")
    func helpTexts() throws {
        let show = try Cartograph.run(["maps", "show", "--help"])
        #expect(show.status == 0)
        #expect(!show.stdout.contains("MapID("), "\(show.stdout)")
        #expect(show.stdout.contains("(default: latest)"), "\(show.stdout)")
        let map = try Cartograph.run(["map", "--help"])
        #expect(map.stdout.contains("With --engine syn: packets per second"), "\(map.stdout)")
        #expect(!map.stdout.contains("--timing") && !map.stdout.contains("--no-sweep"), "hidden flags shown")
        let hosts = try Cartograph.run(["hosts", "--help"])
        #expect(hosts.stdout.contains("(default: all)") && !hosts.stdout.contains("(default)"), "\(hosts.stdout)")
        // A default the parser prints is not written into the text as well.
        for command in [["map"], ["maps", "list"], ["maps", "diff"], ["hosts"], ["profiles", "new"]] {
            let help = try Cartograph.run(command + ["--help"]).stdout.replacingOccurrences(of: "\n", with: " ")
                .replacingOccurrences(of: #" +"#, with: " ", options: .regularExpression)
            #expect(!help.contains("(default: default); ") && !help.contains("text or json. (values"), "\(command): \(help)")
        }
    }
}

/// Profiles and probes of one's own, read from the user's config directory.
@Suite("User profiles and probes")
struct UserDirectoryTests {
    static func configHome() throws -> URL {
        let dir = Cartograph.scratch.appendingPathComponent("config-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("profiles new --from fast writes an editable copy (top:N and comments kept) that list and map read")
    func profileCopy() throws {
        let config = try Self.configHome()
        let environment = ["XDG_CONFIG_HOME": config.path]
        let made = try Cartograph.run(["profiles", "new", "mine", "--from", "fast"], environment: environment)
        #expect(made.status == 0, "\(made.stderr)")
        let path = config.appendingPathComponent("cartograph/profiles/mine.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("tcp_ports: \"top:100\""), "\(text)")
        #expect(text.contains("name: mine\n") && text.hasPrefix("# Copied from "), "\(text)")
        let list = try Cartograph.run(["profiles", "list"], environment: environment)
        #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix("mine ") && $0.contains(path) }, "\(list.stdout)")
        #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix("fast ") && $0.contains("Profiles/fast.yaml") })
        // Edited, it is what a map uses.
        try text.replacingOccurrences(of: "\"top:100\"", with: "\"top:7\"").write(toFile: path, atomically: true, encoding: .utf8)
        let plan = try Cartograph.run(["map", "--profile", "mine", "127.0.0.1", "--dry-run"], environment: environment)
        #expect(plan.stdout.contains("profile mine:") && plan.stdout.contains("scan 7 TCP"), "\(plan.stdout)\(plan.stderr)")
        // The shell completions ask the binary back, so they offer the new profile at once.
        let offered = try Cartograph.run(["---completion", "map", "--", "--profile", "2", "0", "cartograph", "map", "--profile", ""],
                                         environment: environment)
        #expect(Set(offered.stdout.split(separator: "\n").map(String.init)).isSuperset(of: ["mine", "fast", "default"]), "\(offered)")
        let probes = try Cartograph.run(["---completion", "probes", "show", "--", "positional@0", "3", "0", "cartograph", "probes", "show", ""],
                                        environment: environment)
        #expect(probes.stdout.split(separator: "\n").contains("ssh") && probes.stderr.isEmpty, "\(probes)")
        let again = try Cartograph.run(["profiles", "new", "mine", "--from", "fast"], environment: environment)
        #expect(again.status == 64 && again.stderr.contains("exists already; not overwritten"))
    }

    @Test("probes in the user's directory load by default; probes test takes a probe name and a host name")
    func userProbes() throws {
        let config = try Self.configHome()
        let probes = config.appendingPathComponent("cartograph/probes")
        try FileManager.default.createDirectory(at: probes, withIntermediateDirectories: true)
        try """
            return { name = "hello", description = "says hello", categories = { "safe" }, ports = { 4000 },
              run = function(host, port)
                local sock = socket.connect(host, port)
                if not sock then return nil end
                local line = sock:receive_line(2000)
                sock:close()
                if line and line:sub(1, 5) == "HELLO" then return { name = "hello" } end
                return nil
              end }
            """.write(to: probes.appendingPathComponent("hello.lua"), atomically: true, encoding: .utf8)
        let environment = ["XDG_CONFIG_HOME": config.path]
        let list = try Cartograph.run(["probes", "list"], environment: environment)
        #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix("hello ") && $0.hasSuffix(probes.path + "/hello.lua") }, "\(list.stdout)")
        let server = try LoopbackServer { $0.write("HELLO there\r\n") }
        let test = try Cartograph.run(["probes", "test", "hello", "localhost:\(server.port)"], environment: environment)
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
        #expect(test.stdout.contains("result: name=hello"), "\(test.stdout)")
        let typo = try Cartograph.run(["probes", "test", "helo", "127.0.0.1:\(server.port)"], environment: environment)
        #expect(typo.status == 64 && typo.stderr.contains("did you mean \"hello\"?"), "\(typo.stderr)")
    }

    @Test("without the shipped probes and profiles, a map is an error naming where it looked, never a map with no probes")
    func missingResources() throws {
        let empty = try Self.configHome()
        let environment = ["CARTOGRAPH_HOME": empty.path, "XDG_CONFIG_HOME": empty.path]
        let map = try Cartograph.run(["map", "127.0.0.1", "-p", "1", "-n"], environment: environment)
        #expect(map.status == 66, "\(map.stderr)")
        #expect(map.stderr.contains("cannot find the shipped profiles") && map.stderr.contains(empty.path + "/Profiles"), "\(map.stderr)")
        let withProfile = try Cartograph.run(["map", "127.0.0.1", "-p", "1", "-n", "--profile", Cartograph.packageRoot.appendingPathComponent("Profiles/fast.yaml").path],
                                             environment: environment)
        #expect(withProfile.status == 66, "\(withProfile.stderr)")
        #expect(withProfile.stderr.contains("cannot find the shipped probes") && withProfile.stderr.contains(empty.path + "/Probes"), "\(withProfile.stderr)")
        #expect(withProfile.stdout.isEmpty)
    }
}

@Suite("The progress line")
struct ProgressLineTests {
    @Test("labels and counts are spaced and carry their units; the raw engines' cool-down is named")
    func spacedLine() throws {
        // At 2000 probes a second the sweep's 3584 take 1.8 s, so the line (drawn every 200 ms)
        // is drawn during it however fast the machine is; at full speed the map ends in 0.1 s.
        let result = try Cartograph.run(["map", "127.3.0.0/24", "-p", "9", "-n", "--engine", "syn", "--probes", "none", "--rate", "2000",
                                         "--progress", "line", "--db", Cartograph.freshStore(), "-o", "/dev/null"])
        #expect(result.status == 0, "\(result.stderr)")
        let drawn = result.stderr.components(separatedBy: "\r\u{1B}[K").filter { !$0.isEmpty }
        let sweep = drawn.filter { $0.hasPrefix("sweep  ") }
        #expect(!sweep.isEmpty, "\(result.stderr.debugDescription.prefix(400))")
        #expect(sweep.allSatisfy { $0.range(of: #"^sweep  \d+% \d+/\d+ probes  "#, options: .regularExpression) != nil }, "\(sweep.prefix(3))")
        // The raw engines name their cool-down (ProgressPhaseTests checks the text exactly).
        #expect(drawn.contains { $0.contains("cool-down: up to ") }, "\(drawn.suffix(3))")
        #expect(!drawn.contains { $0.range(of: #"^[a-z]+\d"#, options: .regularExpression) != nil }, "a label runs into its number")
    }

    @Test("the connect engine's retries are shown as retries: a lab address nobody answers (198.18.1.99)")
    func connectRetries() throws {
        let result = try Cartograph.run(["map", "198.18.1.99", "-Pn", "-p", "1-20", "-n", "--engine", "connect", "--probes", "none",
                                         "--progress", "line", "--db", Cartograph.freshStore(), "-o", "/dev/null"], namespace: "cg-scan")
        #expect(result.status == 0, "\(result.stderr)")
        let drawn = result.stderr.components(separatedBy: "\r\u{1B}[K")
        #expect(drawn.contains { $0.hasPrefix("scan  0% 0/20 ports  hosts 0  open 0  retrying 20 silent ports") }, "\(result.stderr.debugDescription.prefix(600))")
        #expect(!drawn.contains { $0.contains("ETA 0.0 s") }, "an ETA of 0 while the retries run")
    }
}
