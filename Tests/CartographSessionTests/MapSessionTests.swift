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
                   found: (IPAddress, String, UInt8?) -> Void) throws {
            for host in hosts where addresses.contains(host) { found(host, "scripted", 64) }
        }
        func scan<Hosts: Sequence>(hosts: Hosts, ports: PortSelection, profile: Profile, cancel: CancellationFlag,
                                   progress: ProgressMeter, observe: (PortObservation) -> Void) throws where Hosts.Element == IPAddress {
            for host in hosts { observe(PortObservation(address: host, port: 22, proto: .tcp, state: .open)) }
            if let failure { throw Failure(description: failure) }
        }
    }

    static let block = AddressRange(family: .v4, lower: 0xC000_0200, upper: 0xC000_02FF)   // 192.0.2.0/24
    static var spec: MapSpec { MapSpec(kind: .none, netblocks: [block], addresses: AddressSet([block]), excludedCount: 0) }

    static func context(_ engine: Scripted) -> MapContext {
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
