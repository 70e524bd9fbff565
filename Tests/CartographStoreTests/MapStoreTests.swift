import CartographCore
@testable import CartographStore
import CartographTestSupport
import Foundation
import Testing

/// The two backends every shared test runs on: a real SQLite file, and a fresh database on the
/// real PostgreSQL server of Scripts/pg.sh (the test fails when that server is not running).
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// Where a new, empty store is: a file path, or the URL of a database made for the test.
    func fresh() throws -> String {
        switch self {
        case .sqlite: return MapStoreTests.path()
        case .postgres:
            let server = try PostgresServer.require()
            return server.socketURL(try server.createDatabase("store"))
        }
    }

    /// Runs SQL on the store at `location` from outside our process (python3's sqlite3, psql).
    func sql(_ location: String, sqlite: String, postgres: String) throws -> String {
        switch self {
        case .sqlite: return try MapStoreTests.sqlite(location, sqlite)
        case .postgres:
            let name = try #require(location.split(separator: "?").first?.split(separator: "/").last)
            return try PostgresServer.require().psql(postgres, database: String(name))
        }
    }
}

/// The store on both backends: round trips, per-network identity, interruption, schema.
@Suite("The map store")
struct MapStoreTests {
    static func path() -> String {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("cartograph-store-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent("\(UUID().uuidString).sqlite").path
    }

    static func map(_ target: String = "none:[198.18.1.2]", network: String = "default", hosts: [HostResult] = []) -> MapResult {
        var map = MapResult(target: target, profile: "default", status: .running, startedAt: Date(), finishedAt: Date(),
                            addressesScanned: "1", excludedAddresses: "0", hosts: hosts, warnings: [])
        map.network = network
        map.title = target
        map.scanner = "test-scanner"
        map.launchedBy = "tester"
        map.launchedAt = Date()
        return map
    }

    static func host(_ address: String, ports: [(UInt16, String)]) -> HostResult {
        var host = HostResult(address: address, hostnames: [Hostname(name: "h.lab.test", source: "dns-ptr")],
                              discovery: ["icmp-echo", "tcp-syn:22"], closedPorts: 3)
        host.ttl = 63
        host.hops = 1
        host.deviceType = "web server"
        host.deviceTypeConfidence = 64
        host.deviceTypeEvidence = ["http on 80/tcp"]
        host.os = "Linux"
        host.osConfidence = 70
        host.osEvidence = ["TTL 63"]
        host.services = ports.map { port, name in
            var service = ServiceResult(port: port, protocol: .tcp, method: name)
            service.name = name
            service.product = "Product \(name)"
            service.cpe = ["cpe:/a:x:\(name)"]
            service.tls = port == 443 ? true : nil
            return service
        }
        return host
    }

    /// Runs Python code with `c`, a connection to the store at `path`, from outside our process
    /// and outside GRDB; returns what it printed.
    static func sqlite(_ path: String, _ code: String) throws -> String {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); " + code, path]
        let out = Pipe()
        python.standardOutput = out
        try python.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        #expect(python.terminationStatus == 0, "python3 sqlite3 on \(path) failed")
        return text
    }

    @Test("a saved map reads back as it was written, with its id and metadata", arguments: Backend.allCases)
    func roundTrip(_ backend: Backend) throws {
        let store = try MapStores.open(try backend.fresh())
        var map = Self.map(hosts: [Self.host("198.18.1.2", ports: [(22, "ssh"), (443, "https")])])
        let id = try store.begin(map, settings: Profile(), network: Inventory.Network(name: "default", scanner: "s1"))
        map.status = .complete
        map.warnings = ["a warning"]
        let saved = try store.save(map, id: id)
        let loaded = try #require(try store.map(id: id))
        #expect(loaded.id == id)
        #expect(loaded.hosts == saved.hosts)
        #expect(loaded.hosts.first?.new == true, "the first sighting of an address is new")
        #expect(loaded.hosts.first?.services.map(\.port) == [22, 443])
        #expect(loaded.hosts.first?.services.last?.tls == true)
        #expect(loaded.warnings == ["a warning"])
        #expect(loaded.status == .complete)
        #expect(loaded.scanner == "test-scanner" && loaded.launchedBy == "tester")
        #expect(try store.settings(id: id) == Profile())
        let list = try store.list()
        #expect(list.count == 1 && list[0].hosts == 1 && list[0].openPorts == 2 && list[0].status == .complete)
    }

