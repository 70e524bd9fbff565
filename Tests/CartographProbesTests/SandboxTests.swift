import CartographCore
@testable import CartographProbes
import CartographTestSupport
import Foundation
import Testing

/// The probe sandbox holds against probes written to break it: limits that stay enforced
/// through pcall, no path to string.dump, no finalizers, bounded logs, receives, memory,
/// regular expressions and descriptors. Every test runs real Lua against a real loopback server.
@Suite("Probe sandbox")
struct SandboxTests {
    static func probe(_ name: String, _ body: String, extra: String = "") -> (String, String) {
        ("probes/\(name).lua", """
        \(extra)
        return {
          name = "\(name)", description = "test probe \(name)", categories = { "test" },
          run = function(host, port, args)
        \(body)
          end,
        }
        """)
    }

    /// Runs `files` on one worker against `ports` on 127.0.0.1; one result per port.
    static func identify(_ files: [(String, String)], ports: [UInt16], timeoutMs: Int = 1500,
                         adjust: (inout ProbeSettings) -> Void = { _ in }) throws -> [PortIdentification] {
        let library = ProbeLibrary.load(files: files.map { (path: $0.0, text: $0.1) })
        #expect(library.errors.isEmpty, "\(library.errors)")
        var settings = ProbeSettings()
        settings.probeTimeoutMs = timeoutMs
        settings.bannerWaitMs = 300
        settings.memoryLimit = 32 << 20
        adjust(&settings)
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings, workers: 1)
        let jobs = ports.map { PortJob(address: IPAddress("127.0.0.1")!, port: $0, proto: .tcp) }
        return try identifier.identify(jobs, cancel: CancellationFlag())
    }

    static func helloServer() throws -> LoopbackServer {
        try LoopbackServer { connection in
            connection.write("HELLO acme-d 2.4.1\r\n")
            connection.idle()
        }
    }

    /// Identifies the hello server's product; named "zz" so it runs after the hostile probes.
    static let greeter = probe("zz-greeter", """
        local sock = socket.connect(host, port)
        if not sock then return nil end
        local line = sock:receive_line(2000)
        local product = (line or ""):match("^HELLO (%S+)")
        if not product then return nil end
        return { name = "greeter", product = product }
    """)

    /// Runs `hostile` and the greeter on two ports of one worker: the greeter must still name
    /// both, and `hostile` must have been stopped with `reason` at `path:`.
    static func expectStoppedBesideGreeter(_ hostile: (String, String), reason: String, timeoutMs: Int = 8000) throws {
        let server = try helloServer()
        // A small budget: a worker runs one probe's computation at a time, so the neighbour's waits
        // run out while a hostile probe spends a large one.
        let results = try identify([hostile, greeter], ports: [server.port, server.port], timeoutMs: timeoutMs) {
            $0.instructionBudget = 5_000_000
        }
        for result in results {
            #expect(result.match?.name == "greeter", "\(result)")
            let message = result.errors.first ?? "(none)"
            #expect(message.hasPrefix(hostile.0 + ":5:"), "\(message)")
            #expect(message.contains(reason), "\(message)")
        }
    }

    // MARK: - 1. Limits that stay enforced

    @Test("an exhausted budget stays exhausted through pcall, xpcall and error handlers", arguments: [
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function(e) return e end) end",
        "xpcall(function() while true do end end, function() while true do end end) return { name = 'escaped' }",
        "for i = 1, 100 do pcall(pcall, function() while true do end end) end return { name = 'escaped' }",
        "local function f() pcall(f) while true do end end for i = 1, 100 do pcall(f) end return { name = 'escaped' }",
        "while true do pcall(error) pcall(function() local t = {} for i = 1, 1e6 do t[i] = i end end) end",
        "for i = 1, 100 do local ok, e = pcall(function() while true do end end) if not ok then error({}) end end",
    ])
    func budgetThroughPcall(body: String) throws {
        try Self.expectStoppedBesideGreeter(Self.probe("escape", body), reason: "instruction budget exhausted")
    }

    @Test("the time limit holds inside computation too, through pcall")
    func timeThroughPcall() throws {
        let server = try Self.helloServer()
        let body = "while true do pcall(function() while true do end end) end"
        let results = try Self.identify([Self.probe("spin", body), Self.greeter], ports: [server.port], timeoutMs: 700) {
            $0.instructionBudget = Int.max / 2
        }
        let result = try #require(results.first)
        #expect(result.match?.name == "greeter")
        let message = result.errors.first ?? "(none)"
        #expect(message.hasPrefix("probes/spin.lua:5:"), "\(message)")
        #expect(message.contains("timed out after 700 ms"), "\(message)")
    }
}

