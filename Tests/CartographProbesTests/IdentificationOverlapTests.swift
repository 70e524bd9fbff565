import CartographCore
@testable import CartographProbes
import CartographTestSupport
import Foundation
import Testing

/// The order a port's steps count in, without a network: the pipeline is a value driven by hand.
@Suite("Probe pipeline")
struct ProbePipelineTests {
    static let hello = Array("HELLO x 1\r\n".utf8)

    static func plan(declared: [String] = [], others: [String], tlsAware: [String] = [], passive: Bool = true) -> Pipeline {
        Pipeline(plan: ProbePlan(declared: declared, tlsAware: tlsAware, others: others, passive: passive))
    }

    static func runs(_ actions: [Pipeline.Action]) -> [String] {
        actions.compactMap { if case .probe(_, let name, _) = $0 { name } else { nil } }
    }

    static func certain(_ name: String) -> ProbeMatch { ProbeMatch(name: name) }

    @Test("declared probes start beside the banner read; the others wait for the banner")
    func declaredFirst() {
        var pipeline = Self.plan(declared: ["d"], others: ["a", "b"])
        let first = pipeline.start()
        #expect(Self.runs(first) == ["d"])
        #expect(first.contains(.banner))
        #expect(pipeline.finished(run: 0, match: nil, cut: false).isEmpty, "the others started before the banner read was heard")
        let next = pipeline.bannerEnded(Self.hello)
        #expect(Self.runs(next) == ["a", "b"])
        #expect(next.allSatisfy { if case .probe(_, _, let view) = $0 { view.banner == Self.hello } else { false } })
    }

    @Test("a certain match waits for the runs before it, never for the ones after")
    func orderHolds() {
        var pipeline = Self.plan(others: ["a", "b", "c"])
        _ = pipeline.start()
        _ = pipeline.bannerEnded(Self.hello)
        _ = pipeline.finished(run: 1, match: Self.certain("b"), cut: false)
        #expect(pipeline.outcome == nil, "b answered while a, before it, was still running")
        _ = pipeline.finished(run: 0, match: nil, cut: false)
        #expect(pipeline.outcome?.method == "b", "c, after b, held the answer back")
    }

    @Test("the other probes run four at a time, in order")
    func window() {
        var pipeline = Self.plan(others: ["a", "b", "c", "d", "e", "f"])
        _ = pipeline.start()
        #expect(Self.runs(pipeline.bannerEnded(Self.hello)) == ["a", "b", "c", "d"])
        #expect(Self.runs(pipeline.finished(run: 2, match: nil, cut: false)) == ["e"])
        #expect(Self.runs(pipeline.finished(run: 0, match: nil, cut: false)) == ["f"])
    }

    @Test("silence starts TLS detection beside the others; a late greeting runs them again with it")
    func lateGreeting() {
        var pipeline = Self.plan(others: ["a"], tlsAware: ["a"])
        _ = pipeline.start()
        let silent = pipeline.bannerSilent()
        #expect(silent.contains(.tlsDetect))
        #expect(silent.contains(.probe(run: 0, name: "a", view: .init(silent: true))))
        _ = pipeline.finished(run: 0, match: nil, cut: false)
        _ = pipeline.tlsDetected(false)
        #expect(pipeline.outcome == nil, "a silent port ended before its time to answer was over")
        #expect(pipeline.bannerEnded(Self.hello) == [.probe(run: 1, name: "a", view: .init(banner: Self.hello))])
        _ = pipeline.finished(run: 1, match: Self.certain("a"), cut: false)
        #expect(pipeline.outcome?.method == "a")
    }

    @Test("a silent port ends once its time to answer is over")
    func silentEnds() {
        var pipeline = Self.plan(others: ["a"])
        _ = pipeline.start()
        _ = pipeline.bannerSilent()
        _ = pipeline.finished(run: 0, match: nil, cut: true)
        _ = pipeline.tlsDetected(false)
        #expect(pipeline.outcome == nil)
        pipeline.silenceEnded()
        #expect(pipeline.outcome.map { $0.match == nil } == true)
    }

    @Test("a run cut short by the port's silence runs again once the port speaks")
    func retryWhenHeard() {
        var pipeline = Self.plan(others: ["a", "b"])
        _ = pipeline.start()
        _ = pipeline.bannerSilent()
        _ = pipeline.finished(run: 0, match: nil, cut: true)
        _ = pipeline.finished(run: 1, match: nil, cut: false)
        #expect(pipeline.heardService() == [.probe(run: 2, name: "a", view: .init(silent: true))])
        #expect(pipeline.heardService().isEmpty, "a second sign of life tried the cut run again")
    }

