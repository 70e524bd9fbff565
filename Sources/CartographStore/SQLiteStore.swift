import CartographCore
import Foundation
import GRDB

extension StoreError {
    init(_ path: String, _ error: any Error) {
        let text = (error as? DatabaseError).map { $0.message ?? "\($0.resultCode)" } ?? "\(error)"
        self.init("store \(path): \(text)")
    }
}

/// The embedded store: one SQLite file (WAL mode) written through GRDB.
///
/// A map is a row in `map` with its hosts in `host` and their open ports in `service`. The row is
/// made when the map starts (status `running`, with the process id) and rewritten in one
/// transaction at each checkpoint, so a map cut short keeps what it had found; a `running` map
/// whose process is gone is marked `interrupted` the next time the store is opened. Addresses are
/// kept per network: hosts are never merged across networks.
public final class SQLiteMapStore: MapStore {
    public let path: String
    public var location: String { path }
    let pool: any DatabaseWriter
    /// Opened read-only (the file or its medium cannot be written): nothing is migrated or marked.
    public let isReadOnly: Bool
    /// What a read-only store would have done and could not, for the command to say.
    public private(set) var notes: [String] = []

    /// `$XDG_DATA_HOME/cartograph/maps.sqlite`, `~/.local/share/cartograph/maps.sqlite` without it.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let data = environment["XDG_DATA_HOME"], data.hasPrefix("/") { return data + "/cartograph/maps.sqlite" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/cartograph/maps.sqlite"
    }

    /// Opens (or creates) the store at `path`, brings its schema up to date, and marks maps whose
    /// process died as interrupted. Creating, migrating and marking happen under an exclusive
    /// lock on the store's directory, so processes opening one new store together all find it
    /// whole. The directory is made 0700 and the file 0600 (SQLite gives -wal and -shm the
    /// file's mode). `readOnly`: the caller only reads, so an existing store that cannot be
    /// written (a read-only file, directory or medium) is opened read-only instead of failing.
    public init(path: String, readOnly: Bool = false) throws(StoreError) {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if readOnly, FileManager.default.fileExists(atPath: path), !Self.writable(path, directory: directory) {
            isReadOnly = true
            pool = try Self.openReadOnly(path)
            try checkReadOnly()
            return
        }
        isReadOnly = false
        do {
            try Self.makeDirectory(directory.isEmpty ? "." : directory)
        } catch {
            throw StoreError("store \(path): cannot create its directory \(directory): \(error)")
        }
        let lock = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lock >= 0 else {
            throw StoreError("store \(path): cannot open its directory \(directory): \(String(cString: strerror(errno)))")
        }
        defer { close(lock) }   // closing the descriptor releases the lock
        while flock(lock, LOCK_EX) != 0 && errno == EINTR {}
        // A new store starts 0600; this descriptor is closed before SQLite opens the file, so
        // it cannot drop SQLite's own locks.
        let created = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if created >= 0 {
            fchmod(created, 0o600)   // whatever the umask
            close(created)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(15)
        configuration.foreignKeysEnabled = true
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            let migrator = Self.migrator
            let applied = try pool.read { try migrator.appliedIdentifiers($0) }
            let unknown = applied.subtracting(migrator.migrations)
            if !unknown.isEmpty {
                throw StoreError("store \(path): written by a newer Cartograph (schema \(unknown.sorted().joined(separator: ", "))); upgrade to read it")
            }
            try migrator.migrate(pool)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path, error)
        }
        try reconcileInterrupted()
    }

    /// Whether the store (and its directory, where -wal and -shm live) can be written: a real
    /// open for writing, since root's access(2) ignores permission bits but not immutable files.
    static func writable(_ path: String, directory: String) -> Bool {
        let fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return false }
        close(fd)
        return access(directory.isEmpty ? "." : directory, W_OK) == 0
    }

    /// Makes `directory` and any missing parents, each 0700 (the umask may only take more away).
    static func makeDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw StoreError("\(directory) is not a directory") }
            return
        }
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty && parent != directory { try makeDirectory(parent) }
        guard mkdir(directory, 0o700) == 0 || errno == EEXIST else { throw StoreError(String(cString: strerror(errno))) }
    }

    /// A read-only connection: plain, or, when SQLite cannot make the -shm file beside a WAL
    /// store on a read-only medium, as an immutable file.
    static func openReadOnly(_ path: String) throws(StoreError) -> DatabaseQueue {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(15)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            _ = try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master") }
            return queue
        } catch {
            var allowed = CharacterSet.urlPathAllowed
            allowed.remove(charactersIn: "?#%")
            let escaped = path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path
            do {
                let queue = try DatabaseQueue(path: "file:\(escaped)?immutable=1", configuration: configuration)
                _ = try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master") }
                return queue
            } catch {
                throw StoreError(path, error)
            }
        }
    }

    /// A read-only store is read as it is: a newer schema is refused, an older one or maps
    /// that look interrupted are only noted.
    func checkReadOnly() throws(StoreError) {
        do {
            let migrator = Self.migrator
            let applied = try pool.read { db in
                try db.tableExists("grdb_migrations") ? try migrator.appliedIdentifiers(db) : []
            }
            let unknown = applied.subtracting(migrator.migrations)
            if !unknown.isEmpty {
                throw StoreError("store \(path): written by a newer Cartograph (schema \(unknown.sorted().joined(separator: ", "))); upgrade to read it")
            }
            let missing = migrator.migrations.filter { !applied.contains($0) }
            if !missing.isEmpty {
                notes.append("store \(path) is read-only and its schema is older (it lacks \(missing.joined(separator: ", "))); it is read as it is, not upgraded")
            }
            let dead = try deadRunningMaps()
            if !dead.isEmpty {
                notes.append("store \(path) is read-only: map\(dead.count == 1 ? "" : "s") \(dead.map(String.init).joined(separator: ", ")) "
                             + "look\(dead.count == 1 ? "s" : "") interrupted (\(dead.count == 1 ? "its process is" : "their processes are") gone) but stay\(dead.count == 1 ? "s" : "") marked running")
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path, error)
        }
    }

    /// The schema, one migration per version; never edit a shipped migration, add the next one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration(MapStores.migrations[0]) { db in
            try db.create(table: "network") { t in
                t.primaryKey("name", .text)
                t.column("scanner", .text)
                t.column("description", .text)
                t.column("first_used_at", .datetime).notNull()
            }
            try db.create(table: "map") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("title", .text).notNull()
                t.column("target", .text).notNull()
                t.column("network", .text).notNull().references("network", onDelete: .restrict)
                t.column("asset_group", .text)
                t.column("profile", .text).notNull()
                // The full option profile used, as JSON: what the map really ran with.
                t.column("settings", .text).notNull()
                t.column("scanner", .text).notNull()
                t.column("launched_by", .text).notNull()
                t.column("launched_at", .datetime).notNull()
                t.column("started_at", .datetime).notNull()
                t.column("finished_at", .datetime)
                t.column("updated_at", .datetime).notNull()
                t.column("status", .text).notNull()
                t.column("pid", .integer)
                t.column("addresses_scanned", .text).notNull()
                t.column("excluded_addresses", .text).notNull()
                t.column("warnings", .text).notNull()
            }
            try db.create(index: "map_by_target", on: "map", columns: ["target", "network", "id"])
            try db.create(table: "host") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("map_id", .integer).notNull().references("map", onDelete: .cascade)
                t.column("network", .text).notNull()
                t.column("address", .text).notNull()
                t.column("hostnames", .text).notNull()
                t.column("discovery", .text).notNull()
                t.column("closed_ports", .integer).notNull()
                t.column("filtered_ports", .integer).notNull()
                t.column("in_netblock", .boolean)
                t.column("excluded", .boolean)
                t.column("ttl", .integer)
                t.column("new", .boolean)
                t.column("rogue", .boolean)
                t.uniqueKey(["map_id", "address"])
            }
            try db.create(index: "host_by_address", on: "host", columns: ["network", "address", "map_id"])
            try db.create(table: "service") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("host_id", .integer).notNull().references("host", onDelete: .cascade)
                t.column("port", .integer).notNull()
                t.column("protocol", .text).notNull()
                t.column("state", .text).notNull()
                t.column("name", .text)
                t.column("product", .text)
                t.column("version", .text)
                t.column("extra_info", .text)
                t.column("cpe", .text)
                t.column("method", .text).notNull()
                t.column("certain", .boolean)
                t.column("device_type", .text)
                t.column("os", .text)
                t.column("tls", .boolean)
                t.column("probe_errors", .text)
                t.uniqueKey(["host_id", "protocol", "port"])
            }
        }
        migrator.registerMigration(MapStores.migrations[1]) { db in
            try db.alter(table: "host") { t in
                t.add(column: "hops", .integer)
                t.add(column: "forwards", .text)
                t.add(column: "device_type", .text)
                t.add(column: "device_type_confidence", .integer)
                t.add(column: "device_type_evidence", .text)
                t.add(column: "os", .text)
                t.add(column: "os_confidence", .integer)
                t.add(column: "os_evidence", .text)
            }
        }
        migrator.registerMigration(MapStores.migrations[2]) { db in
            // A `MapProgress` as JSON while the map runs or after it stopped short; NULL once complete.
            try db.alter(table: "map") { t in t.add(column: "progress", .text) }
        }
        return migrator
    }

    // MARK: Writing

    /// Records a map that is starting and returns its id. `map` carries the metadata (title,
    /// target, network, scanner, launch and start times); its hosts are written by `save`.
    public func begin(_ map: MapResult, settings: Profile, network: Inventory.Network?,
                      pid: Int32) throws(StoreError) -> Int64 {
        let settingsJSON = Self.json(settings)
        do {
            return try pool.write { db in
                try db.execute(sql: """
                    INSERT INTO network (name, scanner, description, first_used_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET scanner = coalesce(excluded.scanner, scanner),
                        description = coalesce(excluded.description, description)
                    """, arguments: [map.network, network?.scanner, network?.description, Date()])
                try db.execute(sql: """
                    INSERT INTO map (title, target, network, asset_group, profile, settings, scanner, launched_by,
                        launched_at, started_at, updated_at, status, pid, addresses_scanned, excluded_addresses, warnings)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, '[]')
                    """, arguments: [map.title ?? map.target, map.target, map.network, map.assetGroup, map.profile,
                                     settingsJSON, map.scanner ?? "", map.launchedBy ?? "", map.launchedAt ?? map.startedAt,
                                     map.startedAt, Date(), Int(pid), map.addressesScanned, map.excludedAddresses])
                return db.lastInsertedRowID
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// Writes the map as it stands, in one transaction: its row, and all of its hosts and
    /// services (replacing the previous checkpoint's). Hosts never seen before in the map's network
    /// are flagged new. Returns the map with `id` and the `new` flags set.
    @discardableResult
    public func save(_ map: MapResult, id: Int64) throws(StoreError) -> MapResult {
        var map = map
        map.id = id
        do {
            try pool.write { db in
                try db.execute(sql: """
                    UPDATE map SET status = ?, finished_at = ?, updated_at = ?, addresses_scanned = ?,
                        excluded_addresses = ?, warnings = ?, started_at = ?, asset_group = ?, progress = ?
                    WHERE id = ?
                    """, arguments: [map.status.rawValue, map.status == .running ? nil : map.finishedAt, Date(),
                                     map.addressesScanned, map.excludedAddresses, Self.json(map.warnings),
                                     map.startedAt, map.assetGroup, map.status == .complete ? nil : map.progress.map(Self.json), id])
                guard db.changesCount == 1 else { throw StoreError("store \(path): map \(id) is gone (deleted while it ran?)") }
                try db.execute(sql: "DELETE FROM host WHERE map_id = ?", arguments: [id])
                let seen = try db.makeStatement(sql: "SELECT 1 FROM host WHERE network = ? AND address = ? AND map_id < ? LIMIT 1")
                let insertHost = try db.makeStatement(sql: """
                    INSERT INTO host (map_id, network, address, hostnames, discovery, closed_ports, filtered_ports,
                        in_netblock, excluded, ttl, new, rogue, hops, forwards, device_type, device_type_confidence,
                        device_type_evidence, os, os_confidence, os_evidence)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                let insertService = try db.makeStatement(sql: """
                    INSERT INTO service (host_id, port, protocol, state, name, product, version, extra_info, cpe,
                        method, certain, device_type, os, tls, probe_errors)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for index in map.hosts.indices {
                    let host = map.hosts[index]
                    let known = try Bool.fetchOne(seen, arguments: [map.network, host.address, id]) ?? false
                    map.hosts[index].new = known ? nil : true
                    try insertHost.execute(arguments: [
                        id, map.network, host.address, Self.json(host.hostnames), Self.json(host.discovery),
                        host.closedPorts, host.filteredPorts, host.inNetblock, host.excluded, host.ttl,
                        known ? nil : true, host.rogue, host.hops, host.forwards.map(Self.json), Self.text(host.deviceType),
                        host.deviceTypeConfidence, host.deviceTypeEvidence.map(Self.json), Self.text(host.os), host.osConfidence,
                        host.osEvidence.map(Self.json),
                    ])
                    let hostID = db.lastInsertedRowID
                    for service in host.services {
                        try insertService.execute(arguments: [
                            hostID, Int(service.port), service.protocol.rawValue, service.state, Self.text(service.name),
                            Self.text(service.product), Self.text(service.version), Self.text(service.extraInfo),
                            service.cpe.map(Self.json), service.method, service.certain, Self.text(service.deviceType),
                            service.os.map(Self.json),
                            service.tls, service.probeErrors.map(Self.json),
                        ])
                    }
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path, error)
        }
        return map
    }

    public func reopen(id: Int64, pid: Int32) throws(StoreError) -> MapResult {
        do {
            try pool.write { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT status, pid FROM map WHERE id = ?", arguments: [id]) else {
                    throw StoreError("store \(path): there is no map \(id)")
                }
                let status: String = row["status"], owner: Int? = row["pid"]
                if status == MapResult.Status.complete.rawValue {
                    throw StoreError("store \(path): map \(id) is complete; there is nothing to resume")
                }
                if status == MapResult.Status.running.rawValue, let owner, Self.isCartograph(pid: Int32(clamping: owner)) {
                    throw StoreError("store \(path): map \(id) is still running (process \(owner))")
                }
                try db.execute(sql: "UPDATE map SET status = 'running', finished_at = NULL, pid = ?, updated_at = ? WHERE id = ?",
                               arguments: [Int(pid), Date(), id])
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path, error)
        }
        guard let map = try map(id: id) else { throw StoreError("store \(path): map \(id) is gone") }
        return map
    }

    /// Maps left `running` by a process that no longer runs on this scanner become `interrupted`,
    /// finished at their last checkpoint.
    func reconcileInterrupted() throws(StoreError) {
        do {
            let dead = try deadRunningMaps()
            guard !dead.isEmpty else { return }
            try pool.write { db in
                for id in dead {
                    try db.execute(sql: """
                        UPDATE map SET status = 'interrupted', finished_at = updated_at WHERE id = ? AND status = 'running'
                        """, arguments: [id])
                }
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// Maps marked `running` whose process is gone.
    func deadRunningMaps() throws -> [Int64] {
        let running = try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, pid FROM map WHERE status = 'running'")
        }
        return running.filter { row in
            let pid: Int? = row["pid"]
            return pid.map { !Self.isCartograph(pid: Int32(clamping: $0)) } ?? true
        }.map { $0["id"] as Int64 }
    }

    /// Whether `pid` is a live cartograph process (a reused pid belongs to something else).
    static func isCartograph(pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM,
              let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { return false }
        return comm.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("cartograph")
    }

    /// Deletes a map with its hosts and services; false when there is no such map.
    public func delete(id: Int64) throws(StoreError) -> Bool {
        do {
            return try pool.write { db in
                try db.execute(sql: "DELETE FROM map WHERE id = ?", arguments: [id])
                return db.changesCount > 0
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    // MARK: Reading

    /// Every map, newest first, optionally in one network.
    public func list(network: String?) throws(StoreError) -> [MapSummary] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT map.*,
                        (SELECT count(*) FROM host WHERE host.map_id = map.id AND coalesce(host.excluded, 0) = 0
                           AND host.discovery != '["traceroute"]') AS host_count,
                        (SELECT count(*) FROM service JOIN host ON service.host_id = host.id WHERE host.map_id = map.id) AS port_count
                    FROM map WHERE ?1 IS NULL OR network = ?1 ORDER BY id DESC
                    """, arguments: [network]).map(Self.summary)
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    static func summary(_ row: Row) -> MapSummary {
        MapSummary(id: row["id"], title: row["title"], target: row["target"], network: row["network"],
                   profile: row["profile"], scanner: row["scanner"], launchedBy: row["launched_by"],
                   launchedAt: row["launched_at"], startedAt: row["started_at"], finishedAt: row["finished_at"],
                   status: MapResult.Status(rawValue: row["status"]) ?? .failed,
                   hosts: row["host_count"] ?? 0, openPorts: row["port_count"] ?? 0)
    }

    /// The newest map's id, if any.
    public func latestID() throws(StoreError) -> Int64? {
        do {
            return try pool.read { try Int64.fetchOne($0, sql: "SELECT max(id) FROM map") }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// The two newest complete maps of the newest complete map's target and network, oldest
    /// first: running, interrupted and failed maps saw only part of the network. With
    /// `includeRunning`, maps still running count too.
    public func latestPair(includeRunning: Bool) throws(StoreError) -> (Int64, Int64)? {
        do {
            return try pool.read { db in
                let ids = try Int64.fetchAll(db, sql: """
                    WITH usable AS (SELECT * FROM map WHERE status = 'complete' OR (?1 AND status = 'running'))
                    SELECT id FROM usable
                    WHERE (target, network) = (SELECT target, network FROM usable ORDER BY id DESC LIMIT 1)
                    ORDER BY id DESC LIMIT 2
                    """, arguments: [includeRunning])
                return ids.count == 2 ? (ids[1], ids[0]) : nil
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// A map's status as stored, nil when there is no such map.
    public func status(id: Int64) throws(StoreError) -> MapResult.Status? {
        do {
            return try pool.read { db in
                try String.fetchOne(db, sql: "SELECT status FROM map WHERE id = ?", arguments: [id])
                    .map { MapResult.Status(rawValue: $0) ?? .failed }
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// The newest map of every (target, network), in one network or all, oldest target first.
    public func latestPerTarget(network: String?) throws(StoreError) -> [Int64] {
        do {
            return try pool.read { db in
                try Int64.fetchAll(db, sql: """
                    SELECT max(id) FROM map WHERE ?1 IS NULL OR network = ?1 GROUP BY target, network ORDER BY max(id)
                    """, arguments: [network])
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// The newest complete map before `id` of the same target and network, if any: the baseline
    /// a trend is measured against (an interrupted or failed map saw only part of the network).
    public func previous(of id: Int64) throws(StoreError) -> Int64? {
        do {
            return try pool.read { db in
                try Int64.fetchOne(db, sql: """
                    SELECT p.id FROM map p JOIN map m ON m.id = ? WHERE p.target = m.target AND p.network = m.network
                      AND p.id < m.id AND p.status = 'complete' ORDER BY p.id DESC LIMIT 1
                    """, arguments: [id])
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// The profile settings a map ran with, as stored (JSON).
    public func settings(id: Int64) throws(StoreError) -> Profile? {
        do {
            guard let text = try pool.read({ try String.fetchOne($0, sql: "SELECT settings FROM map WHERE id = ?", arguments: [id]) })
            else { return nil }
            guard let settings = try? JSONDecoder().decode(Profile.self, from: Data(text.utf8)) else {
                throw StoreError("store \(path): the settings of map \(id) cannot be read (written by another version?)")
            }
            return settings
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(path, error)
        }
    }

    /// One whole map, as `map` reported it (with its id, and `new` flags as stored).
    public func map(id: Int64) throws(StoreError) -> MapResult? {
        do {
            return try pool.read { db -> MapResult? in
                guard let row = try Row.fetchOne(db, sql: "SELECT * FROM map WHERE id = ?", arguments: [id]) else { return nil }
                let hosts = try Self.hosts(db, sql: "SELECT * FROM host WHERE map_id = ?", arguments: [id]).map(\.1)
                var map = MapResult(target: row["target"], profile: row["profile"],
                                    status: MapResult.Status(rawValue: row["status"]) ?? .failed,
                                    startedAt: row["started_at"], finishedAt: row["finished_at"] ?? row["updated_at"],
                                    addressesScanned: row["addresses_scanned"], excludedAddresses: row["excluded_addresses"],
                                    hosts: hosts.sorted { IPAddress.textOrder($0.address, $1.address) },
                                    warnings: Self.decode(row["warnings"]) ?? [])
                map.id = id
                map.title = row["title"]
                map.network = row["network"]
                map.scanner = row["scanner"]
                map.launchedBy = row["launched_by"]
                map.launchedAt = row["launched_at"]
                map.assetGroup = row["asset_group"]
                map.progress = Self.decode(row["progress"])
                return map
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// The latest known state of every (network, address): the host as the newest map that
    /// found it saw it. `network` nil means all networks.
    public func hosts(network: String?) throws(StoreError) -> [HostState] {
        do {
            return try pool.read { db in
                let rows = try Self.hosts(db, sql: """
                    SELECT host.*, map.started_at AS seen_at FROM host JOIN map ON map.id = host.map_id
                    WHERE (?1 IS NULL OR host.network = ?1) AND coalesce(host.excluded, 0) = 0
                      AND host.map_id = (SELECT max(h.map_id) FROM host h
                                         WHERE h.network = host.network AND h.address = host.address
                                           AND coalesce(h.excluded, 0) = 0)
                    """, arguments: [network])
                return rows.map { row, host in
                    HostState(network: row["network"], mapId: row["map_id"], seenAt: row["seen_at"], host: host)
                }.sorted { $0.network != $1.network ? $0.network < $1.network : IPAddress.textOrder($0.host.address, $1.host.address) }
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// The networks maps have run in, with the scanner the inventory named for each.
    public func networks() throws(StoreError) -> [Inventory.Network] {
        do {
            return try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM network ORDER BY name").map { row in
                    var network = Inventory.Network(name: row["name"])
                    network.scanner = row["scanner"]
                    network.description = row["description"]
                    return network
                }
            }
        } catch {
            throw StoreError(path, error)
        }
    }

    /// Host rows with their services.
    static func hosts(_ db: Database, sql: String, arguments: StatementArguments) throws -> [(Row, HostResult)] {
        let rows = try Row.fetchAll(db, sql: sql, arguments: arguments)
        let services = try db.makeStatement(sql: "SELECT * FROM service WHERE host_id = ? ORDER BY protocol, port")
        return try rows.map { row in
            var host = HostResult(address: row["address"], hostnames: decode(row["hostnames"]) ?? [],
                                  discovery: decode(row["discovery"]) ?? [],
                                  closedPorts: row["closed_ports"], filteredPorts: row["filtered_ports"])
            host.inNetblock = row["in_netblock"]
            host.excluded = row["excluded"]
            host.ttl = row["ttl"]
            host.new = row["new"]
            host.rogue = row["rogue"]
            host.hops = row["hops"]
            host.forwards = decode(row["forwards"])
            host.deviceType = row["device_type"]
            host.deviceTypeConfidence = row["device_type_confidence"]
            host.deviceTypeEvidence = decode(row["device_type_evidence"])
            host.os = row["os"]
            host.osConfidence = row["os_confidence"]
            host.osEvidence = decode(row["os_evidence"])
            host.services = try Row.fetchAll(services, arguments: [row["id"] as Int64]).map { s in
                var service = ServiceResult(port: UInt16(clamping: s["port"] as Int? ?? 0),
                                            protocol: TransportProtocol(rawValue: s["protocol"]) ?? .tcp,
                                            state: s["state"], method: s["method"])
                service.name = s["name"]
                service.product = s["product"]
                service.version = s["version"]
                service.extraInfo = s["extra_info"]
                service.cpe = decode(s["cpe"])
                service.certain = s["certain"]
                service.deviceType = s["device_type"]
                service.os = decode(s["os"])
                service.tls = s["tls"]
                service.probeErrors = decode(s["probe_errors"])
                return service
            }
            return (row, host)
        }
    }

    /// A service-derived string as SQLite should keep it: SQLite's C API (and GRDB's binding)
    /// ends a text value at its first NUL, so a string holding one is stored as a blob of its
    /// UTF-8, which reads back as the same string.
    static func text(_ value: String?) -> (any DatabaseValueConvertible)? {
        guard let value else { return nil }
        return value.utf8.contains(0) ? Data(value.utf8) : value
    }

    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    static func decode<T: Decodable>(_ text: String?) -> T? {
        text.flatMap { try? JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }
}