extension SandboxTests {
    // MARK: - 2. No string.dump

    @Test("no path reaches string.dump, and the string metatable cannot be had or changed", arguments: [
        "return (\"\").dump", "return string.dump", "return ('x').dump", "return (getmetatable('') or {}).__index",
        "local mt = getmetatable('') return mt and mt.__index and mt.__index.dump",
        "string.upper = nil return ('x').upper == nil and 'changed' or nil",
        "return rawget(string, 'dump')", "return require('string')",
    ])
    func noDump(body: String) throws {
        let server = try Self.helloServer()
        let text = Self.probe("dump", "local ok, v = pcall(function() \(body) end)\n    return { name = 'seen', extra = type(v) }")
        let results = try Self.identify([text], ports: [server.port])
        let result = try #require(results.first)
        // Every path gives nil, false or an error text, never a function or a table.
        #expect(["nil", "boolean", "string"].contains(result.match?.extraInfo ?? "?"), "\(body): \(result)")
        // A probe changing its own string library changes nothing for string methods.
        let after = try Self.identify([Self.probe("use", "return { name = 'use', extra = ('abc'):upper() }")], ports: [server.port])
        #expect(after.first?.match?.extraInfo == "ABC")
    }

    @Test("getmetatable on a string gives false, not a table")
    func stringMetatable() throws {
        let server = try Self.helloServer()
        let body = "return { name = 'mt', extra = tostring(getmetatable('')) .. ' ' .. tostring(('x'):upper()) }"
        let result = try #require(try Self.identify([Self.probe("mt", body)], ports: [server.port]).first)
        #expect(result.match?.extraInfo == "false X", "\(result)")
    }
}

extension SandboxTests {
    // MARK: - 3. No finalizers

    @Test("a probe cannot install a __gc finalizer, whether it loops or allocates", arguments: [
        "setmetatable({}, { __gc = function() while true do end end })",
        "setmetatable({}, { __gc = function() local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(1e6) end end })",
        "local mt = setmetatable({}, { __index = { __gc = print } }) setmetatable({}, mt) return nil -- ok-indexed",
        "setmetatable({}, { __gc = false })",
        "local mt = {} local t = setmetatable({}, mt) mt.__gc = function() while true do end end t = nil\n    for i = 1, 1e5 do local g = {} end return nil -- ok-late",
    ])
    func noFinalizers(body: String) throws {
        if body.contains("ok-") {
            // A __gc reached only through __index, or added after setmetatable, is never called
            // (Lua 5.4), and the greeter still answers: a looping finalizer would hang the worker,
            // since Lua runs finalizers with hooks off.
            let server = try Self.helloServer()
            for result in try Self.identify([Self.probe("gc", body), Self.greeter], ports: [server.port, server.port]) {
                #expect(result.match?.name == "greeter", "\(result)")
                #expect(result.errors.isEmpty, "\(result.errors)")
            }
        } else {
            try Self.expectStoppedBesideGreeter(Self.probe("gc", body), reason: "__gc finalizers are not allowed")
        }
    }
}

extension SandboxTests {
    // MARK: - 4. Bounded logs

