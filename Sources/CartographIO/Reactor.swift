import CIOShims
import Glibc

/// Readiness an owner waits for on a file descriptor.
public struct Interest: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let readable = Interest(rawValue: UInt32(CG_EPOLLIN | CG_EPOLLRDHUP))
    public static let writable = Interest(rawValue: UInt32(CG_EPOLLOUT))
}

/// What the reactor reports for a token: the descriptor became ready, or its deadline passed.
public enum ReactorEvent: Sendable {
    case ready(token: Int, hangup: Bool)
    case timeout(token: Int)
}

/// An epoll instance with one deadline per token, driven by one thread.
///
/// Each waiter is a caller-chosen integer token. `wait(fd:for:deadline:token:)` arms a one-shot
/// watch; the next `poll` reports it ready or timed out, never both. Deadlines sit in a binary
/// heap; entries made stale by a later arm or a `cancel` are skipped by generation number.
/// Not thread-safe by design: each scanner or probe worker owns its reactor.
public final class Reactor {
    private let epollFD: Int32
    private var generation: [Int: UInt64] = [:]   // token -> current arm
    private var fdOfToken: [Int: Int32] = [:]
    private var deadlines = DeadlineHeap()
    private var nextGeneration: UInt64 = 1
    private var eventData: [UInt64]
    private var eventMasks: [UInt32]

    public init(capacity: Int = 256) throws(SocketError) {
        let fd = cg_epoll_create()
        guard fd >= 0 else { throw SocketError(operation: "epoll_create1", errno: errno) }
        epollFD = fd
        eventData = Array(repeating: 0, count: min(256, max(16, capacity)))
        eventMasks = Array(repeating: 0, count: eventData.count)
    }

    deinit { close(epollFD) }

    /// Number of armed watches.
    public var pending: Int { generation.count }

    /// Arms a one-shot watch of `fd` for `interest`, reported under `token`, timing out at `deadline`
    /// (monotonic nanoseconds; nil waits forever). Re-arming a token replaces its previous watch.
    public func wait(fd: Int32, for interest: Interest, deadline: UInt64?, token: Int) {
        let armed = nextGeneration
        nextGeneration += 1
        generation[token] = armed
        let mask = interest.rawValue | UInt32(CG_EPOLLONESHOT)
        let data = UInt64(UInt32(truncatingIfNeeded: token)) | (UInt64(UInt32(bitPattern: fd)) << 32)
        let add = Int32(CG_EPOLL_CTL_ADD), modify = Int32(CG_EPOLL_CTL_MOD)
        if fdOfToken[token] == fd {
            if cg_epoll_ctl(epollFD, modify, fd, mask, data) != 0 && errno == ENOENT {
                cg_epoll_ctl(epollFD, add, fd, mask, data)
            }
        } else {
            if cg_epoll_ctl(epollFD, add, fd, mask, data) != 0 && errno == EEXIST {
                cg_epoll_ctl(epollFD, modify, fd, mask, data)
            }
            fdOfToken[token] = fd
        }
        if let deadline { deadlines.push(deadline: deadline, token: token, generation: armed) }
    }

    /// Arms a pure timer: `token` times out at `deadline` with no descriptor. A descriptor the
    /// token watched is dropped from the watch: were it left, its readiness (a service that keeps
    /// sending) would be reported for the token and use up the timer, which then never fires.
    public func sleep(until deadline: UInt64, token: Int) {
        if let fd = fdOfToken.removeValue(forKey: token) {
            cg_epoll_ctl(epollFD, Int32(CG_EPOLL_CTL_DEL), fd, 0, 0)
        }
        let armed = nextGeneration
        nextGeneration += 1
        generation[token] = armed
        deadlines.push(deadline: deadline, token: token, generation: armed)
    }

    /// Forgets `token`'s watch. Call before closing its descriptor (closing removes it from epoll).
    public func cancel(token: Int) {
        generation[token] = nil
        if let fd = fdOfToken.removeValue(forKey: token) {
            cg_epoll_ctl(epollFD, Int32(CG_EPOLL_CTL_DEL), fd, 0, 0)
        }
    }

    /// Waits at most `maxWait` nanoseconds (and never past the earliest deadline) and returns
    /// what happened. Returns early with nothing when there is nothing to wait for.
    public func poll(maxWait: UInt64) -> [ReactorEvent] {
        var result: [ReactorEvent] = []
        let now = MonotonicClock.now()
        var wait = maxWait
        while let top = deadlines.peek {
            if generation[top.token] != top.generation { _ = deadlines.pop(); continue }
            wait = top.deadline <= now ? 0 : min(wait, top.deadline - now)
            break
        }
        let timeoutMs = Int32(min(UInt64(Int32.max), (wait + 999_999) / 1_000_000))
        let capacity = Int32(eventData.count)
        let count = cg_epoll_wait(epollFD, &eventData, &eventMasks, capacity, timeoutMs)
        if count > 0 {
            for index in 0..<Int(count) {
                let data = eventData[index]
                let token = Int(Int32(bitPattern: UInt32(truncatingIfNeeded: data)))
                let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: data >> 32))
                // A token may have moved to another descriptor since this one was armed.
                guard generation[token] != nil, fdOfToken[token] == fd else { continue }
                generation[token] = nil
                let hangup = eventMasks[index] & UInt32(CG_EPOLLHUP | CG_EPOLLERR) != 0
                result.append(.ready(token: token, hangup: hangup))
            }
        }
        let after = MonotonicClock.now()
        while let top = deadlines.peek, top.deadline <= after {
            _ = deadlines.pop()
            guard generation[top.token] == top.generation else { continue }
            generation[top.token] = nil
            result.append(.timeout(token: top.token))
        }
        return result
    }
}

/// A binary min-heap of (deadline, token, generation).
struct DeadlineHeap {
    struct Entry { var deadline: UInt64; var token: Int; var generation: UInt64 }
    private var items: [Entry] = []

    var peek: Entry? { items.first }
    var count: Int { items.count }

    mutating func push(deadline: UInt64, token: Int, generation: UInt64) {
        items.append(Entry(deadline: deadline, token: token, generation: generation))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if items[parent].deadline <= items[child].deadline { break }
            items.swapAt(parent, child)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left].deadline < items[smallest].deadline { smallest = left }
            if right < items.count && items[right].deadline < items[smallest].deadline { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
