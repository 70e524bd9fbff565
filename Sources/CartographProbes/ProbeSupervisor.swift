import CartographCore
import CWorkerShims
import Foundation
import Glibc

/// Identification in worker processes: jobs are submitted one by one as ports are found, spread
/// over up to `workers` child processes (`cartograph probe-worker`), and each result is
/// delivered as soon as its job ends.
///
/// A monitor thread watches every child's step slot. A step still running one second past its
/// time limit (a pattern backtracking inside one C call, where no hook can stop it), a child
/// that stopped turning its loop, or a child that died (rlimits, a crash, an outside kill) costs
/// that child a SIGKILL: the job whose step was running gets "probe NAME (file:line) stopped:
/// REASON" and goes on without that probe on a fresh child; the child's other jobs start again
/// there. A job that brings down two children is given up on with its reasons.
///
/// Thread-safe: one lock guards all state; results are delivered outside it.
public final class ProbeSupervisor: @unchecked Sendable {
    /// Kill a step this long past its own time limit.
    static let graceMs = 1000

    private struct JobState {
        let job: PortJob
        var plan: ProbePlan
        /// Errors from children killed while this job ran; they join its result.
        var carried: [String] = []
        var strikes = 0
        var worker: Int?
    }

    /// Its mutable fields are touched only under the supervisor's lock, which is why it is Sendable.
    private final class Worker: @unchecked Sendable {
        let id: Int
        let process: WorkerProcess
        var inFlight: Set<Int> = []
        /// Jobs in flight per host: unless the cap is spread, a host's ports all go to one child,
        /// which counts the host's connections against `host_parallelism`.
        var hosts: [IPAddress: Int] = [:]
        var ready = false
        /// Set when the parent killed it: the job to blame (nil: none known) and why.
        var killed: (job: Int?, reason: String)?
        init(id: Int, process: WorkerProcess) {
            self.id = id
            self.process = process
        }
    }

    private let setup: WorkerSetup
    private let settings: ProbeSettings
    private let maxWorkers: Int
    private let executable: String
    private let deliver: @Sendable (Int, PortIdentification) -> Void
    private let lock = NSCondition()
    private var jobs: [Int: JobState] = [:]
    private var pending: [Int] = []
    private var workers: [Int: Worker] = [:]
    private var nextTicket = 0
    private var nextWorker = 0
    private var finishing = false
    private var stopped = false
    private var failure: Error?
    /// Results taken out of `jobs` but not yet handed to `deliver`.
    private var delivering = 0
    private var started = 0
    /// Whether a host's ports spread over the children (each with its share of the host's cap)
    /// or stay on one child.
    private let spread: Bool
    /// Children started so far (a replaced child counts again).
    public var spawned: Int { lock.withLock { started } }

    /// `deliver` gets each job's ticket and result, on a supervisor thread, as it ends.
    public init(library: ProbeLibrary, probes: [ProbeDefinition], settings: ProbeSettings, workers: Int,
                executable: String = ProbeWorkerExecutable.path,
                deliver: @escaping @Sendable (Int, PortIdentification) -> Void) {
        maxWorkers = max(1, workers)
        // A host's connection cap is shared out among the children when it divides evenly, so a
        // host's ports spread over them (a probe that takes its child down costs the host's other
        // ports a restart at most, never their identification); a cap that does not divide
        // keeps each host on one child, which counts its connections alone.
        let cap = max(1, settings.hostParallelism)
        spread = cap % maxWorkers == 0
        var childSettings = settings
        if spread { childSettings.hostParallelism = cap / maxWorkers }
        setup = WorkerSetup(mode: .probes, library: library, probes: probes, settings: childSettings)
        self.settings = settings
        self.executable = executable
        self.deliver = deliver
        let monitor = Thread { [weak self] in
            while let self, self.watch() { usleep(50_000) }
        }
        monitor.start()
    }

    /// Starts the first child before any job comes, so that its start-up (the spawn, loading
    /// the probes) overlaps what the map does before it finds its first open port. A child that
    /// cannot start here is tried again, and reported, when a job needs it.
    public func prewarm() {
        lock.withLock {
            guard workers.isEmpty, !stopped, failure == nil else { return }
            _ = try? start()
        }
    }

