import CartographCore
@testable import CartographEngine
import CartographNet
import CartographProbes
import Foundation
import Synchronization
import Testing

/// The scheduler's stages, each driven alone by hand, and the pipeline with engines the test
/// scripts: no network, no clock but the test's own steps. Waits are bounded (a semaphore with
/// a generous timeout) so that a broken pipeline fails with a message instead of hanging.
@Suite("The streaming pipeline")
struct PipelineTests {
    static func address(_ text: String) -> IPAddress { IPAddress(text)! }
    static func set(_ texts: String...) -> AddressSet { AddressSet(texts.map { AddressRange(address($0)) }) }

    /// Gathers the events a stage emits, from any thread.
    final class Events: Sendable {
        private let list = Mutex<[MapEvent]>([])
        let arrived = DispatchSemaphore(value: 0)
        func emit(_ event: MapEvent) {
            list.withLock { $0.append(event) }
            arrived.signal()
        }
        var all: [MapEvent] { list.withLock { $0 } }
        /// Waits until the stage has said it finished; false if it did not within 10 s.
        func waitForFinish() -> Bool {
            while true {
                if case .finished? = all.last { return true }
                guard arrived.wait(timeout: .now() + 10) == .success else { return false }
            }
        }
        /// Waits for `count` more events; false if they did not come within 10 s.
        func wait(_ count: Int) -> Bool {
            (0..<count).allSatisfy { _ in arrived.wait(timeout: .now() + 10) == .success }
        }
    }

    @Test("a full queue holds its producer until the consumer takes; a closed queue drains, then ends")
    func backpressure() {
        let queue = StageQueue<Int>(capacity: 2, cancel: CancellationFlag())
        #expect(queue.put(1) && queue.put(2))
        let third = DispatchSemaphore(value: 0)
        let producer = Thread {
            queue.put(3)
            third.signal()
        }
        producer.start()
        #expect(third.wait(timeout: .now() + 0.3) == .timedOut, "the producer went past a full queue")
        #expect(queue.take(limit: 1) == [1])
        #expect(third.wait(timeout: .now() + 10) == .success, "the producer was not let go once there was room")
        queue.close()
        #expect(!queue.put(4), "a closed queue takes nothing more")
        #expect(queue.take() == [2, 3])
        #expect(queue.take() == nil)
    }

    @Test("a cancelled map ends every wait on a queue: the producer's and the consumer's")
    func cancelled() {
        let cancel = CancellationFlag()
        let queue = StageQueue<Int>(capacity: 1, cancel: cancel)
        queue.put(1)
        let ended = DispatchSemaphore(value: 0)
        Thread {
            _ = queue.put(2)
            ended.signal()
        }.start()
        cancel.cancel()
        #expect(ended.wait(timeout: .now() + 10) == .success)
        #expect(queue.take() == nil)
    }

    /// A scan engine that records each batch of hosts it is given and finds port 22 open on each.
    final class ScriptedScan: PortScanEngine, @unchecked Sendable {
        let batches = Mutex<[[IPAddress]]>([])
        let scanned = DispatchSemaphore(value: 0)
        var method: String { "scripted" }
        var scansUDP: Bool { false }
        func scan<Hosts: Sequence>(hosts: Hosts, ports: PortSelection, profile: Profile, cancel: CancellationFlag,
                                   progress: ProgressMeter, observe: (PortObservation) -> Void) throws -> Bool where Hosts.Element == IPAddress {
            let list = Array(hosts)
            batches.withLock { $0.append(list) }
            for host in list { observe(PortObservation(address: host, port: 22, proto: .tcp, state: .open)) }
            progress.advance(list.count)
            scanned.signal()
            return true
        }
    }