    @Test("a port that would end unnamed without a word gets one patient round, after its banner read ends")
    func patientRound() {
        var pipeline = Self.plan(declared: ["d"], others: ["a", "b", "c", "e", "f"])
        _ = pipeline.start()
        _ = pipeline.bannerSilent()
        _ = pipeline.finished(run: 0, match: nil, cut: true)
        _ = pipeline.tlsDetected(false)
        while let run = pipeline.runs.indices.first(where: { !pipeline.runs[$0].done }) { _ = pipeline.finished(run: run, match: nil, cut: true) }
        pipeline.silenceEnded()
        let outcome = try? #require(pipeline.outcome)
        #expect(outcome.map { pipeline.owesPatience($0) } == true && pipeline.bannerLingering)
        _ = pipeline.bannerEnded(nil)
        #expect(!pipeline.bannerLingering)
        let round = pipeline.patientRound()
        #expect(round.first == .banner && Self.runs(round) == ["d"], "the declared probe, not the others: \(round)")
        #expect(pipeline.runs.last?.patient == true)
        _ = pipeline.finished(run: pipeline.runs.count - 1, match: nil, cut: false)
        #expect(pipeline.outcome == nil, "the patient banner read was still listening")
        #expect(Self.runs(pipeline.bannerEnded(Self.hello)) == ["a", "b", "c", "e"], "a greeting in the patient round runs the others with it")
        #expect(pipeline.outcome.map { pipeline.owesPatience($0) } != true, "a second round")
    }

    @Test("a TLS handshake adds the TLS-aware probes, over TLS")
    func tlsRuns() {
        var pipeline = Self.plan(declared: ["h"], others: ["a"], tlsAware: ["h", "t"])
        _ = pipeline.start()
        _ = pipeline.finished(run: 0, match: nil, cut: false)
        _ = pipeline.bannerSilent()
        let over = pipeline.tlsDetected(true)
        #expect(Self.runs(over) == ["h", "t"])
        #expect(over.allSatisfy { if case .probe(_, _, let view) = $0 { view.tls } else { true } })
        // The plain run of a still waiting in the clear is ended: a TLS server will not answer it.
        #expect(over.contains(.drop(run: 1)), "\(over)")
    }

    @Test("after a handshake, a match over TLS counts before one a run in the clear got from the TLS server")
    func tlsBeforeClear() {
        var pipeline = Self.plan(others: ["a", "h"], tlsAware: ["h"])
        _ = pipeline.start()
        _ = pipeline.bannerSilent()
        // h in the clear got the TLS server's own error page while a still waited.
        _ = pipeline.finished(run: 1, match: Self.certain("http"), cut: false)
        #expect(pipeline.outcome == nil)
        let over = pipeline.tlsDetected(true)
        #expect(Self.runs(over) == ["h"])
        #expect(pipeline.outcome == nil, "the clear run's match was taken before the run over TLS ended")
        _ = pipeline.finished(run: 2, match: Self.certain("https"), cut: false)
        #expect(pipeline.outcome?.match?.name == "https")
    }
}

/// Identification against loopback servers the tests start: what a silent port, a late
/// greeting and many ports of one host cost, seen from the server's side and in the trace.
@Suite("Identification overlap")
struct IdentificationOverlapTests {
    static let localhost = IPAddress("127.0.0.1")!

    /// A probe that does not declare the test's port, asks `request` and waits 5 s for a line.
    static func asker(_ name: String) -> (path: String, text: String) {
        (path: "probes/\(name).lua", text: """
        return {
          name = "\(name)", description = "asks and waits", categories = { "test" }, ports = { 1 },
          run = function(host, port)
            local sock = socket.connect(host, port)
            if not sock then return nil end
            sock:send("\(name)\\r\\n")
            local line = sock:receive_line(5000)
            if line and line:match("^HELLO") then return { name = "\(name)" } end
            return nil
          end,
        }
        """)
    }

    /// A probe that only reads what the banner read got.
    static let bannerOnly = (path: "probes/bannered.lua", text: """
    return {
      name = "bannered", description = "reads port.banner", categories = { "test" }, ports = { 1 },
      run = function(host, port)
        local product, version = (port.banner or ""):match("^HELLO (%S+) (%S+)")
        if not product then return nil end
        return { name = "bannered", product = product, version = version }
      end,
    }
    """)