    /// Queues one port with its plan; returns its ticket.
    @discardableResult
    func submit(_ job: PortJob, plan: ProbePlan) -> Int {
        lock.lock()
        defer { lock.unlock() }
        let ticket = nextTicket
        nextTicket += 1
        guard !stopped else { return ticket }
        jobs[ticket] = JobState(job: job, plan: plan)
        pending.append(ticket)
        dispatch()
        return ticket
    }

    /// Waits until every submitted job has its result, or `cancel` is set (then the children are
    /// killed at once and the unfinished jobs get no result). Throws when the probes could not
    /// load or no worker could start.
    public func wait(cancel: CancellationFlag) throws {
        lock.lock()
        finishing = true
        while (!jobs.isEmpty || delivering > 0) && failure == nil && !cancel.isCancelled {
            _ = lock.wait(until: Date(timeIntervalSinceNow: 0.05))
        }
        let failure = self.failure
        lock.unlock()
        stop()
        if let failure { throw failure }
    }

    /// Ends every child now; jobs not finished stay without a result.
    public func stop() {
        lock.lock()
        stopped = true
        let all = Array(workers.values)
        lock.unlock()
        for worker in all {
            worker.process.kill()
        }
    }

    /// The tickets whose jobs have no result yet.
    public var unfinished: [Int] { lock.withLock { Array(jobs.keys) } }

    /// Children now running (pids), for tests that kill one from outside.
    public var pids: [pid_t] { lock.withLock { workers.values.map(\.process.pid) } }

    // MARK: - Under the lock

    private func dispatch() {
        let room = max(1, settings.concurrency)
        var index = 0
        while index < pending.count, !stopped, failure == nil {
            let ticket = pending[index]
            guard var state = jobs[ticket] else {
                pending.remove(at: index)
                continue
            }
            let live = workers.values.filter { $0.killed == nil }
            // A host with ports in flight keeps its child, so that its connection cap holds.
            var target = spread ? nil : live.first { $0.hosts[state.job.address] != nil }
            if target == nil {
                target = live.min { $0.inFlight.count < $1.inFlight.count }
                if target == nil || (target!.inFlight.count > 0 && workers.count < maxWorkers) {
                    do {
                        target = try start()
                    } catch {
                        if workers.isEmpty { failure = error; lock.broadcast() }
                        if target == nil { return }
                    }
                }
            }
            guard let worker = target, worker.inFlight.count < room else {
                // Every child is full: nothing further down the queue can go either.
                if live.allSatisfy({ $0.inFlight.count >= room }) && workers.count >= maxWorkers { return }
                index += 1
                continue
            }
            pending.remove(at: index)
            state.worker = worker.id
            jobs[ticket] = state
            worker.inFlight.insert(ticket)
            worker.hosts[state.job.address, default: 0] += 1
            worker.process.send(.job(WireJob(id: ticket, address: state.job.address.description, port: state.job.port,
                                             proto: state.job.proto, hostname: state.job.hostname, plan: state.plan)))
        }
    }

    private func start() throws -> Worker {
        let process = try WorkerProcess(executable: executable)
        let worker = Worker(id: nextWorker, process: process)
        nextWorker += 1
        started += 1
        workers[worker.id] = worker
        process.send(.setup(setup))
        let reader = Thread { [weak self] in
            process.readAll { message in self?.received(message, from: worker) }
            let reason = process.reap()
            self?.ended(worker, reason: reason)
        }
        reader.start()
        return worker
    }

    // MARK: - Reader threads

    private func received(_ message: WorkerMessage, from worker: Worker) {
        switch message {
        case .ready:
            lock.withLock { worker.ready = true }
        case .result(let wire):
            let delivered: PortIdentification? = lock.withLock {
                // A result that came just before a kill still counts.
                worker.inFlight.remove(wire.id)
                guard let state = jobs.removeValue(forKey: wire.id) else { return nil }
                let left = worker.hosts[state.job.address, default: 1] - 1
                worker.hosts[state.job.address] = left > 0 ? left : nil
                var result = wire.identification(of: state.job)
                result.errors = state.carried + result.errors
                delivering += 1
                dispatch()
                return result
            }
            if let delivered { handOver([(wire.id, delivered)]) }
        case .failed(let file, let message):
            lock.withLock {
                failure = ProbeLoadError(file: file, message: message)
                lock.broadcast()
            }
        default:
            break
        }
    }