    @Test("the scan stage scans the hosts that have arrived while more are still coming")
    func scanStreams() throws {
        let engine = ScriptedScan()
        let stage = ScanStage(engine: engine, ports: PortSelection(tcp: [22], udp: []), profile: Profile(), cancel: CancellationFlag())
        let inbox = StageQueue<AddressSet>(capacity: 16, cancel: CancellationFlag())
        let events = Events()
        stage.start(inbox, meter: ProgressMeter().meter(for: .scan)) { events.emit($0) }
        inbox.put(Self.set("192.0.2.1"))
        #expect(engine.scanned.wait(timeout: .now() + 10) == .success, "the first host waited for the inbox to close")
        inbox.put(Self.set("192.0.2.2"))
        inbox.put(Self.set("192.0.2.3"))
        inbox.close()
        // Three ports, one `.scanned` per batch (one to three batches), then the end.
        #expect(events.waitForFinish(), "the stage did not finish: \(events.all)")
        #expect(events.all.filter { if case .port = $0 { true } else { false } }.count == 3)
        let batches = engine.batches.withLock { $0 }
        #expect(batches.first == [Self.address("192.0.2.1")])
        #expect(batches.joined().count == 3 && batches.count <= 3)
        guard case .finished(.scan, nil)? = events.all.last else {
            Issue.record("the stage did not end with .finished: \(events.all)")
            return
        }
    }

