import CartographCore
import CartographEngine
import CartographProbes
import CartographSession
import CartographStore
import Foundation
import Synchronization
import Testing

/// The map session with a real SQLite store and engines the test scripts (no packet is sent;
/// the addresses are documentation ones): what it stores, stamps and compares.
@Suite("The map session")
struct MapSessionTests {
    /// Finds the hosts it is given, each with port 22 open; throws when asked to.
    final class Scripted: HostSweepEngine, PortScanEngine, @unchecked Sendable {
        let hosts: [IPAddress]
        let failure: String?
        init(hosts: [String], failure: String? = nil) {
            self.hosts = hosts.map { IPAddress($0)! }
            self.failure = failure
        }
        var method: String { "scripted" }
        var scansUDP: Bool { false }
        var slowestRoundTrip: UInt64? { nil }
        func coverageWarnings() -> [String] { [] }
        struct Failure: Error, CustomStringConvertible { let description: String }
        func sweep(_ addresses: AddressSet, profile: Profile, cancel: CancellationFlag, progress: ProgressMeter,
                   cursor: SweepCursor, found: (IPAddress, String, UInt8?) -> Void) throws {
            for host in hosts where addresses.contains(host) { found(host, "scripted", 64) }
        }
        func scan<Hosts: Sequence>(hosts: Hosts, ports: PortSelection, profile: Profile, cancel: CancellationFlag,
                                   progress: ProgressMeter, observe: (PortObservation) -> Void) throws -> Bool where Hosts.Element == IPAddress {
            for host in hosts { observe(PortObservation(address: host, port: 22, proto: .tcp, state: .open)) }
            if let failure { throw Failure(description: failure) }
            return true
        }
    }

    /// Sweeps in the addresses' order from where its cursor says, settling each address as it
    /// goes, and finds `live` among them; waits for each live host's scan before going on, and
    /// with `cancelAt`, cancels the map once that many addresses have settled. Its scan finds
    /// port 22 open and port 23 closed. It records what it was asked to probe and scan.
    final class Resumable: HostSweepEngine, PortScanEngine, @unchecked Sendable {
        let live: Set<IPAddress>
        let cancelAt: UInt64?
        let swept = Mutex<[IPAddress]>([])
        let scannedHosts = Mutex<[IPAddress]>([])
        let scanDone = DispatchSemaphore(value: 0)
        init(live: [String], cancelAt: UInt64? = nil) {
            self.live = Set(live.map { IPAddress($0)! })
            self.cancelAt = cancelAt
        }
        var method: String { "scripted" }
        var scansUDP: Bool { false }
        var slowestRoundTrip: UInt64? { nil }
        func coverageWarnings() -> [String] { [] }
        func sweep(_ addresses: AddressSet, profile: Profile, cancel: CancellationFlag, progress: ProgressMeter,
                   cursor: SweepCursor, found: (IPAddress, String, UInt8?) -> Void) throws {
            let count = UInt64(addresses.count)
            let (_, start) = cursor.begin(space: "scripted", count: count)
            for index in start..<count where !cancel.isCancelled {
                let address = addresses.address(at: UInt128(index))!
                swept.withLock { $0.append(address) }
                if live.contains(address) {
                    found(address, "scripted", 64)
                    _ = scanDone.wait(timeout: .now() + 10)
                }
                cursor.settle(through: index + 1)
                if index + 1 == cancelAt { cancel.cancel() }
            }
        }
        func scan<Hosts: Sequence>(hosts: Hosts, ports: PortSelection, profile: Profile, cancel: CancellationFlag,
                                   progress: ProgressMeter, observe: (PortObservation) -> Void) throws -> Bool where Hosts.Element == IPAddress {
            for host in hosts {
                scannedHosts.withLock { $0.append(host) }
                observe(PortObservation(address: host, port: 22, proto: .tcp, state: .open))
                observe(PortObservation(address: host, port: 23, proto: .tcp, state: .closed))
                scanDone.signal()
            }
            return true
        }
    }

