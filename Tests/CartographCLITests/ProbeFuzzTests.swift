import CartographTestSupport
import Foundation
import Testing

/// Hostile probe files, generated from a fixed seed: odd socket arguments, hostile patterns and
/// regexes, huge strings, deep recursion, loops inside pcall, metatable and finalizer tricks,
/// attempts at coroutines, load and string.dump, log floods, error objects with __tostring,
/// returns of the wrong type. Each runs through `cartograph probes test` against a loopback
/// server, and all of them through one map. Whatever a file does, the run must end (the harness
/// kills it otherwise, and the test fails), no process may die of a signal, every error must be
/// one line naming the file and line, and nothing printed may carry a raw control byte.
@Suite("Hostile probe files", .serialized)
struct ProbeFuzzTests {
    static let seed: UInt64 = 0x11_C0FFEE
    static let cases = 200

    /// SplitMix64: small, seeded, the same cases on every machine.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    }

    /// Odd values for arguments that want a number, a string or a table.
    static let oddValues = ["nil", "-1", "0", "1.5", "2^63", "-2^63", "math.huge", "-math.huge", "0/0", "\"x\"",
                            "\"\"", "{}", "function() end", "true", "string.rep('9', 400)", "70000", "1e308"]

    /// Bodies for `run(host, port, args)`; `ODD` is replaced by an odd value, `ENDLESS` by the
    /// port of a server that never stops sending.
    static let fragments: [String] = [
        // socket calls with odd arguments
        "local s = socket.connect(host, ODD)",
        "local s = socket.connect(ODD, port)",
        "local s = socket.connect(host, port, ODD)",
        "local s = socket.connect(host, port, { timeout = ODD, protocol = ODD, tls = ODD, sni = ODD })",
        "local s = socket.connect('127.0.0.2', port)",
        "local s = socket.connect({ address = ODD }, { number = ODD })",
        "local s = socket.connect(host, port); if s then s:send(ODD); s:send(string.rep('x', 4 * 1024 * 1024)) end",
        "local s = socket.connect(host, port); if s then s:receive(ODD); s:receive_bytes(ODD, ODD) end",
        "local s = socket.connect(host, port); if s then s:receive_bytes(2^31, 500) end",
        "local s = socket.connect(host, port); if s then s:receive_until(ODD, 300) end",
        "local s = socket.connect(host, port); if s then s:receive_until('(', 300) end",
        "local s = socket.connect(host, port); if s then s:receive_until(string.rep('a*', 40) .. 'b', 300) end",
        "local s = socket.connect(host, port); if s then s:receive_line(ODD); s:close(); s:close(); s:send('after close') end",
        "local s = socket.connect(host, port); if s then s:starttls(ODD); s:certificate() end",
        "local s = socket.connect(host, ENDLESS); if s then while true do s:receive(1) end end",
        "local s = socket.connect(host, ENDLESS); if s then s:receive_until('never', 60000) end",
        "local s = socket.connect(host, ENDLESS); if s then local t = {} while true do t[#t + 1] = s:receive() end end",
        "local all = {} for i = 1, 100000 do all[i] = socket.connect(host, port) end",
        "local s = socket.connect(host, port, { protocol = 'udp' }); if s then s:send(string.rep('u', 70000)); s:receive(200) end",
        "socket.connect = nil; socket.x = ODD",
        // patterns and regexes that backtrack inside one C call
        "local t = string.rep('a', 30000); t:find(string.rep('a?', 3000) .. string.rep('a', 3000))",
        "local t = string.rep('-', 200000); t:match('(.-)-(.-)-(.-)-(.-)-(.-)x')",
        "local t = '<title>' .. string.rep(' ', 300000); t:match('<title>%s*(.-)%s*</title>')",
        "regex.match(string.rep('a', 40), '(a*)*b')",
        "regex.match(string.rep('a', 5000), '((a|aa)+)+b')",
        "regex.match(string.rep('ab', 20000), '(a|b|ab)*c', ODD)",
        "regex.match(ODD, ODD)",
        "regex.find(ODD, '(')",
        "regex.match('x', 'a{1000}{1000}{1000}')",
        "regex.find(string.rep('x', 1000000), '(x+x+)+y')",
        "string.gsub(string.rep('a', 100000), 'a', function() return string.rep('b', 1000) end)",
        // memory
        "local t = string.rep('x', 2^31)",
        "local t = string.rep('x', 1e8, ',')",
        "local t = {} while true do t[#t + 1] = string.rep('m', 1000) .. #t end",
        "local t = {} for i = 1, 1e9 do t[i] = {} end",
        "local t = 'x' while true do t = t .. t end",
        "table.concat(setmetatable({}, { __index = function(_, i) return string.rep('c', 1000) end, __len = function() return 2^40 end }))",
        "table.unpack({}, 1, 1e7)",
        "string.format('%99d', 1); string.format(string.rep('%s', 100000), 1)",
        "string.pack(string.rep('i16', 100000), 1)",
        "utf8.char(ODD); utf8.len(ODD); utf8.codepoint(string.rep('\\xff', 1000), 1, -1)",
        // CPU, recursion and protected loops
        "while true do end",
        "local function f(n) return f(n + 1) + 1 end f(1)",
        "local function f() return pcall(f) end f()",
        "while true do pcall(function() while true do end end) end",
        "while true do pcall(error, 'again') end",
        "for i = 1, 1e12 do pcall(string.rep, 'x', 1e9) end",
        "local mt = {} mt.__index = function(t, k) return t[k .. 'x'] end local t = setmetatable({}, mt) local _ = t.a",
        "local t = setmetatable({}, { __gc = function() while true do end end }) t = nil collectgarbage()",
        "for i = 1, 1000 do setmetatable({}, { __gc = function() local x = string.rep('g', 1e7) end }) end collectgarbage()",
        "setmetatable({}, { __gc = function() error('in gc') end }) collectgarbage()",
        "xpcall(function() while true do end end, function() while true do end end)",
        "local co = coroutine.create(function() end)",
        "coroutine.yield('connect', '127.0.0.1', port)",
        "load('while true do end')()",
        "local d = ('').dump; d(function() end)",
        "string.dump(function() end)",
        "require('os'); require('../../../etc/passwd'); require(ODD)",
        "getmetatable('').__index.upper = function() return 'pwned' end",
        "local s = socket.connect(host, port); if s then getmetatable(s).__index.receive = function() return 'pwned' end end",
        "rawset(_G, 'socket', nil); _ENV = nil",
        "debug.sethook(); os.exit(1); io.open('/etc/passwd')",
        "collectgarbage('stop'); collectgarbage('generational'); collectgarbage(ODD)",
        "sleep(ODD); sleep(-1); sleep(1e12)",
        // logs
        "for i = 1, 1e7 do log(string.rep('l', 1000)) end",
        "log('\\27]0;pwned\\7\\27[2J\\rline one\\nline two\\0\\x9b')",
        "log(setmetatable({}, { __tostring = function() return string.rep('t', 1e6) end }))",
        "log(ODD, ODD, ODD)",
        // errors
        "error(setmetatable({}, { __tostring = function() return 'multi\\nline\\27[2J error' end }))",
        "error(setmetatable({}, { __tostring = function() while true do end end }))",
        "error(setmetatable({}, { __tostring = function() return {} end }))",
        "error({})",
        "error(nil)",
        "error(ODD, ODD)",
        "error(string.rep('e', 1e6))",
        "error('\\27]0;title\\7 escape in an error')",
    ]

