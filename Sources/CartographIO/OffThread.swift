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

/// One value made on a thread of its own ahead of the call that will use it: something slow to
/// make that a map would otherwise wait for at the moment it needs it (a capture whose ring the
/// kernel sets up, a worker process to spawn). `start` begins making one unless one is made or
/// being made; `take` hands it over (waiting until it is made) and leaves none behind.
public final class Ahead<Value>: @unchecked Sendable {
    /// One making: its thread writes the value once, then signals.
    private final class Making: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var value: Value?
    }

    private let lock = NSLock()
    private var making: Making?

    public init() {}

    /// Starts making one with `make` (nil: it could not be made), unless one is pending.
    public func start(_ make: @escaping @Sendable () -> Value?) {
        let fresh: Making? = lock.withLock {
            guard making == nil else { return nil }
            making = Making()
            return making
        }
        guard let fresh else { return }
        Thread.detachNewThread {
            fresh.value = make()
            fresh.done.signal()
        }
    }

    /// Starts making one unless one is pending: takes over the one `other` is making, when it
    /// is making one, else makes one with `make`. Which of several callers gets `other`'s is
    /// decided here, at once, not by whose thread gets to it first.
    public func start(from other: @autoclosure () -> Ahead<Value>, _ make: @escaping @Sendable () -> Value?) {
        let pending: Bool = lock.withLock {
            guard making == nil else { return true }
            making = other().handOver()
            return making != nil
        }
        if !pending { start(make) }
    }

    private func handOver() -> Making? {
        lock.withLock {
            defer { making = nil }
            return making
        }
    }

    /// Lets go of the one being made without waiting for it: it goes when its thread is done.
    public func abandon() { lock.withLock { making = nil } }

    /// The one made (waiting for it), or nil when none was started or it could not be made.
    public func take() -> Value? {
        guard let pending = handOver() else { return nil }
        pending.done.wait()
        return pending.value
    }
}