    @Test("a service's strings with NUL and control bytes read back whole, byte for byte", arguments: Backend.allCases)
    func nulBytes(_ backend: Backend) throws {
        let store = try MapStores.open(try backend.fresh())
        var host = Self.host("198.18.1.2", ports: [(21, "ftp")])
        host.services[0].product = "vsFTPd\u{0}\u{1B}[2J\u{7F}=cmd|calc"
        host.services[0].version = "3.0\u{0}"
        host.services[0].extraInfo = "\u{0}"
        host.os = "Linux\u{0}evil"
        host.services[0].name = String(PostgresMapStore.encoded) + "ftp"   // the mark of an encoded string, as a service's own text
        var map = Self.map(hosts: [host])
        let id = try store.begin(map, settings: Profile())
        map.status = .complete
        try store.save(map, id: id)
        let service = try #require(try store.map(id: id)?.hosts.first?.services.first)
        #expect(service.product == "vsFTPd\u{0}\u{1B}[2J\u{7F}=cmd|calc", "\(String(describing: service.product).debugDescription)")
        #expect(service.version == "3.0\u{0}" && service.extraInfo == "\u{0}")
        #expect(try store.map(id: id)?.hosts.first?.os == "Linux\u{0}evil")
        #expect(service.name == String(PostgresMapStore.encoded) + "ftp")
        var plain = Self.map(hosts: [Self.host("198.18.1.3", ports: [(22, "ssh")])])
        let plainID = try store.begin(plain, settings: Profile())
        plain.status = .complete
        try store.save(plain, id: plainID)
        #expect(try store.map(id: plainID)?.hosts.first?.services.first?.name == "ssh", "strings without NUL are text as before")
    }

    @Test("strings with quotes, backslashes, braces, commas, the word NULL or nothing read back as written", arguments: Backend.allCases)
    func awkwardStrings(_ backend: Backend) throws {
        let store = try MapStores.open(try backend.fresh())
        let awkward = ["say \"hi\"", "C:\\path\\", "{a,b}", "NULL", "", "ünï cødé 😀", "tab\tand\nnewline", "'quoted'"]
        var hosts: [HostResult] = []
        for (index, text) in awkward.enumerated() {
            var host = Self.host("198.18.2.\(index + 1)", ports: [(80, "http")])
            host.services[0].product = text
            host.services[0].version = index % 2 == 0 ? nil : text
            host.os = text
            host.hostnames = [Hostname(name: text, source: "dns-ptr")]
            hosts.append(host)
        }
        var map = Self.map(hosts: hosts)
        let id = try store.begin(map, settings: Profile())
        map.status = .complete
        let saved = try store.save(map, id: id)
        let loaded = try #require(try store.map(id: id))
        #expect(loaded.hosts == saved.hosts)
        #expect(loaded.hosts.map { $0.services[0].product } == awkward.map { Optional($0) })
        #expect(loaded.hosts.map { $0.services[0].version == nil } == awkward.indices.map { $0 % 2 == 0 }, "NULL stays NULL, \"NULL\" stays text")
    }