    /// What `run` returns: nothing, or values of the wrong type and shape.
    static let returns: [String] = [
        "return nil", "return 42", "return 'http'", "return {}", "return { name = {} }",
        "return { name = 'x', product = function() end, version = {} }",
        "return { name = string.rep('n', 1000000) }",
        "return { name = '\\27[2Jevil\\nname', product = '=cmd|calc', extra = '<script>alert(1)</script>]]>' }",
        "return { name = 'x', cpe = { 1, {}, true }, os = 7, hostnames = { '\\27]0;h\\7' } }",
        "return setmetatable({}, { __index = function() error('boom') end })",
        "return { name = 'x', certain = ODD }",
        "return coroutine",
    ]

    /// The declaration at the top: mostly valid (so `run` is reached), sometimes hostile itself.
    static let declarations: [String] = Array(repeating: "name = 'NAME', description = 'fuzz', categories = { 'fuzz' }, ports = { PORT }, rarity = 9,", count: 8) + [
        "name = 'NAME', description = 'fuzz', categories = { 'fuzz' }, ports = { PORT }, rarity = 9, tls = true,",
        "name = 'NAME', description = 'fuzz', categories = { 'fuzz' }, ports = { PORT, -1, 70000 }, rarity = 9,",
        "name = 'NAME', description = string.rep('d', 100000), categories = { 'fuzz' }, ports = { PORT }, rarity = 9,",
        "name = 123, description = 'fuzz', categories = 'fuzz', ports = { PORT },",
        "name = 'NAME', description = '\\27[2J', categories = { 'fuzz' }, ports = { PORT }, rarity = 1e9,",
    ]

    /// Code before the declaration runs when the file loads: mostly nothing, so `run` is reached.
    static let preambles: [String] = Array(repeating: "", count: 20) + [
        "while true do end",
        "local t = {} while true do t[#t + 1] = t end",
        "error(setmetatable({}, { __tostring = function() return 'load\\nerror' end }))",
        "do return 42 end",
        "local x = string.rep('x', 1e9)",
    ]