    @Test("log() is capped per run, in lines and bytes, with one truncation note")
    func logFlood() throws {
        let server = try Self.helloServer()
        let flood = Self.probe("flood", """
            for i = 1, 1e5 do log("line", i, ("x"):rep(100)) end
            log(("y"):rep(1e6))
            return nil
        """)
        let huge = Self.probe("huge", "for i = 1, 50 do log(('z'):rep(1e5)) end return nil")
        let results = try Self.identify([flood, huge, Self.greeter], ports: [server.port])
        let result = try #require(results.first)
        #expect(result.match?.name == "greeter")
        for path in ["probes/flood.lua", "probes/huge.lua"] {
            let lines = result.log.filter { $0.hasPrefix(path + ":") }
            #expect(lines.count <= ProbeWorker.logLines + 1, "\(lines.count)")
            #expect(lines.reduce(0) { $0 + $1.utf8.count } <= ProbeWorker.logBytes + 2 * ProbeWorker.logLineBytes)
            #expect(lines.filter { $0.contains("log truncated") }.count == 1, "\(lines.suffix(2))")
        }
        #expect(result.log.contains { $0.hasPrefix("probes/flood.lua:5: line 1 xxx") }, "\(result.log.prefix(2))")
    }
}

extension SandboxTests {
    // MARK: - 5. Sockets no probe can alter for another

    @Test("a probe rewriting socket methods, the socket library or a shared library changes nothing for the others", arguments: [
        "local s = socket.connect(host, port) local mt = getmetatable(s) if type(mt) == 'table' then mt.__index.receive_line = function() return 'HELLO forged 6.6' end end",
        "local s = socket.connect(host, port) local mt = getmetatable(s) if type(mt) == 'table' then mt.__index = { receive_line = function() return 'HELLO forged 6.6' end } end",
        "socket.connect = function() return nil end",
        "rawset(socket, 'connect', function() return nil end)",
        "local _, state = pairs(socket) if type(state) == 'table' then state.connect = function() return nil end end",
        "local g = require('greeting') g.parse = function() return 'forged' end",
        "local g = require('greeting') rawset(g, 'parse', function() return 'forged' end)",
        "local g = require('greeting') g.names.acme = 'forged'",
        "local s = socket.connect(host, port) s.receive_line = function() return 'HELLO forged 6.6' end return nil",
    ])
    func sharedTablesHold(body: String) throws {
        let server = try Self.helloServer()
        let library = (path: "probes/lib/greeting.lua", text: """
            local M = { names = { acme = "acme" } }
            function M.parse(line) local p = (line or ""):match("^HELLO (%S+)") return p and (M.names[p:match("^(%a+)")] and p) end
            return M
            """)
        let hostile = Self.probe("aa-hostile", "pcall(function() \(body) end) return nil")
        let honest = Self.probe("zz-honest", """
            local greeting = require("greeting")
            local sock = socket.connect(host, port)
            if not sock then return { name = "no-connect" } end
            return { name = "honest", product = greeting.parse(sock:receive_line(2000)) }
        """)
        let files = [hostile, honest]
        let loaded = ProbeLibrary.load(files: files.map { (path: $0.0, text: $0.1) }, libraries: [library])
        #expect(loaded.errors.isEmpty, "\(loaded.errors)")
        var settings = ProbeSettings()
        settings.bannerWaitMs = 300
        let identifier = ServiceIdentifier(library: loaded, probes: loaded.definitions, settings: settings, workers: 1)
        // Many ports on one worker: the hostile probe runs before the honest one on each.
        let jobs = (0..<6).map { _ in PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp) }
        for result in try identifier.identify(jobs, cancel: CancellationFlag()) {
            #expect(result.match?.name == "honest", "\(result)")
            #expect(result.match?.product == "acme-d", "\(result)")
        }
    }

    @Test("getmetatable on a socket gives a name, not its methods")
    func socketMetatable() throws {
        let server = try Self.helloServer()
        let body = "local s = socket.connect(host, port) return { name = 'mt', extra = tostring(getmetatable(s)) .. ' ' .. type(s.receive) }"
        let result = try #require(try Self.identify([Self.probe("mt", body)], ports: [server.port]).first)
        #expect(result.match?.extraInfo == "socket function", "\(result)")
    }
}

