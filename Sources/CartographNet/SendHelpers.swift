import CartographCore
import Foundation
import Synchronization

/// Threads that share a raw run's first pass when it has no rate limit (`--rate 0`).
///
/// On Linux a packet sent into a veth pair or a bridge is forwarded, answered and its answer
/// delivered within the sender's own system call, so one sending thread is bounded by one core
/// however fast its own code is: `bench/path-limit.sh` measures about 170,000 SYNs and their RSTs
/// a second from one C thread here, and twice that from two. The run's thread claims batches of
/// the order from a shared counter and so do the helpers; only the run's thread captures and
/// matches answers (the kernel queues them meanwhile), paces, and judges loss. Once congestion
/// control sets a rate, or the run is cancelled, the helpers stop claiming and the run's thread
/// goes on alone.
///
/// Used only where a batch's packets do not depend on the answers seen so far (the first pass,
/// no `stopOnAnswer`, no ARP) and where the run keeps no cursor (a sweep's cursor settles a
/// prefix of the order, which batches claimed out of turn would break).
final class SendShare: Sendable {
    /// The next index of the order not claimed yet.
    let next: Atomic<UInt64>
    let end: UInt64
    /// Set once the helpers must stop claiming.
    let stop = Atomic<Bool>(false)
    /// Packets the helpers sent so far, for congestion control.
    let helperSent = Atomic<Int>(0)
    let batch: UInt64 = 64
    struct Results {
        var sent = 0
        var errors: [Int32: Int] = [:]
        /// Pairs settled without a packet (the probe does not apply to the address).
        var inapplicable: [RawProber.Key] = []
        /// The first failure of a helper (no route to a destination, say); the run fails with it.
        var failure: RawError?
    }

    private let results = Mutex(Results())
    private let finished = DispatchSemaphore(value: 0)
    private let started = Atomic<Int>(0)

    init(start: UInt64, end: UInt64) {
        next = Atomic(start)
        self.end = end
    }

    /// Helper threads worth starting for `pairs` pairs on this machine: one fewer than the cores
    /// online, at most 3, none for small runs.
    static func helpers(for pairs: UInt64) -> Int {
        guard pairs >= 4096 else { return 0 }
        return max(0, min(3, ProcessInfo.processInfo.activeProcessorCount - 1))
    }

    /// The next batch, or nil once the order is all claimed.
    func claim() -> Range<UInt64>? {
        let first = next.wrappingAdd(batch, ordering: .relaxed).oldValue
        guard first < end else { return nil }
        return first..<min(end, first + batch)
    }

    /// Starts a helper that sends the batches it claims. `pair` names an index's address and
    /// probe; `build` makes its packet, nil where the probe does not apply to the address.
    func startHelper(progress: ProgressMeter?, pair: @escaping @Sendable (UInt64) -> RawProber.Key,
                     build: @escaping @Sendable (RawProber.Key, SourceAddresses) throws(RawError) -> ProbePacket?) {
        started.wrappingAdd(1, ordering: .relaxed)
        Thread.detachNewThread { [self] in
            defer { finished.signal() }
            var done = Results()
            defer { results.withLock { $0.absorb(done) } }
            let sender: RawSender
            do { sender = try RawSender() } catch { return }   // the run's own thread sends it all
            let sources = SourceAddresses()
            do throws(RawError) {
                while !stop.load(ordering: .relaxed), let range = claim() {
                    for index in range {
                        let key = pair(index)
                        guard let packet = try build(key, sources) else {
                            done.inapplicable.append(key)
                            continue
                        }
                        sender.add(PacketEncoder.encode(packet), to: key.address)
                    }
                    let left = sender.flush()
                    done.sent += left
                    helperSent.wrappingAdd(left, ordering: .relaxed)
                    progress?.advance(range.count)
                }
            } catch {
                done.failure = error
                stop.store(true, ordering: .relaxed)
            }
            done.errors = sender.errors
        }
    }

    /// Stops the helpers, waits until every one has ended, and returns what they did.
    func join() -> Results {
        stop.store(true, ordering: .relaxed)
        for _ in 0..<started.load(ordering: .relaxed) { finished.wait() }
        return results.withLock { $0 }
    }
}

extension SendShare.Results {
    mutating func absorb(_ other: Self) {
        sent += other.sent
        errors.merge(other.errors, uniquingKeysWith: +)
        inapplicable += other.inapplicable
        failure = failure ?? other.failure
    }
}
