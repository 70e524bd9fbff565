import CartographCore
import Foundation

/// Runs a blocking call that cannot be interrupted (getaddrinfo, say) on a thread of its own and
/// waits for it in short steps, so a cancelled map moves on at once: the call is then left to
/// finish on its own and its answer dropped.
public enum OffThread {
    /// `work`'s result, or nil when `cancel` was set before it returned.
    public static func run<Value: Sendable>(cancel: CancellationFlag, stepMs: Int = 100,
                                            _ work: @escaping @Sendable () -> Value) -> Value? {
        guard !cancel.isCancelled else { return nil }
        let box = Box<Value>()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            box.set(work())
            done.signal()
        }
        while !cancel.isCancelled {
            if done.wait(timeout: .now() + .milliseconds(stepMs)) == .success { return box.get() }
        }
        return nil
    }

    // The worker writes once, the waiter reads after the semaphore: the lock makes it visible.
    private final class Box<Value>: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Value?
        func set(_ new: Value) { lock.withLock { value = new } }
        func get() -> Value? { lock.withLock { value } }
    }
}
