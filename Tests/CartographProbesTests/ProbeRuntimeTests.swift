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

    /// `probe(_:run:)` puts `run = function` on line 7 and the body on line 8.
    @Test("a probe's error starts at its own file:line: raised in the shared prelude, without a place, or a bad return", arguments: [
        ("    rawset(nil, 'k', 1)", "probes/place.lua:8: bad argument #1 to 'rawset'"),
        ("    socket.connect(host, port, 5)", "probes/place.lua:8: attempt to index a number value"),
        ("    error({})", "probes/place.lua:8: error object is a table"),
        ("    error('no place given', 0)", "probes/place.lua:8: no place given"),
        ("    return 42", "probes/place.lua:7: run returned a number, expected a table or nil"),
        ("    return {}", "probes/place.lua:7: run returned a table without a \"name\""),
    ])
    func errorPlace(body: String, expected: String) throws {
        let server = try Self.helloServer()
        let (_, result) = try identify([("probes/place.lua", probe("place", run: body))], port: server.port)
        let message = result.errors.first ?? "(none)"
        #expect(message.hasPrefix(expected), "\(message)")
        #expect(!message.contains("prelude"), "\(message)")
    }

    @Test("runaway probes are stopped alone, with the reason and file:line, and the good probe still wins")
    func limits() throws {
        let server = try Self.helloServer()
        let loop = probe("spin", run: "    while true do end")
        // Blocks of 64 KiB: the cap is reached in a few hundred steps, so even a loaded machine gets
        // there before the time limit.
        let bomb = probe("bomb", run: "    local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 65536) .. i end")
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
            // The budget or, on a loaded machine, the time limit (checked while computing too).
            case "probes/spin.lua":
                #expect(message.contains("instruction budget exhausted") || message.contains("timed out after 1500 ms"), "\(message)")
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
        // Fifty ports of one host: a connection cap above them, so that only the worker bounds them.
        var settings = ProbeSettings()
        settings.hostParallelism = 256
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings, workers: 1)
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