    @Test("the same address in two networks is two hosts, each new in its own network", arguments: Backend.allCases)
    func networksApart(_ backend: Backend) throws {
        let store = try MapStores.open(try backend.fresh())
        for (network, port) in [("default", UInt16(22)), ("branch", 6380), ("default", 80)] {
            let map = Self.map(network: network, hosts: [Self.host("198.18.1.2", ports: [(port, "x")])])
            let id = try store.begin(map, settings: Profile())
            var done = map
            done.status = .complete
            let saved = try store.save(done, id: id)
            let expectNew = !(network == "default" && port == 80)
            #expect((saved.hosts[0].new == true) == expectNew, "\(network) \(port)")
        }
        let all = try store.hosts(network: nil)
        #expect(all.map(\.network) == ["branch", "default"])
        #expect(all.map { $0.host.services.map(\.port) } == [[6380], [80]], "the latest state of each (network, address)")
        #expect(try store.hosts(network: "branch").count == 1)
        #expect(try store.list(network: "branch").count == 1)
        #expect(Set(try store.networks().map(\.name)) == ["default", "branch"])
    }

    @Test("a map whose process died is marked interrupted, keeping its last checkpoint", arguments: Backend.allCases)
    func interrupted(_ backend: Backend) throws {
        let path = try backend.fresh()
        // A process that has exited: its pid is free (or someone else's, which is not cartograph).
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        let store = try MapStores.open(path)
        let map = Self.map(hosts: [Self.host("198.18.1.2", ports: [(22, "ssh")])])
        let id = try store.begin(map, settings: Profile(), network: nil, pid: gone.processIdentifier)
        try store.save(map, id: id)   // a checkpoint, still running
        #expect(try store.list().first?.status == .running)
        // On PostgreSQL the map lives while the connection that began it does: its process died.
        (store as? PostgresMapStore)?.close()

        let reopened = try MapStores.open(path)
        let loaded = try #require(try reopened.map(id: id))
        #expect(loaded.status == .interrupted)
        #expect(loaded.hosts.map(\.address) == ["198.18.1.2"])
        #expect(try reopened.list().first?.finishedAt != nil)
    }

    @Test("a map whose pid now belongs to another program is interrupted too")
    func reusedPid() throws {
        let path = Self.path()
        let store = try SQLiteMapStore(path: path)
        // Our own pid is alive but is not a cartograph process: a reused pid does not keep a map running.
        let id = try store.begin(Self.map(), settings: Profile(), network: nil, pid: getpid())
        _ = try SQLiteMapStore(path: path)
        #expect(try store.map(id: id)?.status == .interrupted)
    }

    @Test("delete removes a map with its hosts; the latest pair is the newest two of one target and network", arguments: Backend.allCases)
    func deleteAndPairs(_ backend: Backend) throws {
        let store = try MapStores.open(try backend.fresh())
        var ids: [Int64] = []
        for (target, network) in [("a", "default"), ("b", "default"), ("a", "default"), ("a", "other"), ("a", "default")] {
            var map = Self.map(target, network: network, hosts: [Self.host("198.18.1.2", ports: [(22, "ssh")])])
            map.status = .complete
            let id = try store.begin(map, settings: Profile())
            try store.save(map, id: id)
            ids.append(id)
        }
        let pair = try #require(try store.latestPair())
        #expect(pair == (ids[2], ids[4]))
        #expect(try store.delete(id: ids[4]))
        #expect(try !store.delete(id: ids[4]))
        #expect(try store.map(id: ids[4]) == nil)
        #expect(try store.latestPair() == nil, "the newest map is now 'a' in 'other', alone")
        #expect(try store.latestID() == ids[3])
    }

    @Test("the default diff pair skips running, interrupted and failed maps; running ones count when asked", arguments: Backend.allCases)
    func pairSkipsPartialMaps(_ backend: Backend) throws {
        let store = try MapStores.open(try backend.fresh())
        var ids: [Int64] = []
        for status in [MapResult.Status.complete, .complete, .interrupted, .failed, .running] {
            var map = Self.map(hosts: [Self.host("198.18.1.2", ports: [(22, "ssh")])])
            map.status = status
            // This process is no cartograph, so a reopened store would mark a running map interrupted: keep one store.
            let id = try store.begin(map, settings: Profile())
            try store.save(map, id: id)
            ids.append(id)
        }
        #expect(try store.latestPair().map { [$0.0, $0.1] } == [ids[0], ids[1]], "the two complete maps")
        #expect(try store.latestPair(includeRunning: true).map { [$0.0, $0.1] } == [ids[1], ids[4]], "the running map, against the newest complete one")
        #expect(try store.status(id: ids[4]) == .running)
        #expect(try store.status(id: 999) == nil)
    }

