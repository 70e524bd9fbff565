import CartographCore
@testable import CartographProbes
import CartographTestSupport
import Foundation
import Glibc
import Testing

/// Probes in worker processes: real `cartograph probe-worker` children, real sockets, a real
/// server on loopback. What a probe does inside one C call cannot be stopped from inside the
/// process; these tests check that the parent stops it from outside and the rest goes on.
@Suite("Probe worker processes")
struct WorkerProcessTests {
    /// Backtracks for hours inside one call of string.find, where no instruction hook runs:
    /// 20 `a*` items over 40 letters and no `b` try about C(60, 20) splits.
    static let bait = """
    return {
      name = "bait",
      description = "a pattern that backtracks inside one C call",
      categories = { "test" },
      ports = { 1 },
      run = function(host, port)
        if port.number ~= tonumber(BAIT_PORT) then return nil end
        local found = string.find(string.rep("a", 40), string.rep("a*", 20) .. "b")
        return { name = "never" }
      end,
    }
    """

    func library(baitPort: UInt16) -> ProbeLibrary {
        ProbeLibrary.load(files: [
            (path: "probes/bait.lua", text: "BAIT_PORT = \(baitPort)\n" + Self.bait),
            (path: "probes/greeter.lua", text: ProbeRuntimeTests.echoBanner),
        ])
    }

    func settings(timeoutMs: Int) -> ProbeSettings {
        var settings = ProbeSettings()
        settings.probeTimeoutMs = timeoutMs
        settings.bannerWaitMs = 300
        settings.memoryLimit = 32 << 20
        return settings
    }