extension SandboxTests {
    // MARK: - 6. Receives capped, the time limit checked at every arrival

    /// A service that streams at full speed, up to 200 MB, until the peer goes away.
    static func streamServer() throws -> LoopbackServer {
        try LoopbackServer { connection in
            let chunk = [UInt8](repeating: 0x20, count: 65536)
            for _ in 0..<3200 { if !connection.send(chunk) { return } }
        }
    }

    @Test("a stream that never ends: each socket receives 1 MiB by default, the probe ends at its time limit, the other port is identified", arguments: [
        ("reader", "local s = socket.connect(host, port) local total = 0\n    while true do local d, err = s:receive() if not d then return { name = 'stream', extra = err, version = tostring(total) } end total = total + #d end", "receive limit reached"),
        ("greedy", "local s = socket.connect(host, port, { receive_limit = 1e9 })\n    while true do s:receive() end", "timed out after 1000 ms"),
        ("until", "local s = socket.connect(host, port, { receive_limit = 16 * 1048576 })\n    while true do s:receive_until('NEVER') end", "timed out after 1000 ms"),
    ])
    func endlessStream(name: String, body: String, outcome: String) throws {
        let stream = try Self.streamServer()
        let hello = try Self.helloServer()
        let results = try Self.identify([Self.probe(name, body), Self.greeter], ports: [stream.port, hello.port], timeoutMs: 1000) {
            $0.instructionBudget = Int.max / 2
        }
        #expect(results[1].match?.name == "greeter", "\(results[1])")
        if name == "reader" {
            #expect(results[0].match?.name == "stream", "\(results[0])")
            #expect(results[0].match?.extraInfo?.contains(outcome) == true, "\(results[0])")
            #expect(results[0].match?.version == "\(ProbeWorker.receiveLimit)")
        } else {
            let message = results[0].errors.first ?? "(none)"
            #expect(message.hasPrefix("probes/\(name).lua:"), "\(message)")
            #expect(message.contains(outcome), "\(message)")
        }
    }
}

extension SandboxTests {
    // MARK: - 7. Memory caps per run

    @Test("a memory bomb is stopped at its own cap while a neighbour on the same worker allocates within its own")
    func memoryPerRun() throws {
        let bombServer = try Self.helloServer()
        let other = try Self.helloServer()
        // Two runs at once on one worker, 32 MiB each: the bomb holds ~25 MiB and sleeps while the
        // neighbour takes ~17 MiB (together over 32), then the bomb grows until stopped.
        let body = """
            if port.number == \(bombServer.port) then
              local hold = {}
              for i = 1, 24 * 1024 do hold[i] = ("x"):rep(1000) .. i end
              sleep(800)
              for i = 1, 1e9 do hold[#hold + 1] = ("y"):rep(1000) .. i end
            end
            sleep(300)
            local mine = {}
            for i = 1, 16 * 1024 do mine[i] = ("z"):rep(1000) .. i end
            return { name = "neighbour", extra = tostring(#mine) }
        """
        let results = try Self.identify([Self.probe("mem", body)], ports: [bombServer.port, other.port], timeoutMs: 8000)
        let message = results[0].errors.first ?? "(none)"
        #expect(message.hasPrefix("probes/mem.lua:9:"), "\(message)")
        #expect(message.contains("memory limit of 32 MiB exceeded"), "\(message)")
        #expect(results[1].match?.name == "neighbour", "\(results[1])")
        #expect(results[1].match?.extraInfo == "16384")
    }
}

extension SandboxTests {
    // MARK: - 8. Regular expressions with bounded work

