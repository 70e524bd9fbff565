import CartographCore
import CartographSession
import CartographStore
import Foundation

/// Ctrl-C and SIGTERM: the first sets the cancellation flag that every stage looks at; both
/// signals then go back to their default action, so a second one ends the process at once.
///
/// Stages look at the flag at least every 100-200 ms, but a call that cannot be interrupted (a
/// store write waiting for a lock, a rules file stuck in one C call) could still hold the map.
/// The watchdog makes the first signal final anyway: if the map has not ended `grace` after
/// it, the watchdog writes the report from what the maps had found (the finished maps and the
/// running one's newest checkpoint), stores that as interrupted and exits 130. Once the report
/// is written (notifications are being sent), it only exits.
final class InterruptWatchdog: @unchecked Sendable {
    enum Phase { case mapping, finishing, reported, takenOver }

    // Guarded by `lock`: the map's thread reports progress, the watchdog's thread reads it.
    private let lock = NSLock()
    private var phase = Phase.mapping
    private var maps: [MapResult] = []
    private var current: (skeleton: MapResult, writer: CheckpointWriter?)?
    private let flag: CancellationFlag
    private let grace: UInt32
    private let render: ([MapResult]) throws(CLIError) -> Void

    /// `render` writes the report of the maps it is given (the same as the normal path does).
    init(flag: CancellationFlag, graceMs: Int = 700, render: @escaping ([MapResult]) throws(CLIError) -> Void) {
        self.flag = flag
        grace = UInt32(graceMs * 1000)
        self.render = render
    }

    /// Installs the handlers and starts watching for the first signal.
    func install() {
        unblockStopSignals()
        for stop in [SIGINT, SIGTERM] {
            signal(stop) { _ in
                interruption.cancel()
                signal(SIGINT, SIG_DFL)   // a second Ctrl-C or SIGTERM ends the process at once
                signal(SIGTERM, SIG_DFL)
            }
        }
        Thread.detachNewThread { [self] in watch() }
    }

    func began(_ skeleton: MapResult, writer: CheckpointWriter?) {
        lock.withLock { current = (skeleton, writer) }
    }

    /// The running map so far, as its checkpoints see it.
    func checkpoint(_ partial: MapResult) {
        lock.withLock { current?.skeleton = partial }
    }

    func ended(_ map: MapResult) {
        lock.withLock {
            maps.append(map)
            current = nil
        }
    }

    /// The map's thread is about to write the report; false when the watchdog already does, and
    /// then the caller must wait for the process to end.
    func claimReport() -> Bool {
        lock.withLock {
            guard phase == .mapping else { return false }
            phase = .finishing
            return true
        }
    }

    func reported() { lock.withLock { phase = .reported } }

    private func watch() {
        while !flag.isCancelled { usleep(20_000) }
        usleep(grace)
        let taken = lock.withLock { () -> (Phase, [MapResult], (skeleton: MapResult, writer: CheckpointWriter?)?) in
            let was = phase
            if phase == .mapping { phase = .takenOver }
            return (was, maps, current)
        }
        switch taken.0 {
        case .mapping:
            var found = taken.1
            if let (skeleton, writer) = taken.2 {
                var partial = skeleton
                partial.status = .interrupted
                partial.finishedAt = Date()
                partial.warnings.append("interrupted: a stage did not stop in time; this map holds its last checkpoint")
                writer?.seal(with: partial, waitMs: 200)
                found.append(partial)
            }
            do { try render(found) } catch { printError(error.message) }
        case .finishing:
            // The report is being written: give it a moment more, never forever.
            for _ in 0..<100 where lock.withLock({ phase }) == .finishing { usleep(20_000) }
        case .reported, .takenOver:
            break
        }
        printError("interrupted; the report and the store hold what was found")
        _exit(130)
    }
}

/// SIGINT and SIGTERM reach this process: a parent may have blocked them (a test runner, a
/// supervisor), and the mask is inherited.
func unblockStopSignals() {
    var stops = sigset_t()
    sigemptyset(&stops)
    sigaddset(&stops, SIGINT)
    sigaddset(&stops, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &stops, nil)
}