    /// A child ended: blame the job whose step was running, re-queue the others on a fresh child.
    private func ended(_ worker: Worker, reason: String?) {
        let view = worker.process.view()
        var givenUp: [(Int, PortIdentification)] = []
        lock.withLock {
            workers[worker.id] = nil
            defer {
                dispatch()
                lock.broadcast()
            }
            guard !stopped, failure == nil else { return }
            var blamed: Int?
            var cause = reason ?? "the worker process ended"
            if let killed = worker.killed {
                blamed = killed.job
                cause = killed.reason
            } else if view.busy != 0 {
                blamed = Int(view.job)
            }
            let what = view.busy != 0 || worker.killed?.job != nil ? view.whatText : ""
            let place = view.whereText
            for ticket in worker.inFlight.sorted() {
                guard var state = jobs[ticket] else { continue }
                if blamed == nil || blamed == ticket {
                    state.strikes += 1
                    state.carried.append(Self.blame(what: what, place: place, reason: cause))
                    // The job goes on without the step that stopped.
                    if blamed == ticket { state.plan.drop(step: what) }
                }
                if state.strikes >= 2 {
                    jobs[ticket] = nil
                    var result = PortIdentification(address: state.job.address, port: state.job.port, proto: state.job.proto)
                    let last = Self.stepName(what: what, place: place).map { ", the last time in \($0)" } ?? ""
                    result.errors = state.carried + ["not identified: it stopped two worker processes in a row\(last)"]
                    givenUp.append((ticket, result))
                    delivering += 1
                } else {
                    state.worker = nil
                    jobs[ticket] = state
                    pending.insert(ticket, at: 0)
                }
            }
        }
        handOver(givenUp)
    }

    /// Delivers results outside the lock (a consumer may submit more), then lets `wait` see them.
    private func handOver(_ results: [(Int, PortIdentification)]) {
        guard !results.isEmpty else { return }
        for (ticket, result) in results { deliver(ticket, result) }
        lock.withLock {
            delivering -= results.count
            lock.broadcast()
        }
    }

    /// `what` is the slot's text: "NAME<tab>FILE" for a probe, else a passive step's name.
    static func blame(what: String, place: String, reason: String) -> String {
        guard let step = stepName(what: what, place: place) else { return "probe worker stopped: \(reason)" }
        return "\(step) stopped: \(reason)"
    }

    /// "probe NAME (FILE:LINE)" for a probe (the line where it was inside a library call, if
    /// the slot has it), a passive step's name, or nil when no step was running.
    static func stepName(what: String, place: String) -> String? {
        guard !what.isEmpty else { return nil }
        let parts = what.split(separator: "\t", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return what }
        return "probe \(parts[0]) (\(place.isEmpty ? parts[1] : place))"
    }

    // MARK: - Monitor thread

    /// One look at every child; false once stopped.
    private func watch() -> Bool {
        let now = cg_now_ns()
        lock.lock()
        if stopped && workers.isEmpty {
            lock.unlock()
            return false
        }
        let all = workers.values.filter { $0.killed == nil && $0.ready }
        lock.unlock()
        for worker in all {
            let view = worker.process.view()
            var verdict: (job: Int?, reason: String)?
            if view.busy != 0, now > view.start_ns + UInt64(Int(view.limit_ms) + Self.graceMs) * 1_000_000 {
                verdict = (Int(view.job), "ran past its time limit of \(view.limit_ms) ms (stuck inside one call; its worker process was killed)")
            } else if view.busy == 0, view.heartbeat_ns > 0,
                      now > view.heartbeat_ns + UInt64(max(settings.probeTimeoutMs, 5000) + Self.graceMs) * 1_000_000 {
                verdict = (nil, "the worker process stopped answering")
            }
            guard let verdict else { continue }
            lock.withLock { if worker.killed == nil { worker.killed = verdict } }
            worker.process.kill()
        }
        return true
    }

    deinit {
        for worker in workers.values { worker.process.kill() }
    }
}

extension ProbePlan {
    /// Leaves out the step that ran `what` (a probe file, or a passive step's name).
    mutating func drop(step what: String) {
        let parts = what.split(separator: "\t", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            passive = false
            return
        }
        let name = parts[0]
        declared.removeAll { $0 == name }
        tlsAware.removeAll { $0 == name }
        others.removeAll { $0 == name }
    }
}
