import CartographCore
import Foundation

/// The identification pipeline: for each open port, the probes that declare the port (by
/// rarity) beside a passive banner read, then every other probe of the protocol by rarity,
/// overlapping as `Pipeline` says. A certain match ends the search; the first tentative match
/// is kept in case none is certain.
///
/// Ports are spread over worker processes (`ProbeSupervisor`), each with its own Lua state and
/// reactor, so a probe stuck where no hook runs costs one port's probe, not the map.
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
        // Over TLS, the probes made for the port go first too (LDAPS on 636, MQTT on 8883).
        let tlsAware = declared.filter(\.tls) + candidates.filter { $0.tls && !$0.ports.contains(job.port) }
        return ProbePlan(declared: declared.map(\.name), tlsAware: tlsAware.map(\.name),
                         others: others.map(\.name), passive: job.proto == .tcp)
    }

    /// A supervisor for jobs submitted as ports are found; results reach `deliver` as each
    /// job ends (see `ProbeSupervisor`). Submit with `submit(_:to:)`.
    public func supervisor(deliver: @escaping @Sendable (Int, PortIdentification) -> Void) -> ProbeSupervisor {
        ProbeSupervisor(library: library, probes: probes, settings: settings, workers: workers, deliver: deliver)
    }

    /// Queues one port on `supervisor` with this identifier's plan for it; returns its ticket.
    @discardableResult
    public func submit(_ job: PortJob, to supervisor: ProbeSupervisor) -> Int {
        supervisor.submit(job, plan: plan(for: job))
    }

    /// Identifies every job in worker processes; one result per job, in the jobs' order. When
    /// `cancel` is set, returns at once: ports not finished are marked not identified.
    public func identify(_ jobs: [PortJob], cancel: CancellationFlag, progress: ProgressMeter? = nil) throws -> [PortIdentification] {
        guard !jobs.isEmpty else { return [] }
        let collector = ResultCollector(count: jobs.count)
        let supervisor = supervisor { ticket, result in
            collector.store(result, at: ticket)
            progress?.advance()
        }
        for job in jobs { submit(job, to: supervisor) }
        try supervisor.wait(cancel: cancel)
        return collector.results(jobs)
    }
}

/// Gathers the results by ticket (tickets are the jobs' indices). A lock guards the slots,
/// which is why it is Sendable.
private final class ResultCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [PortIdentification?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func store(_ result: PortIdentification, at index: Int) {
        lock.withLock { if index < slots.count { slots[index] = result } }
    }

    /// Every job's result; a job without one was cut short by an interrupted map.
    func results(_ jobs: [PortJob]) -> [PortIdentification] {
        lock.withLock {
            zip(jobs, slots).map { job, slot in
                slot ?? PortIdentification(address: job.address, port: job.port, proto: job.proto,
                                           errors: ["not identified: the map was interrupted"])
            }
        }
    }
}