    struct Case {
        let index: Int
        let name: String
        let port: UInt16
        let text: String
    }

    /// The cases: each a probe file of a declaration, one to three fragments and a return.
    /// Case `i` declares `ports[i % ports.count]`, so a map spreads the cases over those ports.
    static func generate(ports: [UInt16], endless: UInt16) -> [Case] {
        var rng = Generator(state: seed)
        return (0..<cases).map { index in
            let name = "fuzz\(index)"
            let port = ports[index % ports.count]
            func fill(_ text: String) -> String {
                var out = text.replacingOccurrences(of: "NAME", with: name)
                    .replacingOccurrences(of: "PORT", with: String(port))
                    .replacingOccurrences(of: "ENDLESS", with: String(endless))
                while let range = out.range(of: "ODD") { out.replaceSubrange(range, with: rng.pick(oddValues)) }
                return out
            }
            let body = (0...(Int(rng.next() % 3))).map { _ in "    " + fill(rng.pick(fragments)) }.joined(separator: "\n")
            let text = """
            -- fuzz case \(index), seed \(seed)
            \(fill(rng.pick(preambles)))
            return {
              \(fill(rng.pick(declarations)))
              run = function(host, port, args)
            \(body)
                \(fill(rng.pick(returns)))
              end,
            }

            """
            return Case(index: index, name: name, port: port, text: text)
        }
    }

    /// Servers the probes talk to: one that greets and echoes, one that never stops sending.
    static func servers(_ count: Int = 1) throws -> (banner: [LoopbackServer], endless: LoopbackServer) {
        let banner = try (0..<count).map { _ in
            try LoopbackServer { connection in
                connection.write("SSH-2.0-fuzz_1.0\r\n")
                while !connection.read().isEmpty { connection.write("+OK\r\n") }
            }
        }
        let endless = try LoopbackServer { connection in
            let chunk = [UInt8](repeating: UInt8(ascii: "E"), count: 65536)
            for _ in 0..<4096 { connection.write(chunk) }
        }
        return (banner, endless)
    }

    static func writeCases(_ cases: [Case], into dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for item in cases {
            try item.text.write(to: dir.appendingPathComponent("\(item.name).lua"), atomically: true, encoding: .utf8)
        }
    }

    /// Lines `probes test` prints: its trace, the probe's log, the result.
    static let tracePrefixes = ["[", "connect ", "  -> ", "starttls", "send ", "close", "recv ", "recv:", "failed: ",
                                "returned nil", "log: ", "result: "]

    @Test("every hostile probe file run by `probes test` ends without a crash, with one-line file:line errors")
    func probesTest() throws {
        let (banners, endless) = try Self.servers()
        let banner = banners[0]
        let cases = Self.generate(ports: [banner.port], endless: endless.port)
        let dir = Cartograph.scratch.appendingPathComponent("fuzz-\(UUID().uuidString.prefix(8))")
        try Self.writeCases(cases, into: dir)

        // Two at a time: the machine's cores are shared with the rest of the suite.
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 2) { lane in
            for item in cases where item.index % 2 == lane {
                let file = dir.appendingPathComponent("\(item.name).lua").path
                // Judged at once: only the problems are kept, not what the run printed.
                let run = Result { Self.problems(try Cartograph.runBounded(["probes", "test", file, "127.0.0.1:\(banner.port)", "--timeout", "2000"], limit: 60), file: file) }
                results.set(item.index, run)
            }
        }