    static func identify(_ files: [(path: String, text: String)], jobs: [PortJob], workers: Int = 1,
                         adjust: (inout ProbeSettings) -> Void = { _ in }) throws -> (results: [PortIdentification], seconds: Double) {
        let library = ProbeLibrary.load(files: files)
        #expect(library.errors.isEmpty, "\(library.errors)")
        var settings = ProbeSettings()
        settings.probeTimeoutMs = 8000
        settings.bannerWaitMs = 2000
        adjust(&settings)
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings, workers: workers)
        let start = Date()
        let results = try identifier.identify(jobs, cancel: CancellationFlag())
        return (results, Date().timeIntervalSince(start))
    }

    /// The trace cut into one block per step, each starting with its "[file] at N ms" line.
    static func blocks(_ trace: [String]) -> [[String]] {
        trace.reduce(into: [[String]]()) { blocks, line in
            if line.hasPrefix("[") || blocks.isEmpty { blocks.append([line]) } else { blocks[blocks.count - 1].append(line) }
        }
    }

    @Test("a silent port costs one short silence: every wait for its answer ends at the port's silence, none at a probe's own timeout",
          arguments: [16, 1])
    func silentPort(cap: Int) throws {
        let server = try LoopbackServer { $0.idle() }
        let probes = (1...6).map { Self.asker("ask\($0)") }
        // With one connection to the host, the banner read lingering for a late greeting gives
        // its connection up to the steps that wait for one.
        let (results, seconds) = try Self.identify(probes, jobs: [PortJob(address: Self.localhost, port: server.port, proto: .tcp)]) {
            $0.trace = true
            $0.hostParallelism = cap
        }
        let result = try #require(results.first)
        let trace = result.trace.joined(separator: "\n")
        #expect(result.match == nil, "\(result)")
        #expect(result.errors.isEmpty, "a probe ran into its own time limit: \(result.errors)")
        // Then one patient round, of a long banner read and the first four probes, none cut.
        let round = result.trace.firstIndex { $0.hasPrefix("[patient round]") } ?? result.trace.endIndex
        #expect(result.trace.filter { $0.hasPrefix("[patient round]") }.count == 1, "\(trace)")
        let patient = Self.blocks(Array(result.trace[round...]))
        #expect(patient.filter { $0.first?.hasPrefix("[probes/ask") == true }.count == 4, "\(trace)")
        #expect(patient.allSatisfy { !$0.contains("  (the port is silent)") }, "a patient run was cut:\n\(trace)")
        #expect(patient.contains { $0.first?.hasPrefix("[passive banner read]") == true }, "\(trace)")
        // Six probes waiting 5 s each would take 30 s one after another; each was cut instead.
        let blocks = Self.blocks(Array(result.trace[..<round])).filter { $0.first?.hasPrefix("[probes/ask") == true }
        #expect(blocks.count == 6, "\(blocks.count) of the 6 probes ran:\n\(trace)")
        for block in blocks {
            #expect(block.contains("  (the port is silent)") && block.contains("recv: timeout"),
                    "a receive was not cut by the port's silence (took \(seconds) s):\n\(block.joined(separator: "\n"))")
        }
        #expect(trace.contains("tls handshake timeout (the port is silent)"), "TLS detection waited its own timeout:\n\(trace)")
        if cap == 1 {
            // The banner read gave its connection up at its silence instead of listening on.
            let banner = Self.blocks(Array(result.trace[..<round])).first { $0.first?.hasPrefix("[passive banner read]") == true } ?? []
            #expect(banner.contains { $0.hasPrefix("  -> silent for ") }, "\(banner)")
            #expect(banner.filter { $0 == "recv: timeout" }.count == 1, "the banner read listened on:\n\(banner.joined(separator: "\n"))")
        }
    }

    @Test("on a silent port, a probe that declares it waits the banner read's patience, not its own timeout")
    func silentDeclaredPort() throws {
        let server = try LoopbackServer { $0.idle() }
        let declared = (path: "probes/mine.lua", text: Self.asker("mine").text.replacingOccurrences(of: "ports = { 1 }", with: "ports = { \(server.port) }"))
        let (results, seconds) = try Self.identify([declared], jobs: [PortJob(address: Self.localhost, port: server.port, proto: .tcp)]) {
            $0.trace = true
            $0.bannerWaitMs = 1000
        }
        let result = try #require(results.first)
        let block = Self.blocks(result.trace).first { $0.first?.hasPrefix("[probes/mine.lua]") == true } ?? []
        #expect(result.errors.isEmpty, "\(result.errors)")
        #expect(block.contains("  (the port is silent)"), "the declared probe waited its own 5 s (took \(seconds) s):\n\(block.joined(separator: "\n"))")
    }

    @Test("a greeting that comes after the short silence still names the service")
    func lateGreeting() throws {
        let server = try LoopbackServer { connection in
            guard connection.idle(atMost: 700) else { return }
            connection.write("HELLO late-d 2.0\r\n")
            connection.idle()
        }
        let (results, seconds) = try Self.identify([Self.bannerOnly], jobs: [PortJob(address: Self.localhost, port: server.port, proto: .tcp)]) {
            $0.trace = true
        }
        let result = try #require(results.first)
        #expect(result.match?.product == "late-d", "took \(seconds) s: \(result.trace.joined(separator: "\n"))")
        #expect(result.method == "bannered")
        #expect(result.trace.contains { $0.hasPrefix("  -> silent for ") }, "the banner read did not go silent first: \(result.trace)")
    }

    @Test("a greeting 3 s late, past the banner read's wait, names the service in the patient round")
    func slowGreeting() throws {
        let server = try LoopbackServer { connection in
            guard connection.idle(atMost: 3000) else { return }
            connection.write("HELLO slow-d 3.0\r\n")
            connection.idle()
        }
        let (results, seconds) = try Self.identify([Self.bannerOnly], jobs: [PortJob(address: Self.localhost, port: server.port, proto: .tcp)]) {
            $0.trace = true
        }
        let result = try #require(results.first)
        #expect(result.match?.product == "slow-d" && result.method == "bannered", "took \(seconds) s: \(result.trace.joined(separator: "\n"))")
        #expect(result.trace.contains { $0.hasPrefix("[patient round]") })
    }

    @Test("a service that answers its first request 3 s late is named by its declared probe's patient run")
    func slowAnswer() throws {
        let server = try LoopbackServer { connection in
            guard !connection.read(until: "\r\n").isEmpty else { return }
            usleep(3_000_000)
            connection.write("HELLO cold-d 1.0\r\n")
            connection.idle()
        }
        let declared = (path: "probes/mine.lua", text: Self.asker("mine").text.replacingOccurrences(of: "ports = { 1 }", with: "ports = { \(server.port) }"))
        let (results, seconds) = try Self.identify([declared], jobs: [PortJob(address: Self.localhost, port: server.port, proto: .tcp)]) {
            $0.trace = true
            $0.bannerWaitMs = 1000
        }
        let result = try #require(results.first)
        #expect(result.match?.name == "mine", "took \(seconds) s: \(result.trace.joined(separator: "\n"))")
        #expect(result.trace.contains { $0.hasPrefix("[patient round]") })
    }

    @Test("with the patient round off, a silent port ends at its silence")
    func patienceOff() throws {
        let server = try LoopbackServer { $0.idle() }
        let (results, _) = try Self.identify([Self.asker("ask1")], jobs: [PortJob(address: Self.localhost, port: server.port, proto: .tcp)]) {
            $0.trace = true
            $0.patientWaitMs = 0
        }
        let result = try #require(results.first)
        #expect(result.match == nil && !result.trace.contains { $0.hasPrefix("[patient round]") }, "\(result.trace)")
    }

    @Test("the ports of one host run in parallel up to host_parallelism connections, never beyond, across worker processes",
          arguments: [1, 3])
    func hostCap(cap: Int) throws {
        let census = Census()
        // Holds each connection a while before greeting, so that connections pile up; at each
        // accept, counts the connections whose peer has not closed them.
        let server = try LoopbackServer { connection in
            census.enter(connection)
            defer { census.leave(connection) }
            guard connection.idle(atMost: 150) else { return }
            connection.write("HELLO held-d 1.0\r\n")
            connection.idle()
        }
        let jobs = (0..<8).map { _ in PortJob(address: Self.localhost, port: server.port, proto: .tcp) }
        let (results, seconds) = try Self.identify([Self.asker("greet")], jobs: jobs, workers: 2) {
            $0.hostParallelism = cap
            $0.probeTimeoutMs = 30_000
        }
        #expect(results.allSatisfy { $0.method == "greet" }, "\(results.map { $0.errors })")
        #expect(census.peak <= cap, "\(census.peak) connections to the host at once, cap \(cap)")
        #expect(census.peak == cap, "at most \(census.peak) connections at once (took \(seconds) s): the ports did not run in parallel up to the cap")
    }
}

/// The connections a test server holds that their peer has not closed, counted at each accept:
/// a handler notices a close only when it next reads, the peer's close is seen at once.
final class Census: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var open: [ObjectIdentifier: LoopbackServer.Connection] = [:]
    private var highest = 0

    func enter(_ connection: LoopbackServer.Connection) {
        lock.withLock {
            open[ObjectIdentifier(connection)] = connection
            highest = max(highest, open.values.filter { !$0.peerClosed }.count)
        }
    }

    func leave(_ connection: LoopbackServer.Connection) {
        lock.withLock { open[ObjectIdentifier(connection)] = nil }
    }

    var peak: Int { lock.withLock { highest } }
}