    @Test("catastrophic regular expressions end with nil and an error, and the probe goes on", arguments: [
        ("(a+)+$", "string.rep('a', 100000) .. 'b'"),
        ("(a|a)*c", "string.rep('a', 50000)"),
        ("^(\\\\w+\\\\s?)*$", "string.rep('word ', 20000) .. '!'"),
        ("(.*a){12}", "string.rep('a', 5000)"),
        ("(x+x+)+y", "string.rep('x', 100000)"),
    ])
    func boundedRegex(pattern: String, subject: String) throws {
        let server = try Self.helloServer()
        let body = """
            local value, err = regex.match(\(subject), "\(pattern)")
            local ok = regex.match("HELLO acme-d", "^HELLO (\\\\S+)")
            return { name = "rx", extra = tostring(value) .. "|" .. tostring(err), product = ok }
        """
        let result = try #require(try Self.identify([Self.probe("rx", body)], ports: [server.port], timeoutMs: 20000) {
            $0.instructionBudget = Int.max / 2
        }.first)
        #expect(result.errors.isEmpty, "\(result.errors)")
        let extra = result.match?.extraInfo ?? ""
        // It ended: a match, no match (PCRE2 sees some failures early), or a limit, never a hang.
        let limited = extra.hasPrefix("nil|regex: ") && extra.contains("limit reached")
        #expect(limited || extra == "nil|nil" || !extra.hasPrefix("nil|"), "\(extra)")
        #expect(result.match?.product == "acme-d")
    }

    @Test("the (a+)+$ bomb reaches the limit rather than matching")
    func backtrackingBomb() throws {
        let server = try Self.helloServer()
        let body = """
            local value, err = regex.find(string.rep("a", 30) .. "b", "(a+)+$")
            return { name = "rx", extra = tostring(value) .. "|" .. tostring(err) }
        """
        let result = try #require(try Self.identify([Self.probe("rx", body)], ports: [server.port], timeoutMs: 20000).first)
        #expect(result.match?.extraInfo?.hasPrefix("nil|regex: match limit reached") == true, "\(result)")
    }
}

extension SandboxTests {
    // MARK: - 9. Shipped probes on backtracking bait

    static let probesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Probes").path

    /// Serves `head` then `filler` repeated `count` times, then closes.
    static func baitServer(_ head: String, filler: String, count: Int, tail: String = "") throws -> LoopbackServer {
        try LoopbackServer { connection in
            _ = connection.read(until: "\r\n\r\n")
            connection.write(head)
            let chunk = [UInt8](String(repeating: filler, count: 4096).utf8)
            for _ in 0..<(count / 4096) { if !connection.send(chunk) { return } }
            connection.write(tail)
        }
    }

    @Test("the shipped http probe names http behind a title of a megabyte of spaces, and a header of one", arguments: [
        ("HTTP/1.0 200 OK\r\nServer: bait/1.0\r\n\r\n<title>", " ", 1 << 20, ""),
        ("HTTP/1.0 200 OK\r\nServer: bait/1.0\r\n\r\n<TITLE> x", " ", 1 << 20, "y </title>"),
        ("HTTP/1.0 200 OK\r\nX-Bait: a", " ", 1 << 16, "b\r\nServer: bait/1.0\r\n\r\nbody"),
    ])
    func httpBait(head: String, filler: String, count: Int, tail: String) throws {
        let server = try Self.baitServer(head, filler: filler, count: count, tail: tail)
        let library = try ProbeLibrary.load(directories: [Self.probesDirectory])
        let http = try #require(library.definition(named: "http"))
        var settings = ProbeSettings()
        settings.probeTimeoutMs = 8000
        let identifier = ServiceIdentifier(library: library, probes: [http], settings: settings, workers: 1)
        let job = PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp)
        let result = try #require(try identifier.identify([job], cancel: CancellationFlag()).first)
        #expect(result.match?.name == "http", "\(result.errors)")
        #expect(result.match?.product == "bait", "\(result)")
        #expect(result.errors.isEmpty, "\(result.errors)")
    }
}

extension SandboxTests {
    // MARK: - 10. Descriptors