        var failures = 0
        for item in cases {
            let file = dir.appendingPathComponent("\(item.name).lua").path
            let problems: [String]
            switch results.get(item.index) {
            case .success(let value): problems = value
            case .failure(let error):
                Issue.record("case \(item.index): \(error)")
                continue
            case nil:
                Issue.record("case \(item.index) did not run")
                continue
            }
            if !problems.isEmpty {
                failures += 1
                // One issue per failing case, with its source, so each can be replayed by hand.
                Issue.record("fuzz case \(item.index) (\(file)): \(problems.joined(separator: "; "))\n\(item.text)")
            }
        }
        #expect(failures == 0, "\(failures) of \(cases.count) hostile probe files broke a rule")
        banner.stop()
        endless.stop()
    }

    /// What one `probes test` run did wrong, if anything.
    static func problems(_ run: BoundedResult, file: String) -> [String] {
        var problems: [String] = []
        if run.killedByHarness { problems.append("did not end within the harness limit (killed)") }
        if let signal = run.signal, !run.killedByHarness { problems.append("died of signal \(signal)") }
        if let status = run.status, ![0, 1, 65].contains(status) { problems.append("exit \(status)") }
        for (data, what) in [(run.stdout, "stdout"), (run.stderr, "stderr")] where ControlBytes.count(in: data) > 0 {
            problems.append("raw control bytes in \(what): \(ControlBytes.describe(data))")
        }
        let escaped = NSRegularExpression.escapedPattern(for: file)
        let located = try! NSRegularExpression(pattern: "\(escaped):[0-9]+:")
        func hasLocation(_ line: String) -> Bool {
            located.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) != nil
        }
        for line in run.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) {
            if !tracePrefixes.contains(where: { line.hasPrefix($0) }) {
                problems.append("a line that is not one of probes test's: \(line.prefix(120).debugDescription) (a message of more than one line?)")
                break
            }
            if line.hasPrefix("failed: ") && !hasLocation(line) {
                problems.append("an error without file:line: \(line.prefix(160).debugDescription)")
            }
        }
        if run.status == 65 {
            let lines = run.stderrText.split(separator: "\n").map(String.init)
            if lines.count != 1 { problems.append("a load error of \(lines.count) lines: \(run.stderrText.prefix(300).debugDescription)") }
            // A Lua error names file:line; a bad declaration or a stopped load names at least the file.
            if let line = lines.first, !line.contains(file) {
                problems.append("a load error that does not name the file: \(line.prefix(200).debugDescription)")
            }
        }
        return problems
    }

    @Test("a map with every hostile probe file loaded ends, and the port no fuzz probe declares is still identified")
    func mapWithHostileProbes() throws {
        // Ten ports of twenty cases each: a port's probes run one after another.
        let (banners, endless) = try Self.servers(10)
        let control = try LoopbackServer { connection in
            connection.write("220 (vsFTPd 3.0.3)\r\n")
            connection.idle()
        }
        let dir = Cartograph.scratch.appendingPathComponent("fuzzmap-\(UUID().uuidString.prefix(8))")
        try Self.writeCases(Self.generate(ports: banners.map(\.port), endless: endless.port), into: dir)
        let profile = dir.appendingPathComponent("fuzz-profile.yaml")
        try "name: fuzz\nperformance:\n  probe_timeout_ms: 1000\n".write(to: profile, atomically: true, encoding: .utf8)
        let db = Cartograph.freshStore("fuzzmap")
        let run = try Cartograph.runBounded(["map", "127.0.0.1", "-p", (banners.map(\.port) + [control.port]).map(String.init).joined(separator: ","), "-n",
                                             "--engine", "connect", "--probe-dir", dir.path, "--probes", "all",
                                             "--profile", profile.path, "--db", db, "--format", "json"], limit: 300)
        #expect(!run.killedByHarness, "the map did not end within the harness limit: \(run.summary)")
        #expect(run.killedByHarness || run.signal == nil, "\(run.summary)")
        #expect(run.killedByHarness || run.status == 0, "\(run.summary)")
        #expect(ControlBytes.count(in: run.stdout) == 0 && ControlBytes.count(in: run.stderr) == 0,
                "raw control bytes: \(ControlBytes.describe(run.stdout)) \(ControlBytes.describe(run.stderr))")
        let object = try? JSONSerialization.jsonObject(with: run.stdout) as? [String: Any]
        let hosts = (object?["maps"] as? [[String: Any]])?.first?["hosts"] as? [[String: Any]] ?? []
        let services = hosts.flatMap { $0["services"] as? [[String: Any]] ?? [] }
        let ftp = services.first { $0["port"] as? Int == Int(control.port) }
        #expect(ftp?["name"] as? String == "ftp", "the control port beside the hostile probes: \(ftp.map { "\($0)" } ?? "missing")")
        // Every probe error on the fuzzed ports is one line naming its file and line. The shipped
        // probes run there too (`--probes all`), and on a loaded machine they and the passive
        // steps (which have no file) may time out: theirs count as well, with their own names.
        let errors = services.filter { $0["port"] as? Int != Int(control.port) }.flatMap { $0["probe_errors"] as? [Any] ?? [] }
        #expect(errors.contains { "\($0)".range(of: #"fuzz[0-9]+\.lua:[0-9]+"#, options: .regularExpression) != nil },
                "the hostile probes left no probe_errors with their file:line: \(errors.prefix(5))")
        for error in errors {
            let text = "\(error)"
            let located = text.range(of: #"\.lua:[0-9]+"#, options: .regularExpression) != nil
            let passive = text.hasPrefix("passive banner read: ") || text.hasPrefix("TLS detection: ")
            if text.contains("\n") || !(located || passive) {
                Issue.record("a probe error that is not one line with file:line: \(text.prefix(200).debugDescription)")
            }
        }
        for server in banners + [endless, control] { server.stop() }
    }
}

/// The problems of each concurrent run, by case index.
private final class ResultBox: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var results: [Int: Result<[String], any Error>] = [:]
    func set(_ index: Int, _ result: Result<[String], any Error>) { lock.withLock { results[index] = result } }
    func get(_ index: Int) -> Result<[String], any Error>? { lock.withLock { results[index] } }
}
