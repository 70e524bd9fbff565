import CartographCore
import Foundation

/// The team store: one PostgreSQL database reached through libpq, shared by every scanner.
///
/// The schema is SQLite's, in PostgreSQL's types (`timestamptz`, `boolean`, identity ids), with
/// the same migrations recorded in `cartograph_migrations`; they run under a transaction-level
/// advisory lock, so processes opening a new database together migrate it once. A running map is
/// alive while the connection that began it holds the map's session advisory lock: a map whose
/// process died anywhere (on this machine or another scanner's) lost its lock with its connection,
/// and the next store opened marks it interrupted. PostgreSQL text cannot hold NUL, so a string
/// with one (or one starting with U+FDD0) is kept as U+FDD0 and the base64 of its UTF-8.
/// One connection per store, used under a lock: the checkpoint writer's thread and the caller's
/// may share it.
public final class PostgresMapStore: MapStore, @unchecked Sendable {
    public let location: String
    public let isReadOnly = false
    public private(set) var notes: [String] = []
    private let connection: PGConnection
    private let lock = NSLock()
    /// Maps this store began that still run: their advisory locks are taken again after a reconnect.
    private var running: Set<Int64> = []

    /// The advisory lock classes: (migrations, 0) while migrating, (maps, id) while a map runs.
    static let migrationLock = 0x4347_4D47   // "CGMG"
    static let mapLock = 0x4347_4D50         // "CGMP"

    /// Connects to `url`, brings the schema up to date under the migration lock, and marks maps
    /// whose process is gone as interrupted. `readOnly`: the caller only reads, so a role that
    /// may not mark maps interrupted gets a note instead of an error.
    public init(url: String, readOnly: Bool = false) throws(StoreError) {
        connection = try PGConnection(url: url)
        location = connection.location
        try migrate()
        do {
            try reconcileInterrupted()
        } catch let error where readOnly && error.sqlState == "42501" {
            notes.append("\(location): this role may not mark interrupted maps; they stay marked running")
        }
    }

    /// Ends the connection: maps this store was running lose their lock, as when the process dies.
    public func close() {
        lock.withLock { connection.close() }
    }

    /// Runs `body` with the connection. When the connection was lost (the server restarted, an
    /// administrator ended it), it reconnects once, takes the running maps' locks again and runs
    /// `body` again: the server rolled back whatever the lost connection had not committed.
    private func use<T>(_ body: (PGConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try body(connection)
        } catch {
            guard connection.isBroken, connection.reset() else { throw error }
            for id in running { _ = try? connection.execute("SELECT pg_advisory_lock($1, $2)", [String(Self.mapLock), Self.key(id)]) }
            return try body(connection)
        }
    }

    static func key(_ id: Int64) -> String { String(id % Int64(Int32.max)) }

    // MARK: Schema

    /// Applies the migrations this database lacks, refusing one written by a newer Cartograph.
    func migrate() throws(StoreError) {
        try use { db throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                try db.execute("SELECT pg_advisory_xact_lock($1, 0)", [String(Self.migrationLock)])
                if try db.scalar("SELECT to_regclass('cartograph_migrations')::text") == nil {
                    try db.execute("CREATE TABLE cartograph_migrations (identifier text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
                }
                let rows = try db.execute("SELECT identifier FROM cartograph_migrations")
                let applied = Set((0..<rows.count).compactMap { rows[$0, 0] })
                let unknown = applied.subtracting(MapStores.migrations + Fleet.migrations)
                if !unknown.isEmpty {
                    throw StoreError("store \(location): written by a newer Cartograph (schema \(unknown.sorted().joined(separator: ", "))); upgrade to read it")
                }
                for (identifier, statements) in zip(MapStores.migrations, Self.schema) where !applied.contains(identifier) {
                    for statement in statements { try db.execute(statement) }
                    try db.execute("INSERT INTO cartograph_migrations (identifier) VALUES ($1)", [identifier])
                }
            }
        }
    }

