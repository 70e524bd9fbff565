import CartographCore
@testable import CartographProbes
import CartographTestSupport
import Foundation
import Testing

/// The cost of worker processes against the old in-process workers, on loopback. Run with
/// `CARTOGRAPH_BENCH=1 swift test --filter WorkerBenchmark`; it prints the figures the README
/// quotes and checks that both designs identified every port.
@Suite("Probe worker cost", .enabled(if: ProcessInfo.processInfo.environment["CARTOGRAPH_BENCH"] != nil))
struct WorkerBenchmark {
    static let ports = 2000

    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }

    @Test("per-port time and memory of worker processes against in-process workers")
    func measure() throws {
        let server = try ProbeRuntimeTests.helloServer()
        let library = ProbeLibrary.load(files: [(path: "probes/greeter.lua", text: ProbeRuntimeTests.echoBanner)])
        let settings = { () -> ProbeSettings in
            var settings = ProbeSettings()
            settings.concurrency = 64
            return settings
        }()
        let jobs = (0..<Self.ports).map { _ in PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp) }
        let identifier = ServiceIdentifier(library: library, probes: library.definitions, settings: settings, workers: 2)
        let plans = jobs.map(identifier.plan(for:))

        // In process, as before: two threads, each with its own ProbeWorker.
        let box = Box<Int>()
        box.value = 0
        let inProcess = try seconds {
            let group = DispatchGroup()
            for half in 0..<2 {
                group.enter()
                let thread = Thread {
                    defer { group.leave() }
                    let indices = Array(stride(from: half, to: jobs.count, by: 2))
                    guard let worker = try? ProbeWorker(library: library, probes: library.definitions, settings: settings) else { return }
                    let found = worker.identify(indices.map { jobs[$0] }, plans: indices.map { plans[$0] }, cancel: CancellationFlag())
                    box.update { $0! += found.filter { $0.match != nil }.count }
                }
                thread.stackSize = 8 << 20
                thread.start()
            }
            group.wait()
        }
        var processed: [PortIdentification] = []
        let inProcesses = try seconds { processed = try identifier.identify(jobs, cancel: CancellationFlag()) }
        #expect(box.value == Self.ports)
        #expect(processed.filter { $0.match != nil }.count == Self.ports)

        // Start-up: one port with every shipped probe loaded, which a worker compiles first.
        let shipped = try ProbeLibrary.load(directories: [Cartograph.packageRoot.appendingPathComponent("Probes").path])
        let full = ServiceIdentifier(library: shipped, probes: shipped.definitions, settings: ProbeSettings(), workers: 1)
        let one = [PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp)]
        let startup = try seconds { _ = try full.identify(one, cancel: CancellationFlag()) }

        // Memory of one worker with every shipped probe, after it served a port.
        let rss = Box<Int>()
        let supervisor = full.supervisor { _, _ in
            rss.value = 0
        }
        full.submit(one[0], to: supervisor)
        while rss.value == nil { usleep(10_000) }
        let pid = try #require(supervisor.pids.first)
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let kib = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.map { Int($0.split(separator: " ")[1]) ?? 0 } ?? 0
        supervisor.stop()
        print(String(format: "BENCH %d ports: in-process %.3f s (%.1f µs/port), worker processes %.3f s (%.1f µs/port); first port with %d shipped probes %.3f s; worker RSS %d KiB",
                     Self.ports, inProcess, inProcess / Double(Self.ports) * 1e6, inProcesses, inProcesses / Double(Self.ports) * 1e6,
                     shipped.definitions.count, startup, kib))
        #expect(kib > 0)
    }
}
