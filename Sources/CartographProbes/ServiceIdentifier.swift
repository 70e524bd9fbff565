import CartographCore
import Foundation

/// The identification pipeline: for each open port, the probes that declare the port (by
/// rarity), then a passive banner read, then every other probe of the protocol by rarity. A
/// certain match ends the search; the first tentative match is kept in case none is certain.
///
/// Ports are spread over worker threads, each with its own Lua state and reactor.
public final class ServiceIdentifier: Sendable {
    let library: ProbeLibrary
    let probes: [ProbeDefinition]
    let settings: ProbeSettings
    let workers: Int

    public init(library: ProbeLibrary, probes: [ProbeDefinition], settings: ProbeSettings,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.library = library
        self.probes = probes
        self.settings = settings
        self.workers = max(1, workers)
    }

    /// The order in which probes try a port (see `ProbePlan`).
    func plan(for job: PortJob) -> ProbePlan {
        let candidates = probes.filter { $0.proto == job.proto }
            .sorted { ($0.rarity, $0.name) < ($1.rarity, $1.name) }
        let declared = candidates.filter { $0.ports.contains(job.port) }
        let others = candidates.filter { !$0.ports.contains(job.port) && $0.rarity <= settings.intensity }
        return ProbePlan(declared: declared.map(\.name), tlsAware: candidates.filter(\.tls).map(\.name),
                         others: others.map(\.name), passive: job.proto == .tcp)
    }

    /// Identifies every job; one result per job, in the jobs' order.
    public func identify(_ jobs: [PortJob], cancel: CancellationFlag, progress: ProgressMeter? = nil) throws -> [PortIdentification] {
        guard !jobs.isEmpty else { return [] }
        let count = min(workers, jobs.count)
        let collector = ResultCollector(count: jobs.count)
        let group = DispatchGroup()
        for worker in 0..<count {
            let indices = Array(stride(from: worker, to: jobs.count, by: count))
            let share = indices.map { jobs[$0] }
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                do {
                    let runner = try ProbeWorker(library: library, probes: probes, settings: settings)
                    let results = runner.identify(share, plans: share.map(plan(for:)), cancel: cancel, progress: progress)
                    collector.store(results, at: indices)
                } catch {
                    collector.fail(error)
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        return try collector.results()
    }
}

/// Gathers the workers' results. A lock guards both fields, which is why it is Sendable.
private final class ResultCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [PortIdentification?]
    private var error: Error?

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func store(_ results: [PortIdentification], at indices: [Int]) {
        lock.withLock { for (result, index) in zip(results, indices) { slots[index] = result } }
    }

    func fail(_ error: Error) { lock.withLock { self.error = error } }

    func results() throws -> [PortIdentification] {
        try lock.withLock {
            if let error { throw error }
            return slots.compactMap { $0 }
        }
    }
}