    /// Each migration's statements, in `MapStores.migrations`' order: SQLite's schema (see
    /// `SQLiteMapStore.migrator`) in PostgreSQL's types.
    static let schema: [[String]] = [
        [
            """
            CREATE TABLE network (name text PRIMARY KEY, scanner text, description text, first_used_at timestamptz NOT NULL)
            """,
            """
            CREATE TABLE map (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, title text NOT NULL,
                target text NOT NULL, network text NOT NULL REFERENCES network ON DELETE RESTRICT, asset_group text,
                profile text NOT NULL, settings text NOT NULL, scanner text NOT NULL, launched_by text NOT NULL,
                launched_at timestamptz NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz,
                updated_at timestamptz NOT NULL, status text NOT NULL, pid integer, addresses_scanned text NOT NULL,
                excluded_addresses text NOT NULL, warnings text NOT NULL)
            """,
            "CREATE INDEX map_by_target ON map (target, network, id)",
            """
            CREATE TABLE host (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                map_id bigint NOT NULL REFERENCES map ON DELETE CASCADE, network text NOT NULL, address text NOT NULL,
                hostnames text NOT NULL, discovery text NOT NULL, closed_ports integer NOT NULL,
                filtered_ports integer NOT NULL, in_netblock boolean, excluded boolean, ttl integer, new boolean,
                rogue boolean, UNIQUE (map_id, address))
            """,
            "CREATE INDEX host_by_address ON host (network, address, map_id)",
            """
            CREATE TABLE service (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                host_id bigint NOT NULL REFERENCES host ON DELETE CASCADE, port integer NOT NULL, protocol text NOT NULL,
                state text NOT NULL, name text, product text, version text, extra_info text, cpe text,
                method text NOT NULL, certain boolean, device_type text, os text, tls boolean, probe_errors text,
                UNIQUE (host_id, protocol, port))
            """,
        ],
        [
            """
            ALTER TABLE host ADD COLUMN hops integer, ADD COLUMN forwards text, ADD COLUMN device_type text,
                ADD COLUMN device_type_confidence integer, ADD COLUMN device_type_evidence text, ADD COLUMN os text,
                ADD COLUMN os_confidence integer, ADD COLUMN os_evidence text
            """,
        ],
        ["ALTER TABLE map ADD COLUMN progress text"],
    ]

    // MARK: Writing

    public func begin(_ map: MapResult, settings: Profile, network: Inventory.Network?, pid: Int32) throws(StoreError) -> Int64 {
        let now = Self.time(Date())
        return try use { db throws(StoreError) in
            let id = try db.transaction { () throws(StoreError) -> Int64 in
                try db.execute("""
                    INSERT INTO network (name, scanner, description, first_used_at) VALUES ($1, $2, $3, to_timestamp($4))
                    ON CONFLICT (name) DO UPDATE SET scanner = coalesce(excluded.scanner, network.scanner),
                        description = coalesce(excluded.description, network.description)
                    """, [map.network, network?.scanner, network?.description, now])
                let text = try db.scalar("""
                    INSERT INTO map (title, target, network, asset_group, profile, settings, scanner, launched_by,
                        launched_at, started_at, updated_at, status, pid, addresses_scanned, excluded_addresses, warnings)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9), to_timestamp($10), to_timestamp($11),
                        'running', $12, $13, $14, '[]')
                    RETURNING id
                    """, [map.title ?? map.target, map.target, map.network, map.assetGroup, map.profile,
                          Self.text(SQLiteMapStore.json(settings)), map.scanner ?? "", map.launchedBy ?? "",
                          Self.time(map.launchedAt ?? map.startedAt), Self.time(map.startedAt), now, String(pid),
                          map.addressesScanned, map.excludedAddresses])
                guard let text, let id = Int64(text) else { throw StoreError("store \(location): the new map got no id") }
                // Taken before the row is visible to others, so no opener can see it running unlocked.
                try db.execute("SELECT pg_advisory_lock($1, $2)", [String(Self.mapLock), Self.key(id)])
                return id
            }
            running.insert(id)
            return id
        }
    }

