import CartographCore
import CartographIO
import CWorkerShims
import Foundation
import Glibc

/// Runs the host classification rules in a worker process, host by host, and kills it when
/// the rules overrun one host (`LuaHostClassifier.timeLimitMs` plus a second): that host goes
/// unclassified with a warning naming the rules' file:line, and the hosts after it go on in a
/// fresh process. When no worker can start, the hosts stay unclassified, with a warning.
struct ClassifierSupervision {
    let classifier: LuaHostClassifier
    var executable = ProbeWorkerExecutable.path

    /// What a worker is told before its first host: the rules and the libraries they use.
    var setup: WorkerSetup {
        var library = ProbeLibrary()
        library.classifier = (classifier.file, classifier.text)
        var settings = ProbeSettings()
        settings.memoryLimit = 64 << 20
        settings.concurrency = 1
        var setup = WorkerSetup(mode: .classifier, library: library, probes: [], settings: settings)
        setup.libraries = classifier.libraries.mapValues { WireSource(file: $0.file, text: $0.text) }
        return setup
    }

    func classify(_ hosts: [HostResult], neighbours: Set<String>, warnings: inout [String]) -> [HostClassification?] {
        var results = [HostClassification?](repeating: nil, count: hosts.count)
        let setup = setup
        var next = 0
        var starts = 0
        while next < hosts.count {
            starts += 1
            // Each start settles at least one host, so this ends; the guard only makes that plain.
            guard starts <= hosts.count else { return results }
            let process: WorkerProcess
            do {
                // The first start may have been made ahead (`LuaHostClassifier.prepare`).
                if let ready = try classifier.spare.take() {
                    process = ready
                } else {
                    process = try WorkerProcess(executable: executable)
                    process.send(.setup(setup))
                }
            } catch {
                // Never run the rules here instead: they could hang the map.
                warnings.append("host classification: \(error.description); \(hosts.count - next) host(s) not classified")
                return results
            }
            process.send(.classify(id: 0, hosts: Array(hosts[next...]), neighbours: Array(neighbours)))
            let base = next
            let outcome = Outcome()
            let reader = Thread {
                process.readAll { message in
                    guard case .classified(_, let index, let result, let found) = message else { return }
                    outcome.add(base + index, result?.value, found)
                }
                outcome.end(process.reap())
            }
            reader.start()
            // Watch the slot until the process has answered for every host or ended.
            var killedReason: String?
            while !outcome.wait(until: hosts.count) {
                let view = process.view()
                if view.busy != 0, cg_now_ns() > view.start_ns + UInt64(Int(view.limit_ms) + ProbeSupervisor.graceMs) * 1_000_000 {
                    killedReason = "ran past its time limit of \(view.limit_ms) ms (stuck inside one call; its worker process was killed)"
                    process.kill()
                    outcome.waitForEnd()
                    break
                }
            }
            process.finish()
            let (answered, found, endReason) = outcome.take()
            for (index, result) in answered { results[index] = result }
            warnings += found
            next = (answered.keys.max() ?? (base - 1)) + 1
            if next < hosts.count {
                // The host whose rules were running is the one after the last answer.
                let view = process.view()
                let place = view.whereText.isEmpty ? classifier.file : view.whereText
                let reason = killedReason ?? endReason ?? "the worker process ended"
                warnings.append("host classification of \(hosts[next].address): rules \(place) stopped: \(reason)")
                next += 1
            }
            process.kill()
        }
        return results
    }

    /// What the reader thread gathered. A condition guards the fields, which is why it is Sendable.
    private final class Outcome: @unchecked Sendable {
        private let condition = NSCondition()
        private var answered: [Int: HostClassification?] = [:]
        private var warnings: [String] = []
        private var ended = false
        private var reason: String?

        func add(_ index: Int, _ result: HostClassification?, _ found: [String]) {
            condition.withLock {
                answered[index] = result
                warnings += found
                condition.broadcast()
            }
        }

        func end(_ reason: String?) {
            condition.withLock {
                ended = true
                self.reason = reason
                condition.broadcast()
            }
        }

        /// Waits up to 50 ms; true once the last host answered or the process ended.
        func wait(until count: Int) -> Bool {
            condition.withLock {
                if !ended && (answered.keys.max() ?? -1) < count - 1 { _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05)) }
                return ended || (answered.keys.max() ?? -1) >= count - 1
            }
        }

        func waitForEnd() {
            condition.withLock { while !ended { condition.wait() } }
        }

        func take() -> ([Int: HostClassification?], [String], String?) {
            condition.withLock { (answered, warnings, reason) }
        }
    }
}

/// A classifier's worker process started ahead of the call that will use it (see `Ahead`):
/// spawning and loading the binary is most of a small map's classification time. Taken once;
/// one that no call took is killed and reaped on `release`.
public final class SpareWorker: Sendable {
    private let ahead = Ahead<Result<WorkerProcess, WorkerStartError>>()

    public init() {}

    /// Starts one with `start`, unless one is started or starting.
    func prepare(_ start: @escaping @Sendable () throws(WorkerStartError) -> WorkerProcess) {
        ahead.start {
            do throws(WorkerStartError) { return .success(try start()) } catch { return .failure(error) }
        }
    }

    /// The started one (waiting for its start), nil when none was prepared; throws the start's
    /// failure.
    func take() throws(WorkerStartError) -> WorkerProcess? { try ahead.take()?.get() }

    /// Ends one that no call took.
    func release() {
        guard let process = try? take() else { return }
        process.kill()
        Thread.detachNewThread { _ = process.reap() }
    }
}