    @Test("the trace stage traces one host per /24 and gives the block's other hosts at that distance its path, with no packet")
    func traceShares() throws {
        let calls = Mutex<[([IPAddress], Int)]>([])
        let router = Self.address("198.51.100.1")
        let cutoffs = Mutex<[UInt64?]>([])
        let stage = TraceStage(cancel: CancellationFlag(), slowest: { 20_000_000 }, othersSettled: { 5_000_000_000 },
                               tracer: { destinations, expected, timeout, _, cutoff, _ in
            calls.withLock { $0.append((destinations, timeout)) }
            cutoffs.withLock { $0.append(cutoff()) }
            return destinations.map { destination in
                TracedPath(destination: destination, hops: [Hop(distance: 1, router: router, destination: destination)],
                           distance: expected[destination] ?? 2)
            }
        })
        let inbox = StageQueue<TraceStage.Work>(capacity: 16, cancel: CancellationFlag())
        let events = Events()
        stage.start(inbox, meter: ProgressMeter().meter(for: .trace)) { events.emit($0) }
        inbox.put(TraceStage.Work(address: Self.address("192.0.2.10"), expected: 2))
        #expect(events.wait(1))
        inbox.put(TraceStage.Work(address: Self.address("192.0.2.20"), expected: 2))   // same block, same distance
        inbox.put(TraceStage.Work(address: Self.address("192.0.2.30"), expected: 3))   // same block, farther
        inbox.put(TraceStage.Work(address: Self.address("203.0.113.5"), expected: 2))  // another block
        inbox.close()
        #expect(events.wait(4))
        let traced = calls.withLock { $0 }
        #expect(traced.map(\.0).joined().map(\.description).sorted() == ["192.0.2.10", "192.0.2.30", "203.0.113.5"],
                "only one host of 192.0.2.0/24 at distance 2 is traced: \(traced)")
        #expect(cutoffs.withLock { $0 }.allSatisfy { $0 == 5_000_000_000 + TraceStage.grace },
                "once the rest of the map has settled, the trace gets its grace and no more")
        #expect(traced.allSatisfy { $0.1 == 130 }, "the wait is four of the slowest round trips (20 ms) plus 50 ms: \(traced)")
        let shared = events.all.compactMap { event -> TracedPath? in
            if case .path(let path) = event, path.destination == Self.address("192.0.2.20") { return path }
            return nil
        }
        #expect(shared.first?.hops.first?.router == router && shared.first?.hops.first?.destination == Self.address("192.0.2.20"))
    }

    /// A sweep engine that finds its first address, then waits until the scan has scanned it
    /// before finding the rest: a sweep that is still running when the scan starts.
    final class ScriptedSweep: HostSweepEngine, @unchecked Sendable {
        let scan: ScriptedScan
        let overlapped = Atomic<Bool>(false)
        init(scan: ScriptedScan) { self.scan = scan }
        func sweep(_ addresses: AddressSet, profile: Profile, cancel: CancellationFlag, progress: ProgressMeter,
                   cursor: SweepCursor, found: (IPAddress, String, UInt8?) -> Void) throws {
            var iterator = addresses.makeIterator()
            guard let first = iterator.next() else { return }
            found(first, "scripted", 64)
            overlapped.store(scan.scanned.wait(timeout: .now() + 10) == .success, ordering: .relaxed)
            while let next = iterator.next() { found(next, "scripted", 64) }
        }
    }

    @Test("a host found live is scanned while the sweep goes on, and the map ends with every host's ports")
    func sweepAndScanOverlap() throws {
        let scan = ScriptedScan()
        let sweep = ScriptedSweep(scan: scan)
        var profile = Profile()
        profile.dns.enabled = false
        profile.probes.enabled = false
        profile.hostDiscovery.traceroute = false
        profile.informationGathering.tcpPorts = [22]
        profile.informationGathering.udpPorts = []
        let blocks = [AddressRange(family: .v4, lower: 0xC000_0201, upper: 0xC000_0204)]   // 192.0.2.1-4, never sent to
        let spec = MapSpec(kind: .none, netblocks: blocks, addresses: AddressSet(blocks), excludedCount: 0)
        let context = MapContext(profile: profile, probes: ProbeLibrary(), excluded: AddressSet(), cancel: CancellationFlag(),
                                 sweepEngine: sweep, scanEngine: scan)
        let result = try MapRunner(context: context).run(spec)
        let overlapped = sweep.overlapped.load(ordering: .relaxed)
        #expect(overlapped, "the first live host was not scanned until the sweep ended")
        #expect(result.status == .complete)
        #expect(result.hosts.map(\.address) == ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"])
        #expect(result.hosts.allSatisfy { $0.services.map(\.port) == [22] && $0.discovery == ["scripted"] }, "\(result.hosts)")
    }

    @Test("a map counts each host's closed and filtered TCP ports and lists its open ones; a UDP port identification answers on becomes open")
    func portCounts() throws {
        let host = try #require(IPAddress("192.0.2.9"))   // documentation address, never sent to
        let spec = MapSpec(kind: .none, netblocks: [AddressRange(host)], addresses: AddressSet([AddressRange(host)]), excludedCount: 0)
        var state = MapState(spec: spec, profile: "test", scanMethod: "tcp-syn", excluded: AddressSet(), sweeping: false, rawUDP: true)
        var observations = (1...1000).map { PortObservation(address: host, port: UInt16($0), proto: .tcp, state: .closed) }
        observations[21] = PortObservation(address: host, port: 22, proto: .tcp, state: .open)
        observations[442] = PortObservation(address: host, port: 443, proto: .tcp, state: .filtered)
        observations.append(PortObservation(address: host, port: 53, proto: .udp, state: .openFiltered))
        observations.append(PortObservation(address: host, port: 161, proto: .udp, state: .openFiltered))
        #expect(state.apply(.ports(observations)) == [host], "a scan without a sweep makes the host live")
        var first = state.assemble(.running).hosts
        #expect(first.map(\.services).map { $0.map(\.port) } == [[22]])
        #expect(first.first?.closedPorts == 998)
        #expect(first.first?.filteredPorts == 3)
        var answered = PortIdentification(address: host, port: 53, proto: .udp)
        answered.match = ProbeMatch(name: "domain")
        answered.method = "dns"
        state.apply(.identified(answered))
        first = state.assemble(.complete).hosts
        #expect(first.first?.services.map { "\($0.port)/\($0.protocol.rawValue)" } == ["22/tcp", "53/udp"])
        #expect(first.first?.closedPorts == 998)
        #expect(first.first?.filteredPorts == 2)
    }
}
