import CartographCore
@testable import CartographProbes
import CartographTestSupport
import Foundation
import Testing

/// Runs probes for real: Lua 5.4, real sockets, a real server on loopback.
@Suite("Probe runtime")
struct ProbeRuntimeTests {
    static let echoBanner = """
    return {
      name = "greeter",
      description = "A banner protocol: the server says HELLO <product> <version>",
      categories = { "default", "safe" },
      ports = { 1 },
      run = function(host, port)
        local sock = socket.connect(host, port)
        if not sock then return nil end
        local line = sock:receive_line(2000)
        sock:close()
        local product, version = (line or ""):match("^HELLO (%S+) (%S+)")
        if not product then return nil end
        return { name = "greeter", product = product, version = version }
      end,
    }
    """

    func probe(_ name: String, run body: String, extra: String = "") -> String {
        """
        \(extra)
        return {
          name = "\(name)",
          description = "test probe \(name)",
          categories = { "test" },
          ports = { 1 },
          run = function(host, port, args)
        \(body)
          end,
        }
        """
    }

    func identify(_ files: [(String, String)], port: UInt16, timeoutMs: Int = 1500) throws -> (ProbeLibrary, PortIdentification) {
        let library = ProbeLibrary.load(files: files.map { (path: $0.0, text: $0.1) })
        var settings = ProbeSettings()
        settings.probeTimeoutMs = timeoutMs
        settings.bannerWaitMs = 300
        settings.memoryLimit = 32 << 20
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings, workers: 1)
        let job = PortJob(address: IPAddress("127.0.0.1")!, port: port, proto: .tcp)
        let results = try identifier.identify([job], cancel: CancellationFlag())
        return (library, try #require(results.first))
    }

    static func helloServer() throws -> LoopbackServer {
        try LoopbackServer { connection in
            connection.write("HELLO acme-d 2.4.1\r\n")
            connection.idle()
        }
    }

    @Test("a banner probe of a dozen lines identifies product and version over a real socket")
    func bannerProbe() throws {
        let server = try Self.helloServer()
        let (_, result) = try identify([("probes/greeter.lua", Self.echoBanner)], port: server.port)
        #expect(result.method == "greeter")
        #expect(result.match?.product == "acme-d")
        #expect(result.match?.version == "2.4.1")
        #expect(result.errors.isEmpty)
    }

    @Test("a probe with a syntax error is reported with file:line and the others still load")
    func syntaxError() {
        let library = ProbeLibrary.load(files: [
            (path: "probes/broken.lua", text: "return {\n  name = \"broken\",\n  run = function( end\n}"),
            (path: "probes/greeter.lua", text: Self.echoBanner),
        ])
        #expect(library.definitions.map(\.name) == ["greeter"])
        let message = library.errors.first?.description ?? ""
        #expect(message.hasPrefix("probes/broken.lua:3:"), "\(message)")
    }

    @Test("declarations are checked field by field", arguments: [
        ("return { name = 'x', categories = {'a'}, run = function() end }", "field \"description\""),
        ("return { name = 'Bad Name', description = 'd', categories = {'a'}, run = function() end }", "field \"name\""),
        ("return { name = 'x', description = 'd', categories = {'a'}, ports = {70000}, run = function() end }", "field \"ports\""),
        ("return { name = 'x', description = 'd', categories = {'a'} }", "field \"run\""),
        ("return { name = 'x', description = 'd', categories = {'a'}, run = function() end, colour = 1 }", "unknown field \"colour\""),
        ("return 42", "must return a probe table"),
        ("while true do end", "instruction budget exhausted"),
    ])
    func declarations(text: String, fragment: String) {
        let library = ProbeLibrary.load(files: [(path: "probes/x.lua", text: text)])
        #expect(library.definitions.isEmpty)
        let message = library.errors.first?.description ?? ""
        #expect(message.hasPrefix("probes/x.lua"), "\(message)")
        #expect(message.contains(fragment), "\(message)")
    }