    /// Runs `body` on a thread; nil when it has not returned within `seconds` (a hang fails
    /// the test instead of hanging the run).
    func bounded<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () throws -> T) -> Result<T, Error>? {
        let box = Box<Result<T, Error>>()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.value = Result { try body() }
            done.signal()
        }.start()
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return box.value
    }

    @Test("a pattern backtracking inside string.find is stopped at its limit, named with file:line, and every port is still identified")
    func backtrackingIsStopped() throws {
        let bad = try ProbeRuntimeTests.helloServer()
        let good = try ProbeRuntimeTests.helloServer()
        let library = library(baitPort: bad.port)
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings(timeoutMs: 1500), workers: 1)
        let jobs = [bad.port, good.port].map { PortJob(address: IPAddress("127.0.0.1")!, port: $0, proto: .tcp) }
        let outcome = try #require(bounded(60) { try identifier.identify(jobs, cancel: CancellationFlag()) }, "identification hung")
        let results = try outcome.get()
        #expect(results.count == 2)
        // The stuck port: the bait probe is named with the line of the find, and the port then
        // went on without it and was identified by the greeter.
        let stuck = results[0]
        #expect(stuck.errors.contains { $0.hasPrefix("probe bait (probes/bait.lua:9) stopped: ran past its time limit of 1500 ms") }, "\(stuck.errors)")
        #expect(stuck.match?.product == "acme-d", "\(stuck)")
        // The other port on the same worker was identified too, with no error of its own.
        #expect(results[1].match?.product == "acme-d", "\(results[1])")
        #expect(results[1].method == "greeter")
    }

    @Test("a port that stops two worker processes in a row is given up on with both reasons; the other port is identified")
    func twoStrikes() throws {
        let bad = try ProbeRuntimeTests.helloServer()
        let good = try ProbeRuntimeTests.helloServer()
        let bait = "BAIT_PORT = \(bad.port)\n" + Self.bait
        let library = ProbeLibrary.load(files: [
            (path: "probes/bait.lua", text: bait),
            (path: "probes/bait2.lua", text: bait.replacingOccurrences(of: "name = \"bait\"", with: "name = \"bait2\"")),
            (path: "probes/greeter.lua", text: ProbeRuntimeTests.echoBanner),
        ])
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings(timeoutMs: 1000), workers: 1)
        let jobs = [bad.port, good.port].map { PortJob(address: IPAddress("127.0.0.1")!, port: $0, proto: .tcp) }
        let outcome = try #require(bounded(60) { try identifier.identify(jobs, cancel: CancellationFlag()) }, "identification hung")
        let results = try outcome.get()
        let stuck = results[0]
        #expect(stuck.match == nil)
        #expect(stuck.errors.contains { $0.hasPrefix("probe bait (probes/bait.lua:9) stopped:") }, "\(stuck.errors)")
        #expect(stuck.errors.contains { $0.hasPrefix("probe bait2 (probes/bait2.lua:9) stopped:") }, "\(stuck.errors)")
        #expect(stuck.errors.last == "not identified: it stopped two worker processes in a row, the last time in probe bait2 (probes/bait2.lua:9)",
                "\(stuck.errors)")
        #expect(results[1].match?.product == "acme-d", "\(results[1])")
    }

    @Test("a probe cannot reach the operating system from its worker process", arguments: [
        "return os.execute('true')", "return io.popen('true')", "return package.loadlib('libc.so.6', 'system')",
        "return require('ffi')", "return debug.getregistry()", "return collectgarbage('count')",
    ])
    func noOperatingSystem(body: String) throws {
        let server = try ProbeRuntimeTests.helloServer()
        let library = ProbeLibrary.load(files: [(path: "probes/escape.lua", text: ProbeRuntimeTests().probe("escape", run: body))])
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings(timeoutMs: 1500), workers: 1)
        let result = try #require(try identifier.identify([PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp)],
                                                          cancel: CancellationFlag()).first)
        #expect(result.match == nil)
        #expect(result.errors.contains { $0.hasPrefix("probes/escape.lua:") }, "\(result.errors)")
    }

    @Test("a worker process runs under its address-space, descriptor and CPU limits")
    func workerLimits() throws {
        let server = try ProbeRuntimeTests.helloServer()
        let library = ProbeLibrary.load(files: [(path: "probes/greeter.lua", text: ProbeRuntimeTests.echoBanner)])
        let settings = settings(timeoutMs: 2000)
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings, workers: 1)
        let done = Box<Bool>()
        let supervisor = identifier.supervisor { _, _ in done.value = true }
        identifier.submit(PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp), to: supervisor)
        for _ in 0..<500 where done.value == nil { usleep(20_000) }
        #expect(done.value == true, "the job did not finish")
        let pid = try #require(supervisor.pids.first)
        let limits = try String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8).split(separator: "\n")
        supervisor.stop()
        func soft(_ name: String) -> String? {
            limits.first { $0.hasPrefix(name) }.map { String($0.dropFirst(26).split(separator: " ").first ?? "") }
        }
        #expect(soft("Max address space") == "\((32 << 20) + (1 << 30))")
        #expect(soft("Max open files") == "\(settings.concurrency * 4 + 32)")
        #expect(soft("Max cpu time") == "3600")
    }

    @Test("a worker process killed from outside mid-job: its jobs run again on a new one")
    func killedWorkerIsReplaced() throws {
        // Speaks only after a while, so the job is still in flight when its worker is killed.
        let server = try LoopbackServer { connection in
            usleep(800_000)
            connection.write("HELLO slow-d 1.0\r\n")
            connection.idle()
        }
        let library = ProbeLibrary.load(files: [(path: "probes/greeter.lua", text: ProbeRuntimeTests.echoBanner)])
        let collected = Box<[Int: PortIdentification]>()
        collected.value = [:]
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings(timeoutMs: 5000), workers: 1)
        let supervisor = identifier.supervisor { ticket, result in collected.update { $0?[ticket] = result } }
        let ports = (0..<3).map { _ in PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp) }
        for job in ports { identifier.submit(job, to: supervisor) }
        // Wait for the child to start, then kill it as the OOM killer or a user would.
        var pids: [pid_t] = []
        for _ in 0..<100 where pids.isEmpty {
            pids = supervisor.pids
            usleep(20_000)
        }
        let first = try #require(pids.first, "no worker process started")
        usleep(300_000)
        #expect(kill(first, SIGKILL) == 0)
        let outcome = try #require(bounded(60) { try supervisor.wait(cancel: CancellationFlag()) }, "identification hung")
        try outcome.get()
        let results = try #require(collected.value)
        #expect(results.count == 3)
        for result in results.values {
            #expect(result.match?.product == "slow-d", "\(result)")
            #expect(result.errors.contains { $0.contains("the worker process was killed (signal 9)") }, "\(result.errors)")
        }
        #expect(supervisor.spawned == 2)
        #expect(!supervisor.pids.contains(first))
    }

    @Test("Ctrl-C: identification returns at once with what it has, the unfinished ports marked interrupted")
    func cancellation() throws {
        let bad = try ProbeRuntimeTests.helloServer()
        let library = library(baitPort: bad.port)
        // A limit of ten minutes: only the cancellation can end this run early.
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings(timeoutMs: 600_000), workers: 1)
        let cancel = CancellationFlag()
        let job = PortJob(address: IPAddress("127.0.0.1")!, port: bad.port, proto: .tcp)
        Thread {
            usleep(500_000)
            cancel.cancel()
        }.start()
        let outcome = try #require(bounded(30) { try identifier.identify([job], cancel: cancel) }, "cancellation did not end identification")
        let results = try outcome.get()
        #expect(results.count == 1)
        #expect(results.first?.match == nil)
        #expect(results.first?.errors == ["not identified: the map was interrupted"])
    }

    @Test("classification rules that loop inside a C pattern call cost their host only")
    func classifierBacktracking() throws {
        var library = ProbeLibrary()
        library.classifier = (file: "classify/host.lua", text: """
        return function(host)
          if host.address == "198.18.1.2" then
            string.find(string.rep("a", 40), string.rep("a*", 20) .. "b")
          end
          return { device_type = { type = "router", confidence = 90, evidence = { "test" } } }
        end
        """)
        let classifier = try #require(LuaHostClassifier(library: library))
        let hosts = ["198.18.1.1", "198.18.1.2", "198.18.1.3"].map { HostResult(address: $0, services: []) }
        let outcome = try #require(bounded(60) { () -> ([HostClassification?], [String]) in
            var warnings: [String] = []
            let found = classifier.classify(hosts, warnings: &warnings)
            return (found, warnings)
        }, "classification hung")
        let (found, warnings) = try outcome.get()
        #expect(found.count == 3)
        #expect(found[0]?.deviceType == .router)
        #expect(found[1] == nil)
        #expect(found[2]?.deviceType == .router)
        #expect(warnings.contains { $0.hasPrefix("host classification of 198.18.1.2: rules classify/host.lua:3 stopped: ran past its time limit") }, "\(warnings)")
    }
}

/// A value one thread writes and another reads; the lock makes that safe, hence Sendable.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    var value: T? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    func update(_ change: (inout T?) -> Void) { lock.withLock { change(&stored) } }
}