    @discardableResult
    public func save(_ map: MapResult, id: Int64) throws(StoreError) -> MapResult {
        var map = map
        map.id = id
        try use { db throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                let updated = try db.execute("""
                    UPDATE map SET status = $1, finished_at = to_timestamp($2), updated_at = to_timestamp($3),
                        addresses_scanned = $4, excluded_addresses = $5, warnings = $6, started_at = to_timestamp($7),
                        asset_group = $8, progress = $9
                    WHERE id = $10
                    """, [map.status.rawValue, map.status == .running ? nil : Self.time(map.finishedAt), Self.time(Date()),
                          map.addressesScanned, map.excludedAddresses, Self.text(SQLiteMapStore.json(map.warnings)),
                          Self.time(map.startedAt), map.assetGroup,
                          map.status == .complete ? nil : map.progress.flatMap { Self.text(SQLiteMapStore.json($0)) }, String(id)])
                guard updated.changed == 1 else { throw StoreError("store \(location): map \(id) is gone (deleted while it ran?)") }
                try db.execute("DELETE FROM host WHERE map_id = $1", [String(id)])
                try insertHosts(&map, id: id, db)
            }
            if map.status != .running, running.remove(id) != nil {
                _ = try? db.execute("SELECT pg_advisory_unlock($1, $2)", [String(Self.mapLock), Self.key(id)])
            }
        }
        return map
    }

    /// Inserts the map's hosts, then their services, one statement each (the rows travel as
    /// arrays, through `unnest`): a checkpoint of thousands of hosts is two round trips, not one a
    /// row. Sets each host's `new` flag as stored.
    private func insertHosts(_ map: inout MapResult, id: Int64, _ db: PGConnection) throws(StoreError) {
        guard !map.hosts.isEmpty else { return }
        func json<T: Encodable>(_ value: T?) -> String? { value.flatMap { Self.text(SQLiteMapStore.json($0)) } }
        let hosts = map.hosts
        let columns: [[String?]] = [
            hosts.map { Self.text($0.address) }, hosts.map { json($0.hostnames) }, hosts.map { json($0.discovery) },
            hosts.map { String($0.closedPorts) }, hosts.map { String($0.filteredPorts) }, hosts.map { Self.bool($0.inNetblock) },
            hosts.map { Self.bool($0.excluded) }, hosts.map { $0.ttl.map { String($0) } }, hosts.map { Self.bool($0.rogue) },
            hosts.map { $0.hops.map { String($0) } }, hosts.map { json($0.forwards) }, hosts.map { Self.text($0.deviceType) },
            hosts.map { $0.deviceTypeConfidence.map { String($0) } }, hosts.map { json($0.deviceTypeEvidence) },
            hosts.map { Self.text($0.os) }, hosts.map { $0.osConfidence.map { String($0) } }, hosts.map { json($0.osEvidence) },
        ]
        let inserted = try db.execute("""
            INSERT INTO host (map_id, network, address, hostnames, discovery, closed_ports, filtered_ports, in_netblock,
                excluded, ttl, new, rogue, hops, forwards, device_type, device_type_confidence, device_type_evidence, os,
                os_confidence, os_evidence)
            SELECT $1, $2, h.address, h.hostnames, h.discovery, h.closed_ports, h.filtered_ports, h.in_netblock,
                h.excluded, h.ttl,
                CASE WHEN EXISTS (SELECT 1 FROM host o WHERE o.network = $2 AND o.address = h.address AND o.map_id < $1)
                     THEN NULL ELSE true END,
                h.rogue, h.hops, h.forwards, h.device_type, h.device_type_confidence, h.device_type_evidence, h.os,
                h.os_confidence, h.os_evidence
            FROM unnest($3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::boolean[], $9::boolean[], $10::int[],
                        $11::boolean[], $12::int[], $13::text[], $14::text[], $15::int[], $16::text[], $17::text[],
                        $18::int[], $19::text[])
                AS h(address, hostnames, discovery, closed_ports, filtered_ports, in_netblock, excluded, ttl, rogue, hops,
                     forwards, device_type, device_type_confidence, device_type_evidence, os, os_confidence, os_evidence)
            RETURNING id, address, new
            """, [String(id), map.network] + columns.map(Self.array))
        var stored: [String: (id: String, new: Bool)] = [:]
        for row in 0..<inserted.count {
            if let address = inserted[row, "address"], let hostID = inserted[row, "id"] {
                stored[address] = (hostID, inserted[row, "new"] == "t")
            }
        }
        var services: [(host: String, service: ServiceResult)] = []
        for index in map.hosts.indices {
            guard let row = stored[Self.text(map.hosts[index].address) ?? ""] else {
                throw StoreError("store \(location): host \(map.hosts[index].address) of map \(id) was not stored")
            }
            map.hosts[index].new = row.new ? true : nil
            services += map.hosts[index].services.map { (row.id, $0) }
        }
        guard !services.isEmpty else { return }
        let list = services.map(\.service)
        let serviceColumns: [[String?]] = [
            services.map(\.host), list.map { String($0.port) }, list.map { $0.protocol.rawValue }, list.map { Self.text($0.state) },
            list.map { Self.text($0.name) }, list.map { Self.text($0.product) }, list.map { Self.text($0.version) },
            list.map { Self.text($0.extraInfo) }, list.map { json($0.cpe) }, list.map { Self.text($0.method) },
            list.map { Self.bool($0.certain) }, list.map { Self.text($0.deviceType) }, list.map { json($0.os) },
            list.map { Self.bool($0.tls) }, list.map { json($0.probeErrors) },
        ]
        try db.execute("""
            INSERT INTO service (host_id, port, protocol, state, name, product, version, extra_info, cpe, method, certain,
                device_type, os, tls, probe_errors)
            SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                                 $8::text[], $9::text[], $10::text[], $11::boolean[], $12::text[], $13::text[],
                                 $14::boolean[], $15::text[])
            """, serviceColumns.map(Self.array))
    }

    /// One array parameter in PostgreSQL's text form: every element quoted (`\` and `"` escaped),
    /// NULL as NULL.
    static func array(_ values: [String?]) -> String? {
        var text = "{"
        for (index, value) in values.enumerated() {
            if index > 0 { text += "," }
            guard let value else { text += "NULL"; continue }
            text += "\""
            for character in value.unicodeScalars {
                if character == "\\" || character == "\"" { text += "\\" }
                text.unicodeScalars.append(character)
            }
            text += "\""
        }
        return text + "}"
    }

    /// Maps left `running` whose lock nobody holds (their connection, so their process, is gone)
    /// become `interrupted`, finished at their last checkpoint.
    func reconcileInterrupted() throws(StoreError) {
        try use { db throws(StoreError) in
            let rows = try db.execute("SELECT id FROM map WHERE status = 'running'")
            for id in (0..<rows.count).compactMap({ rows[$0, 0] }) {
                guard try db.scalar("SELECT pg_try_advisory_lock($1, $2)", [String(Self.mapLock), Self.key(Int64(id) ?? 0)]) == "t"
                else { continue }
                defer { _ = try? db.execute("SELECT pg_advisory_unlock($1, $2)", [String(Self.mapLock), Self.key(Int64(id) ?? 0)]) }
                try db.execute("UPDATE map SET status = 'interrupted', finished_at = updated_at WHERE id = $1 AND status = 'running'", [id])
            }
        }
    }

    public func reopen(id: Int64, pid: Int32) throws(StoreError) -> MapResult {
        try use { db throws(StoreError) in
            guard let status = try db.scalar("SELECT status FROM map WHERE id = $1", [String(id)]) else {
                throw StoreError("store \(location): there is no map \(id)")
            }
            if status == MapResult.Status.complete.rawValue {
                throw StoreError("store \(location): map \(id) is complete; there is nothing to resume")
            }
            // Whoever runs a map holds its lock: a process still running it keeps it from us.
            var locked = running.contains(id)
            if !locked { locked = try db.scalar("SELECT pg_try_advisory_lock($1, $2)", [String(Self.mapLock), Self.key(id)]) == "t" }
            guard locked else {
                throw StoreError("store \(location): map \(id) is still running on another connection")
            }
            try db.execute("UPDATE map SET status = 'running', finished_at = NULL, pid = $1, updated_at = now() WHERE id = $2",
                           [String(pid), String(id)])
            running.insert(id)
        }
        guard let map = try map(id: id) else { throw StoreError("store \(location): map \(id) is gone") }
        return map
    }

    public func delete(id: Int64) throws(StoreError) -> Bool {
        try use { db throws(StoreError) in try db.execute("DELETE FROM map WHERE id = $1", [String(id)]).changed > 0 }
    }

    // MARK: Reading

    public func list(network: String?) throws(StoreError) -> [MapSummary] {
        try use { db throws(StoreError) in
            let rows = try db.execute("""
                SELECT map.id, map.title, map.target, map.network, map.profile, map.scanner, map.launched_by,
                    \(Self.epochs(["launched_at", "started_at", "finished_at"])), map.status,
                    (SELECT count(*) FROM host WHERE host.map_id = map.id AND NOT coalesce(host.excluded, false)
                       AND host.discovery != '["traceroute"]') AS host_count,
                    (SELECT count(*) FROM service JOIN host ON service.host_id = host.id WHERE host.map_id = map.id) AS port_count
                FROM map WHERE $1::text IS NULL OR network = $1 ORDER BY id DESC
                """, [network])
            return (0..<rows.count).map { row in
                MapSummary(id: Int64(rows[row, "id"] ?? "") ?? 0, title: Self.string(rows[row, "title"]),
                           target: Self.string(rows[row, "target"]), network: Self.string(rows[row, "network"]),
                           profile: Self.string(rows[row, "profile"]), scanner: Self.string(rows[row, "scanner"]),
                           launchedBy: Self.string(rows[row, "launched_by"]), launchedAt: Self.date(rows[row, "launched_at"]) ?? Date(),
                           startedAt: Self.date(rows[row, "started_at"]) ?? Date(), finishedAt: Self.date(rows[row, "finished_at"]),
                           status: MapResult.Status(rawValue: rows[row, "status"] ?? "") ?? .failed,
                           hosts: Int(rows[row, "host_count"] ?? "") ?? 0, openPorts: Int(rows[row, "port_count"] ?? "") ?? 0)
            }
        }
    }

    public func latestID() throws(StoreError) -> Int64? {
        try use { db throws(StoreError) in try db.scalar("SELECT max(id) FROM map").flatMap { Int64($0) } }
    }

    public func latestPair(includeRunning: Bool) throws(StoreError) -> (Int64, Int64)? {
        let ids = try ids("""
            WITH usable AS (SELECT * FROM map WHERE status = 'complete' OR ($1::boolean AND status = 'running'))
            SELECT id FROM usable
            WHERE (target, network) = (SELECT target, network FROM usable ORDER BY id DESC LIMIT 1)
            ORDER BY id DESC LIMIT 2
            """, [includeRunning ? "t" : "f"])
        return ids.count == 2 ? (ids[1], ids[0]) : nil
    }

    public func status(id: Int64) throws(StoreError) -> MapResult.Status? {
        try use { db throws(StoreError) in
            try db.scalar("SELECT status FROM map WHERE id = $1", [String(id)]).map { MapResult.Status(rawValue: $0) ?? .failed }
        }
    }

    public func latestPerTarget(network: String?) throws(StoreError) -> [Int64] {
        try ids("SELECT max(id) FROM map WHERE $1::text IS NULL OR network = $1 GROUP BY target, network ORDER BY max(id)", [network])
    }

    public func previous(of id: Int64) throws(StoreError) -> Int64? {
        try ids("""
            SELECT p.id FROM map p JOIN map m ON m.id = $1 WHERE p.target = m.target AND p.network = m.network
              AND p.id < m.id AND p.status = 'complete' ORDER BY p.id DESC LIMIT 1
            """, [String(id)]).first
    }

    func ids(_ sql: String, _ parameters: [String?]) throws(StoreError) -> [Int64] {
        try use { db throws(StoreError) in
            let rows = try db.execute(sql, parameters)
            return (0..<rows.count).compactMap { rows[$0, 0].flatMap { Int64($0) } }
        }
    }

    public func settings(id: Int64) throws(StoreError) -> Profile? {
        guard let text = try use({ db throws(StoreError) in try db.scalar("SELECT settings FROM map WHERE id = $1", [String(id)]) })
        else { return nil }
        guard let settings = try? JSONDecoder().decode(Profile.self, from: Data(Self.string(text).utf8)) else {
            throw StoreError("store \(location): the settings of map \(id) cannot be read (written by another version?)")
        }
        return settings
    }

    public func map(id: Int64) throws(StoreError) -> MapResult? {
        try use { db throws(StoreError) -> MapResult? in
            // The epochs come after `*`, so their names read the epochs, not the timestamps.
            let rows = try db.execute("""
                SELECT *, \(Self.epochs(["launched_at", "started_at", "finished_at", "updated_at"])) FROM map WHERE id = $1
                """, [String(id)])
            guard rows.count == 1 else { return nil }
            let hosts = try Self.hosts(db, "SELECT host.* FROM host WHERE map_id = $1", [String(id)]).map(\.host.host)
            let started = Self.date(rows[0, "started_at"]) ?? Date()
            var map = MapResult(target: Self.string(rows[0, "target"]), profile: Self.string(rows[0, "profile"]),
                                status: MapResult.Status(rawValue: rows[0, "status"] ?? "") ?? .failed, startedAt: started,
                                finishedAt: Self.date(rows[0, "finished_at"]) ?? Self.date(rows[0, "updated_at"]) ?? started,
                                addressesScanned: Self.string(rows[0, "addresses_scanned"]),
                                excludedAddresses: Self.string(rows[0, "excluded_addresses"]),
                                hosts: hosts.sorted { IPAddress.textOrder($0.address, $1.address) },
                                warnings: Self.decode(rows[0, "warnings"]) ?? [])
            map.id = id
            map.title = Self.optional(rows[0, "title"])
            map.network = Self.string(rows[0, "network"])
            map.scanner = Self.optional(rows[0, "scanner"])
            map.launchedBy = Self.optional(rows[0, "launched_by"])
            map.launchedAt = Self.date(rows[0, "launched_at"])
            map.assetGroup = Self.optional(rows[0, "asset_group"])
            map.progress = Self.decode(rows[0, "progress"])
            return map
        }
    }

    public func hosts(network: String?) throws(StoreError) -> [HostState] {
        try use { db throws(StoreError) in
            try Self.hosts(db, """
                SELECT host.*, extract(epoch FROM map.started_at)::float8 AS seen_at FROM host JOIN map ON map.id = host.map_id
                WHERE ($1::text IS NULL OR host.network = $1) AND NOT coalesce(host.excluded, false)
                  AND host.map_id = (SELECT max(h.map_id) FROM host h
                                     WHERE h.network = host.network AND h.address = host.address
                                       AND NOT coalesce(h.excluded, false))
                """, [network]).map { seenAt, host in
                HostState(network: host.network, mapId: host.mapID, seenAt: Self.date(seenAt) ?? Date(), host: host.host)
            }.sorted { $0.network != $1.network ? $0.network < $1.network : IPAddress.textOrder($0.host.address, $1.host.address) }
        }
    }

    public func networks() throws(StoreError) -> [Inventory.Network] {
        try use { db throws(StoreError) in
            let rows = try db.execute("SELECT name, scanner, description FROM network ORDER BY name")
            return (0..<rows.count).map { row in
                var network = Inventory.Network(name: Self.string(rows[row, "name"]))
                network.scanner = Self.optional(rows[row, "scanner"])
                network.description = Self.optional(rows[row, "description"])
                return network
            }
        }
    }

    struct StoredHost {
        var network: String
        var mapID: Int64
        var host: HostResult
    }

    /// Host rows with their services (`seen_at`, when the query has it); the services of all
    /// the hosts come in one query.
    static func hosts(_ db: PGConnection, _ sql: String, _ parameters: [String?]) throws(StoreError) -> [(seenAt: String?, host: StoredHost)] {
        let rows = try db.execute(sql, parameters)
        let ids = (0..<rows.count).map { rows[$0, "id"] }
        let services = try db.execute("SELECT * FROM service WHERE host_id = ANY($1::bigint[]) ORDER BY host_id, protocol, port",
                                      [array(ids)])
        var byHost: [String: [ServiceResult]] = [:]
        for s in 0..<services.count {
            var service = ServiceResult(port: UInt16(clamping: Int(services[s, "port"] ?? "") ?? 0),
                                        protocol: TransportProtocol(rawValue: services[s, "protocol"] ?? "") ?? .tcp,
                                        state: string(services[s, "state"]), method: string(services[s, "method"]))
            service.name = optional(services[s, "name"])
            service.product = optional(services[s, "product"])
            service.version = optional(services[s, "version"])
            service.extraInfo = optional(services[s, "extra_info"])
            service.cpe = decode(services[s, "cpe"])
            service.certain = bool(services[s, "certain"])
            service.deviceType = optional(services[s, "device_type"])
            service.os = decode(services[s, "os"])
            service.tls = bool(services[s, "tls"])
            service.probeErrors = decode(services[s, "probe_errors"])
            byHost[services[s, "host_id"] ?? "", default: []].append(service)
        }
        return (0..<rows.count).map { r in
            var host = HostResult(address: string(rows[r, "address"]), hostnames: decode(rows[r, "hostnames"]) ?? [],
                                  discovery: decode(rows[r, "discovery"]) ?? [],
                                  closedPorts: Int(rows[r, "closed_ports"] ?? "") ?? 0,
                                  filteredPorts: Int(rows[r, "filtered_ports"] ?? "") ?? 0)
            host.inNetblock = bool(rows[r, "in_netblock"])
            host.excluded = bool(rows[r, "excluded"])
            host.ttl = rows[r, "ttl"].flatMap { Int($0) }
            host.new = bool(rows[r, "new"])
            host.rogue = bool(rows[r, "rogue"])
            host.hops = rows[r, "hops"].flatMap { Int($0) }
            host.forwards = decode(rows[r, "forwards"])
            host.deviceType = optional(rows[r, "device_type"])
            host.deviceTypeConfidence = rows[r, "device_type_confidence"].flatMap { Int($0) }
            host.deviceTypeEvidence = decode(rows[r, "device_type_evidence"])
            host.os = optional(rows[r, "os"])
            host.osConfidence = rows[r, "os_confidence"].flatMap { Int($0) }
            host.osEvidence = decode(rows[r, "os_evidence"])
            host.services = byHost[rows[r, "id"] ?? ""] ?? []
            return (rows[r, "seen_at"], StoredHost(network: string(rows[r, "network"]), mapID: Int64(rows[r, "map_id"] ?? "") ?? 0, host: host))
        }
    }

    // MARK: Values

    /// Timestamps travel as seconds since 1970 (`to_timestamp`, `extract(epoch ...)`).
    static func time(_ date: Date) -> String { String(format: "%.6f", date.timeIntervalSince1970) }

    static func epochs(_ columns: [String]) -> String {
        columns.map { "extract(epoch FROM map.\($0))::float8 AS \($0)" }.joined(separator: ", ")
    }

    static func date(_ text: String?) -> Date? { text.flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0) } }

    static func bool(_ value: Bool?) -> String? { value.map { $0 ? "t" : "f" } }

    static func bool(_ text: String?) -> Bool? { text.map { $0 == "t" } }

    /// The marker of a string kept as base64 (PostgreSQL text cannot hold NUL).
    static let encoded = Character(Unicode.Scalar(0xFDD0)!)

    static func text(_ value: String?) -> String? {
        guard let value else { return nil }
        guard value.utf8.contains(0) || value.first == encoded else { return value }
        return String(encoded) + Data(value.utf8).base64EncodedString()
    }

    static func optional(_ text: String?) -> String? {
        guard let text, text.first == encoded else { return text }
        return Data(base64Encoded: String(text.dropFirst())).map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    static func string(_ text: String?) -> String { optional(text) ?? "" }

    static func decode<T: Decodable>(_ text: String?) -> T? { SQLiteMapStore.decode(optional(text)) }
}