    @Test("a trend's baseline is the newest complete map of the target and network, never an interrupted one", arguments: Backend.allCases)
    func previousComplete(_ backend: Backend) throws {
        let store = try MapStores.open(try backend.fresh())
        var ids: [Int64] = []
        for status in [MapResult.Status.complete, .interrupted, .failed, .complete] {
            var map = Self.map()
            let id = try store.begin(map, settings: Profile())
            map.status = status
            try store.save(map, id: id)
            ids.append(id)
        }
        #expect(try store.previous(of: ids[3]) == ids[0])
        #expect(try store.previous(of: ids[0]) == nil)
    }

    @Test("a file that is not a store is refused in one line naming it")
    func notADatabase() throws {
        let path = Self.path()
        try Data("this is not sqlite, just text that is long enough to have a header".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try SQLiteMapStore(path: path)
        } throws: { error in
            let text = "\(error)"
            return text.contains(path) && text.contains("not a database") && !text.contains("\n")
        }
    }

    @Test("a store from a newer schema is refused, not rewritten", arguments: Backend.allCases)
    func newerSchema(_ backend: Backend) throws {
        let path = try backend.fresh()
        _ = try MapStores.open(path)
        _ = try backend.sql(path, sqlite: "c.execute(\"insert into grdb_migrations values ('v99: from the future')\"); c.commit()",
                            postgres: "INSERT INTO cartograph_migrations (identifier) VALUES ('v99: from the future')")
        #expect {
            _ = try MapStores.open(path)
        } throws: { error in
            "\(error)".contains("newer Cartograph")
        }
    }

    @Test("the store is in WAL mode and its schema is migrated from the first version")
    func walAndMigrations() throws {
        let path = Self.path()
        _ = try SQLiteMapStore(path: path)
        let text = try Self.sqlite(path, "print(c.execute('pragma journal_mode').fetchone()[0]); print([r[0] for r in c.execute('select identifier from grdb_migrations')])")
        #expect(text.hasPrefix("wal\n"), "\(text)")
        #expect(text.contains("v1: maps, hosts, services, networks") && text.contains("v2: device types, OS families, paths"))
    }

    @Test("a store of the first schema is migrated, and its maps read back", arguments: Backend.allCases)
    func migrateFromV1(_ backend: Backend) throws {
        let path = try backend.fresh()
        let store = try MapStores.open(path)
        let id = try store.begin(Self.map(), settings: Profile())
        var map = Self.map(hosts: [Self.host("198.18.1.2", ports: [(22, "ssh")])])
        map.status = .complete
        try store.save(map, id: id)
        // Back to version 1: the columns v2 added go, and so does its record.
        let columns = ["hops", "forwards", "device_type", "device_type_confidence", "device_type_evidence", "os",
                       "os_confidence", "os_evidence"]
        _ = try backend.sql(path, sqlite: columns.map { "c.execute('alter table host drop column \($0)'); " }.joined()
                                + "c.execute(\"delete from grdb_migrations where identifier like 'v2:%'\"); c.commit()",
                            postgres: "ALTER TABLE host " + columns.map { "DROP COLUMN \($0)" }.joined(separator: ", ")
                                + "; DELETE FROM cartograph_migrations WHERE identifier LIKE 'v2:%'")
        (store as? PostgresMapStore)?.close()
        let reopened = try MapStores.open(path)
        let loaded = try #require(try reopened.map(id: id))
        #expect(loaded.hosts.map(\.address) == ["198.18.1.2"] && loaded.hosts[0].deviceType == nil)
        var classified = loaded
        classified.hosts[0].deviceType = "web server"
        classified.hosts[0].forwards = ["198.18.2.2"]
        try reopened.save(classified, id: id)
        #expect(try reopened.map(id: id)?.hosts[0].forwards == ["198.18.2.2"])
    }

    @Test("the default path follows XDG_DATA_HOME, else HOME")
    func defaultPath() {
        #expect(SQLiteMapStore.defaultPath(environment: ["XDG_DATA_HOME": "/d", "HOME": "/h"]) == "/d/cartograph/maps.sqlite")
        #expect(SQLiteMapStore.defaultPath(environment: ["HOME": "/h"]) == "/h/.local/share/cartograph/maps.sqlite")
        #expect(SQLiteMapStore.defaultPath(environment: ["XDG_DATA_HOME": "relative", "HOME": "/h"]) == "/h/.local/share/cartograph/maps.sqlite")
        #expect(MapStores.defaultLocation(environment: ["CARTOGRAPH_DB": "postgresql:///maps", "HOME": "/h"]) == "postgresql:///maps")
        #expect(MapStores.defaultLocation(environment: ["CARTOGRAPH_DB": "", "HOME": "/h"]) == "/h/.local/share/cartograph/maps.sqlite")
    }

    @Test("stores opened together on a new store (threads, each its own connection) all migrate once and keep every map", arguments: Backend.allCases)
    func concurrentOpens(_ backend: Backend) throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("cartograph-store-concurrent-\(UUID().uuidString)")
        let path = backend == .sqlite ? dir.appendingPathComponent("deeper/maps.sqlite").path : try backend.fresh()
        let errors = Locked<[String]>([])
        let done = DispatchSemaphore(value: 0)
        for index in 0..<8 {
            Thread {
                defer { done.signal() }
                do {
                    let store = try MapStores.open(path)
                    var map = Self.map(hosts: [Self.host("198.18.1.\(index + 2)", ports: [(22, "ssh")])])
                    map.status = .complete
                    try store.save(map, id: try store.begin(map, settings: Profile()))
                } catch {
                    errors.mutate { $0.append("\(error)") }
                }
            }.start()
        }
        for _ in 0..<8 { done.wait() }
        #expect(errors.value.isEmpty, "\(errors.value)")
        let store = try MapStores.open(path)
        #expect(try store.list().count == 8)
        #expect(try store.list().allSatisfy { $0.status == .complete && $0.hosts == 1 })
        guard backend == .sqlite else { return }
        var info = stat()
        #expect(stat(dir.path, &info) == 0 && info.st_mode & 0o777 == 0o700, "the directories are made 0700")
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600, "the store is made 0600")
        for suffix in ["-wal", "-shm"] {
            #expect(stat(path + suffix, &info) == 0 && info.st_mode & 0o777 == 0o600, "\(suffix) follows the store's mode")
        }
    }

    @Test("a store that cannot be written opens read-only for readers: no migration, no marking, notes instead")
    func readOnlyOpen() throws {
        let path = Self.path()
        let id: Int64
        do {
            let store = try SQLiteMapStore(path: path)
            // A pid that is no cartograph: the next writable open would mark the map interrupted.
            id = try store.begin(Self.map(hosts: [Self.host("198.18.1.2", ports: [(22, "ssh")])]), settings: Profile(), network: nil, pid: 0)
        }
        let chattr = Process()
        chattr.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
        chattr.arguments = ["+i", path]
        try chattr.run()
        chattr.waitUntilExit()
        defer {
            let undo = Process()
            undo.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
            undo.arguments = ["-i", path]
            try? undo.run()
            undo.waitUntilExit()
        }
        #expect(chattr.terminationStatus == 0)
        let before = FileManager.default.contents(atPath: path)
        #expect(throws: StoreError.self, "a writer still refuses a store it cannot write") { _ = try SQLiteMapStore(path: path) }
        let store = try SQLiteMapStore(path: path, readOnly: true)
        #expect(store.isReadOnly)
        #expect(try store.map(id: id)?.status == .running, "not marked")
        #expect(store.notes.contains { $0.contains("map \(id) looks interrupted") }, "\(store.notes)")
        #expect(FileManager.default.contents(atPath: path) == before)
    }
}

/// A value shared between threads.
final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}