    static let block = AddressRange(family: .v4, lower: 0xC000_0200, upper: 0xC000_02FF)   // 192.0.2.0/24
    static var spec: MapSpec { MapSpec(kind: .none, netblocks: [block], addresses: AddressSet([block]), excludedCount: 0) }

    static func context(_ engine: some HostSweepEngine & PortScanEngine) -> MapContext {
        var profile = Profile()
        profile.dns.enabled = false
        profile.probes.enabled = false
        profile.hostDiscovery.traceroute = false
        profile.informationGathering.tcpPorts = [22]
        profile.informationGathering.udpPorts = []
        return MapContext(profile: profile, probes: ProbeLibrary(), excluded: AddressSet(), cancel: CancellationFlag(),
                          sweepEngine: engine, scanEngine: engine)
    }

    static func store() throws -> SQLiteMapStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("session-\(UUID().uuidString.prefix(8))")
        return try SQLiteMapStore(path: dir.appendingPathComponent("maps.sqlite").path)
    }

    static let launch = MapSession.Launch(title: "lab", network: Inventory.Network(name: "branch"), scanner: "scanner-1",
                                          launchedBy: "tester", launchedAt: Date(timeIntervalSince1970: 1_800_000_000))

    @Test("each map is stored stamped, its checkpoints go to the host, and the next map of the target has a trend")
    func storedAndCompared() throws {
        let store = try Self.store()
        let checkpoints = Mutex(0)
        var hooks = MapSession.Hooks()
        hooks.checkpoint = { map in
            #expect(map.network == "branch" && map.scanner == "scanner-1", "checkpoints are stamped too")
            checkpoints.withLock { $0 += 1 }
        }
        let session = MapSession(store: store, launch: Self.launch, inventory: Inventory(), reportPath: nil, hooks: hooks)
        let first = session.run([Self.spec], context: Self.context(Scripted(hosts: ["192.0.2.10"])))
        #expect(!first.failed && !first.unsaved)
        let firstID = try #require(first.maps.first?.id)
        let stored = try #require(try store.map(id: firstID))
        #expect(stored.status == .complete && stored.hosts.map(\.address) == ["192.0.2.10"])
        #expect(stored.title == "lab" && stored.network == "branch" && stored.scanner == "scanner-1" && stored.launchedBy == "tester")
        #expect(checkpoints.withLock { $0 } > 0, "the host saw no checkpoint")
        #expect(first.completions.first?.trend == nil, "the first map of its target has nothing to compare with")
        #expect(first.completions.first?.report?.contains("maps show") == true)

        let second = session.run([Self.spec], context: Self.context(Scripted(hosts: ["192.0.2.10", "192.0.2.11"])))
        let trend = try #require(second.completions.first?.trend)
        #expect(trend.previousMapId == first.maps.first?.id)
        #expect(trend.newHosts == 1 && trend.hostsDelta == 1 && trend.openedPorts == 1, "\(trend)")
    }

    @Test("a map whose engine fails is stored failed, with what its last checkpoint had found")
    func failedKeepsFindings() throws {
        let store = try Self.store()
        var messages: [String] = []
        var hooks = MapSession.Hooks()
        hooks.message = { messages.append($0) }
        let session = MapSession(store: store, launch: Self.launch, inventory: Inventory(), reportPath: nil, hooks: hooks)
        let outcome = session.run([Self.spec], context: Self.context(Scripted(hosts: ["192.0.2.10"], failure: "the wire broke")))
        #expect(outcome.failed)
        let map = try #require(outcome.maps.first)
        #expect(map.status == .failed && map.warnings.last == "failed: the wire broke", "\(map.warnings)")
        #expect(map.hosts.map(\.address) == ["192.0.2.10"], "the checkpoint's host was lost")
        let id = try #require(map.id)
        #expect(try store.map(id: id)?.status == .failed)
        #expect(messages.contains { $0.contains("failed: the wire broke") }, "\(messages)")
    }

    @Test("a map cut short and resumed: the sweep goes on where it had settled, scanned hosts keep their ports and are not scanned again")
    func resumesWhereItStopped() throws {
        let store = try Self.store()
        let session = MapSession(store: store, launch: Self.launch, inventory: Inventory(), reportPath: nil, hooks: .init())
        let first = Resumable(live: ["192.0.2.10", "192.0.2.200"], cancelAt: 128)
        let cut = session.run([Self.spec], context: Self.context(first))
        let id = try #require(cut.maps.first?.id)
        let stored = try #require(try store.map(id: id))
        #expect(stored.status == .interrupted)
        let progress = try #require(stored.progress, "the interrupted map's position was not stored")
        #expect(progress.sweep?.settled == 128 && progress.sweep?.count == 256 && progress.sweep?.space == "scripted", "\(progress)")
        #expect(progress.scanned == ["192.0.2.10"], "\(progress)")
        #expect(first.swept.withLock { $0.count } == 128)

        let second = Resumable(live: ["192.0.2.10", "192.0.2.200"])
        var messages: [String] = []
        var hooks = MapSession.Hooks()
        hooks.message = { messages.append($0) }
        var context = Self.context(second)
        context.note = { line in messages.append(line) }
        let resumed = MapSession(store: store, launch: Self.launch, inventory: Inventory(), reportPath: nil, hooks: hooks)
            .run([Self.spec], context: context, resuming: id)
        let map = try #require(resumed.maps.first)
        #expect(map.id == id && map.status == .complete)
        let swept = second.swept.withLock { $0 }
        #expect(swept.first?.description == "192.0.2.128" && swept.count == 128, "the sweep began again at \(swept.first.map(\.description) ?? "nothing")")
        #expect(second.scannedHosts.withLock { $0 }.map(\.description) == ["192.0.2.200"], "a host scanned before was scanned again")
        #expect(map.hosts.map(\.address) == ["192.0.2.10", "192.0.2.200"])
        #expect(map.hosts.allSatisfy { $0.services.map(\.port) == [22] && $0.closedPorts == 1 }, "\(map.hosts)")
        #expect(messages.contains { $0.contains("the sweep goes on after 128 of its 256 probe(s)") && $0.contains("1 host(s) already scanned") }, "\(messages)")
        #expect(try store.map(id: id)?.progress == nil, "a complete map keeps no position")
    }

    @Test("a resumed sweep that would range over other probes starts over, and says why")
    func resumeRefusesAnotherOrder() throws {
        let cursor = SweepCursor(resuming: SweepPosition(space: "raw icmp-echo", count: 256, seed: 7, settled: 100))
        #expect(cursor.position?.settled == 100, "before the sweep begins, the interrupted position stands")
        let (_, start) = cursor.begin(space: "raw icmp-echo,tcp-syn:443", count: 512)
        #expect(start == 0 && cursor.resumedAt == nil)
        #expect(cursor.refused == "it probed with raw icmp-echo, this one with raw icmp-echo,tcp-syn:443")
        #expect(cursor.position?.settled == 0 && cursor.position?.seed != 7)
        let same = SweepCursor(resuming: SweepPosition(space: "raw icmp-echo", count: 256, seed: 7, settled: 100))
        #expect(same.begin(space: "raw icmp-echo", count: 256) == (7, 100))
        same.settle(through: 90)
        #expect(same.position?.settled == 100, "the position never goes back")
        same.settle(through: 300)
        #expect(same.position?.settled == 256)
    }

    @Test("hosts the inventory does not approve are rogue; approved ones are not")
    func rogue() throws {
        let inventory = try Inventory.parse(yaml: "none:\n  approved: [192.0.2.10]\n", file: "inventory.yaml")
        let session = MapSession(store: nil, launch: Self.launch, inventory: inventory, reportPath: "/tmp/report.json", hooks: .init())
        let outcome = session.run([Self.spec], context: Self.context(Scripted(hosts: ["192.0.2.10", "192.0.2.66"])))
        let hosts = Dictionary(uniqueKeysWithValues: (outcome.maps.first?.hosts ?? []).map { ($0.address, $0.rogue) })
        #expect(hosts["192.0.2.10"] == false && hosts["192.0.2.66"] == true, "\(hosts)")
        #expect(outcome.unsaved, "no store: the map is not saved, and the session says so")
        #expect(outcome.completions.first?.report == "/tmp/report.json")
    }
}