    @Test("a probe that hoards sockets gets a clear error past 16, and closing one frees a place")
    func socketHoarding() throws {
        let server = try Self.helloServer()
        let body = """
            local held, err = {}, nil
            for i = 1, 1000 do
              local s, e = socket.connect(host, port)
              if not s then err = e break end
              held[#held + 1] = s
            end
            held[1]:close()
            local again = socket.connect(host, port)
            return { name = "hoard", version = tostring(#held), extra = tostring(err), product = tostring(again ~= nil) }
        """
        // Two runs of 16 on one host: the host's connection cap must not be what stops them.
        let results = try Self.identify([Self.probe("hoard", body)], ports: [server.port, server.port]) {
            $0.hostParallelism = 64
        }
        for result in results {
            #expect(result.match?.version == "\(ProbeWorker.socketsPerRun)", "\(result)")
            #expect(result.match?.extraInfo?.contains("too many open sockets (at most 16 a probe run") == true, "\(result)")
            #expect(result.match?.product == "true")
        }
    }
}

extension SandboxTests {
    // MARK: - 8. A worker's other steps are not held up by one run's computation

    @Test("one string or table over 32 MiB is refused at once, with the probe's file:line", arguments: [
        "    local s = string.rep('x', 1e8)",
        "    local t = 'x' while true do t = t .. t end",
    ])
    func bigBlock(body: String) throws {
        let server = try Self.helloServer()
        // A memory cap above the block limit: the block limit is what stops it.
        let results = try Self.identify([Self.probe("big", body)], ports: [server.port], timeoutMs: 5000) {
            $0.memoryLimit = 256 << 20
        }
        let message = results[0].errors.first ?? "(none)"
        #expect(message.hasPrefix("probes/big.lua:"), "\(message)")
        #expect(message.contains("more than the 32 MiB one string or table may take"), "\(message)")
    }

    @Test("a run computing inside a call that cannot pause (a gsub callback) is stopped past 200 ms, and the greeter beside it is still named")
    func unpausableStretch() throws {
        // Few instructions a callback (the budget is not what stops it), a long stretch in all.
        let hostile = Self.probe("stretch", """
            string.gsub(string.rep('a', 1e6), 'a', function() local s = string.rep('x', 10000) end)
            return { name = "escaped" }
        """)
        let server = try Self.helloServer()
        let results = try Self.identify([hostile, Self.greeter], ports: [server.port, server.port], timeoutMs: 8000)
        for result in results {
            #expect(result.match?.name == "greeter", "\(result)")
            let message = result.errors.first ?? "(none)"
            #expect(message.hasPrefix("probes/stretch.lua:"), "\(message)")
            #expect(message.contains("inside one call that cannot pause"), "\(message)")
        }
    }

    @Test("runs computing without end on twenty ports of one worker: a step waiting on its service still gets its turns in time")
    func computingRunsShareTheWorker() throws {
        let greeted = try Self.helloServer()
        let busy = try (0..<20).map { _ in try Self.helloServer() }
        let busyPorts = busy.map { String($0.port) }.joined(separator: ", ")
        func declared(_ name: String, ports: String, _ body: String) -> (String, String) {
            ("probes/\(name).lua", """
            return {
              name = "\(name)", description = "test probe \(name)", categories = { "test" }, ports = { \(ports) },
              run = function(host, port, args)
            \(body)
              end,
            }
            """)
        }
        // Ten hogs on each busy port (so dozens compute at once), the greeter on a port of its own.
        let hogs = (0..<10).map { declared("hog\($0)", ports: busyPorts, "    while true do end") }
        let body = Self.greeter.1.components(separatedBy: "run = function(host, port, args)\n")[1].components(separatedBy: "\n  end,\n}")[0]
        let greeter = declared("greeter", ports: String(greeted.port), body)
        // The greeter needs three turns (connect, the greeting, its result) inside its limit,
        // which a slice for every computing run at each turn would not allow.
        let results = try Self.identify(hogs + [greeter], ports: busy.map(\.port) + [greeted.port], timeoutMs: 1500) {
            $0.instructionBudget = 1 << 40
            $0.concurrency = 64
        }
        #expect(results.last?.match?.name == "greeter", "\(results.last.map { "\($0)" } ?? "none")")
        #expect(results.dropLast().allSatisfy { $0.errors.contains { $0.contains("timed out after 1500 ms") } })
    }
}
