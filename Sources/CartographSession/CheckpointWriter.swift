import CartographCore
import CartographStore
import Foundation

/// Writes a running map's checkpoints to the store from a thread of its own, so a slow disk or a
/// store locked by another process never stalls the engine's packet loop. Only the newest
/// checkpoint matters: one submitted while another is being written replaces any still waiting.
/// Also keeps the newest checkpoint, so a map that fails keeps what it had found.
public final class CheckpointWriter: @unchecked Sendable {
    // Guarded by `lock`; the store is used only from `queue`.
    private let lock = NSLock()
    private var pending: MapResult?
    private var newest: MapResult?
    private var failure: String?
    private var sealed = false
    private let queue = DispatchQueue(label: "cartograph.checkpoints")
    private let store: any MapStore
    private let id: Int64

    public init(store: any MapStore, id: Int64) {
        self.store = store
        self.id = id
    }

    /// The map so far; written soon, on the writer's queue.
    public func submit(_ map: MapResult) {
        let schedule = lock.withLock { () -> Bool in
            guard !sealed else { return false }
            let idle = pending == nil
            pending = map
            newest = map
            return idle
        }
        guard schedule else { return }
        queue.async { [self] in
            guard let map = lock.withLock({ () -> MapResult? in
                defer { pending = nil }
                return pending
            }) else { return }
            do { try store.save(map, id: id) } catch {
                lock.withLock { failure = failure ?? "\(error)" }
            }
        }
    }

    /// Takes no more checkpoints and writes `final` after the write in progress, waiting for it
    /// at most `waitMs` (a store held by another writer must not hold an interrupted map).
    public func seal(with final: MapResult, waitMs: Int) {
        lock.withLock {
            sealed = true
            pending = nil
        }
        let written = DispatchSemaphore(value: 0)
        queue.async { [self] in
            _ = try? store.save(final, id: id)
            written.signal()
        }
        _ = written.wait(timeout: .now() + .milliseconds(waitMs))
    }

    /// Waits for the write in progress; returns the newest checkpoint and the first failure.
    public func finish() -> (newest: MapResult?, failure: String?) {
        queue.sync {}
        return lock.withLock { (newest, failure) }
    }
}