    @Test("the sandbox has no io, os, load, string.dump, and require reaches only Probes/lib", arguments: [
        "return io.open('/etc/passwd')", "return os.execute('true')", "return loadfile('/etc/passwd')",
        "return dofile('/etc/passwd')", "return require('io')", "return string.dump(print)",
        "return load('return 1')", "return coroutine.yield()",
    ])
    func sandbox(body: String) throws {
        let server = try Self.helloServer()
        let (_, result) = try identify([("probes/escape.lua", probe("escape", run: body))], port: server.port)
        #expect(result.match == nil)
        let message = result.errors.first ?? ""
        #expect(message.hasPrefix("probes/escape.lua:"), "\(message)")
        let refused = ["nil value", "outside the socket API", "no probe library named \"io\""]
        #expect(refused.contains { message.contains($0) }, "\(message)")
    }

    @Test("runaway probes are stopped alone, with the reason and file:line, and the good probe still wins")
    func limits() throws {
        let server = try Self.helloServer()
        let loop = probe("spin", run: "    while true do end")
        let bomb = probe("bomb", run: "    local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1024) .. i end")
        let hang = probe("hang", run: """
            local sock = socket.connect(host, port)
            sock:receive_line(1000)
            while true do sock:receive(60000) end
        """)
        let files = [("probes/spin.lua", loop), ("probes/bomb.lua", bomb), ("probes/hang.lua", hang),
                     ("probes/greeter.lua", Self.echoBanner)]
        // The greeter declares the port too, but rarity (5 for all) then name orders the others
        // first: bomb, greeter. Give every runaway its turn by running each alone as well.
        for (path, text) in files.dropLast() {
            let (_, result) = try identify([(path, text)], port: server.port, timeoutMs: 1500)
            #expect(result.match == nil)
            let message = result.errors.first ?? "(none)"
            #expect(message.hasPrefix(path + ":"), "\(message)")
            switch path {
            case "probes/spin.lua": #expect(message.contains("instruction budget exhausted"), "\(message)")
            case "probes/bomb.lua": #expect(message.contains("memory limit of 32 MiB exceeded"), "\(message)")
            default: #expect(message.contains("timed out after 1500 ms"), "\(message)")
            }
        }
        let (_, together) = try identify(files, port: server.port, timeoutMs: 1500)
        #expect(together.method == "greeter")
        #expect(together.match?.product == "acme-d")
    }

    @Test("probes may only connect to the host they probe")
    func confinement() throws {
        let server = try Self.helloServer()
        let body = """
            local sock, err = socket.connect("127.0.0.2", port)
            if sock then return { name = "escaped" } end
            return { name = "confined", extra = err }
        """
        let (_, result) = try identify([("probes/reach.lua", probe("reach", run: body))], port: server.port)
        #expect(result.match?.name == "confined")
        #expect(result.match?.extraInfo?.contains("only connect to the host they probe") == true)
    }

    @Test("many ports are identified at once: their waits overlap")
    func concurrency() throws {
        let gauge = Gauge()
        let server = try LoopbackServer { connection in
            gauge.enter()
            Thread.sleep(forTimeInterval: 0.3)
            gauge.leave()
            connection.write("HELLO slow-d 1.0\r\n")
            connection.idle()
        }
        let library = ProbeLibrary.load(files: [(path: "probes/greeter.lua", text: Self.echoBanner)])
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: ProbeSettings(), workers: 1)
        let jobs = (0..<50).map { _ in PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp) }
        let results = try identifier.identify(jobs, cancel: CancellationFlag())
        #expect(results.count == 50)
        #expect(results.allSatisfy { $0.match?.product == "slow-d" })
        // One worker thread, yet the server saw many probes waiting on it at the same time.
        #expect(gauge.peak >= 25, "at most \(gauge.peak) probes were connected at once")
    }
}

/// Counts how many connections a test server holds at once.
final class Gauge: @unchecked Sendable {
    private let lock = NSLock()
    private var current = 0
    private var highest = 0
    func enter() { lock.withLock { current += 1; highest = max(highest, current) } }
    func leave() { lock.withLock { current -= 1 } }
    var peak: Int { lock.withLock { highest } }
}