/// The socket API beyond plain TCP: UDP, TLS with certificates, regular expressions, shared
/// libraries, and the trace `probes test` prints.
@Suite("Probe API")
struct ProbeAPITests {
    func run(_ name: String, body: String, port: UInt16, proto: TransportProtocol = .tcp,
             libraries: [(path: String, text: String)] = [], trace: Bool = false) throws -> PortIdentification {
        let text = """
        return {
          name = "\(name)", description = "test", categories = { "test" }, protocol = "\(proto.rawValue)",
          ports = { \(port) },
          run = function(host, port, args)
        \(body)
          end,
        }
        """
        let library = ProbeLibrary.load(files: [(path: "probes/\(name).lua", text: text)], libraries: libraries)
        #expect(library.errors.isEmpty, "\(library.errors)")
        var settings = ProbeSettings()
        settings.probeTimeoutMs = 4000
        settings.trace = trace
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings, workers: 1)
        let job = PortJob(address: IPAddress("127.0.0.1")!, port: port, proto: proto)
        return try #require(try identifier.identify([job], cancel: CancellationFlag()).first)
    }

    @Test("UDP: one datagram out, one back; a closed port reads as refused")
    func udp() throws {
        let server = try UDPLoopbackServer { datagram in
            String(decoding: datagram, as: UTF8.self) == "ping" ? Array("pong 1.2".utf8) : nil
        }
        let body = """
            local sock = socket.connect(host, port, { protocol = "udp" })
            sock:send("ping")
            local reply = sock:receive(2000)
            if reply == nil then return nil end
            return { name = "udp-echo", version = reply:match("pong (%S+)") }
        """
        let result = try run("udpecho", body: body, port: server.port, proto: .udp)
        #expect(result.match?.name == "udp-echo")
        #expect(result.match?.version == "1.2")

        server.stop()
        // The kernel rate-limits ICMP errors, and other tests send datagrams too: a few tries.
        let closed = try run("udpclosed", body: """
            local sock = socket.connect(host, port, { protocol = "udp" })
            local err
            for attempt = 1, 6 do
              sock:send("ping")
              local reply
              reply, err = sock:receive(500)
              if err == "refused" then break end
            end
            return { name = "answer", extra = tostring(err) }
        """, port: server.port, proto: .udp)
        #expect(closed.match?.extraInfo == "refused")
    }

    @Test("regular expressions: alternation, counted repetition, captures, bad expressions")
    func regex() throws {
        let server = try LoopbackServer { $0.write("220 mail.example ESMTP Exim 4.96 ready\r\n"); $0.idle() }
        let body = """
            local line = port.banner or ""
            local product, version = regex.match(line, "(Exim|Postfix|Sendmail) ([0-9]+\\\\.[0-9]{1,3})")
            local first = regex.find(line, "esmtp", "i")
            local ok, err = pcall(regex.match, line, "([unclosed")
            return { name = "smtp", product = product, version = version,
                     extra = tostring(first) .. " " .. tostring(not ok and err:match("regex") ~= nil) }
        """
        // No declared port: the probe runs after the passive banner read, which fills port.banner.
        let library = ProbeLibrary.load(files: [(path: "probes/rx.lua", text: """
        return { name = "rx", description = "t", categories = { "t" }, run = function(host, port) \(body) end }
        """)])
        var settings = ProbeSettings()
        settings.bannerWaitMs = 1000
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings, workers: 1)
        let match = try #require(try identifier.identify([PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp)],
                                                        cancel: CancellationFlag()).first?.match)
        #expect(match.product == "Exim")
        #expect(match.version == "4.96")
        #expect(match.extraInfo == "18 true")
    }

    @Test("require loads a shared library from lib/, once per state")
    func libraries() throws {
        let server = try Self.echo()
        let lib = (path: "probes/lib/greeting.lua", text: "local M = {}\nfunction M.parse(s) return s:match('^HELLO (%S+)') end\nreturn M\n")
        let body = """
            local greeting = require("greeting")
            local sock = socket.connect(host, port)
            local line = sock:receive_line(2000)
            return { name = "lib", product = greeting.parse(line or ""), extra = tostring(require("greeting") == greeting) }
        """
        let result = try run("libuser", body: body, port: server.port, libraries: [lib])
        #expect(result.match?.product == "acme-d")
        #expect(result.match?.extraInfo == "true")
    }

    @Test("the trace shows every connect, send and receive")
    func trace() throws {
        let server = try LoopbackServer { connection in
            _ = connection.read(until: "\n")
            connection.write("OK\r\n")
            connection.idle()
        }
        let body = """
            local sock = socket.connect(host, port)
            sock:send("HI\\r\\n")
            local line = sock:receive_line(2000)
            sock:close()
            return { name = "traced", extra = line }
        """
        let result = try run("traced", body: body, port: server.port, trace: true)
        #expect(result.trace.contains("connect 127.0.0.1:\(server.port)/tcp"), "\(result.trace)")
        #expect(result.trace.contains("send 4 bytes: \"HI\\r\\n\""), "\(result.trace)")
        #expect(result.trace.contains("recv 4 bytes: \"OK\\r\\n\""), "\(result.trace)")
        #expect(result.trace.contains("close"), "\(result.trace)")
    }

    @Test("TLS: handshake over the reactor, then send/receive and the peer certificate")
    func tls() throws {
        let server = try TLSServer.start()
        defer { server.stop() }
        let body = """
            local sock, err = socket.connect(host, port, { tls = true, sni = "svc.lab.test" })
            if not sock then return { name = "failed", extra = err } end
            local cert = sock:certificate()
            sock:send("hello\\n")
            local echoed = sock:receive_line(3000)
            return { name = "tls", extra = cert.subject .. "|" .. table.concat(cert.sans, ",") .. "|" .. tostring(echoed),
                     version = cert.version, product = #cert.sha256 == 64 and cert.not_after:match("^%d%d%d%d%-") and "ok" or "bad" }
        """
        let result = try run("tlsprobe", body: body, port: server.port)
        let match = try #require(result.match, "\(result.errors)")
        #expect(match.name == "tls", "\(match)")
        #expect(match.extraInfo?.hasPrefix("CN=svc.lab.test") == true, "\(match.extraInfo ?? "")")
        #expect(match.extraInfo?.contains("|svc.lab.test,alt.lab.test|olleh") == true, "\(match.extraInfo ?? "")")
        #expect(match.version?.hasPrefix("TLSv1.") == true)
        #expect(match.product == "ok")
    }

    static func echo() throws -> LoopbackServer {
        try LoopbackServer { $0.write("HELLO acme-d 2.4.1\r\n"); $0.idle() }
    }
}

/// `openssl s_server` on 127.0.0.1 with a fresh self-signed certificate, answering each line
/// reversed (`-rev`).
struct TLSServer {
    let process: Process
    let port: UInt16

    static func start() throws -> TLSServer {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let key = dir.appendingPathComponent("key.pem").path, cert = dir.appendingPathComponent("cert.pem").path
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        make.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                          "-subj", "/CN=svc.lab.test", "-addext", "subjectAltName=DNS:svc.lab.test,DNS:alt.lab.test",
                          "-keyout", key, "-out", cert]
        make.standardError = Pipe()
        try make.run()
        make.waitUntilExit()
        // Find a free port, then let s_server take it.
        let probe = try LoopbackServer { _ in }
        let port = probe.port
        probe.stop()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", cert, "-key", key, "-quiet", "-rev"]
        server.standardInput = Pipe()
        server.standardOutput = Pipe()
        server.standardError = Pipe()
        try server.run()
        // Wait until it accepts (bounded: 50 tries of 100 ms).
        for _ in 0..<50 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if connected == 0 { break }
            usleep(100_000)
        }
        return TLSServer(process: server, port: port)
    }

    func stop() { process.terminate() }
}
