import CartographCore
import Foundation

/// A bounded queue between two stages of a map. The producer waits while it is full
/// (backpressure: a stage that falls behind slows the one before it, so a /8 stays in flat
/// memory); the consumer takes what has arrived, in batches, and learns when the producer is
/// done. Every wait wakes at least every 50 ms to notice a cancelled map. A condition variable
/// guards the items, which is why it is Sendable.
public final class StageQueue<Item: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Item] = []
    private var head = 0
    private var closed = false
    /// Threads waiting in `take` (for an item) and in `put` (for room): a put or take wakes the
    /// other side only when someone waits, so a busy stream is not a wake-up an item.
    private var takers = 0, putters = 0
    private let cancel: CancellationFlag
    public let capacity: Int

    public init(capacity: Int, cancel: CancellationFlag) {
        self.capacity = max(1, capacity)
        self.cancel = cancel
    }

    /// Adds one item, waiting while the queue is full. False when the map was cancelled or the
    /// queue closed: the item was not taken.
    @discardableResult
    public func put(_ item: Item) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity && !closed && !cancel.isCancelled {
            putters += 1
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
            putters -= 1
        }
        guard !closed && !cancel.isCancelled else { return false }
        items.append(item)
        if takers > 0 { condition.broadcast() }
        return true
    }

    /// No more items will come; the consumer drains what is queued, then gets nil.
    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for at least one item, then takes up to `limit` of those queued. Nil once the queue
    /// is closed and empty, or the map was cancelled.
    public func take(limit: Int = .max) -> [Item]? {
        condition.lock()
        defer { condition.unlock() }
        while items.count == head && !closed && !cancel.isCancelled {
            takers += 1
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
            takers -= 1
        }
        guard !cancel.isCancelled, items.count > head else { return nil }
        let end = head + min(max(1, limit), items.count - head)
        let batch = Array(items[head..<end])
        head = end
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        if putters > 0 { condition.broadcast() }
        return batch
    }

    /// Items waiting now.
    public var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return items.count - head
    }
}
