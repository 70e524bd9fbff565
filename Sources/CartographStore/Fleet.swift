import CartographCore
import Foundation

/// A scanner agent as the fleet knows it: `cartograph scanners`.
public struct ScannerRecord: Sendable, Equatable {
    public var network: String
    public var name: String
    public var host: String
    public var pid: Int32
    public var version: String
    public var startedAt: Date
    public var heartbeatAt: Date
    /// `idle`, `mapping` or `stopped`.
    public var state: String
    public var job: Int64?
    public var map: Int64?

    /// Whether it heartbeat within `staleAfter` seconds of `now` and has not stopped.
    public func isAlive(now: Date = Date(), staleAfter: TimeInterval) -> Bool {
        state != "stopped" && now.timeIntervalSince(heartbeatAt) <= staleAfter
    }
}

/// A job's states. `split` is a map shared among scanners: its shards are jobs of their own, and
/// it is `done` when every shard has ended and their maps are merged into one.
public enum JobStatus: String, Sendable, CaseIterable {
    case queued, running, done, failed, cancelled, split, merging
    /// Ended: it will not run again.
    public var isFinal: Bool { self == .done || self == .failed || self == .cancelled }
}

/// A map to queue: where it runs and what it is. `request` is opaque here: the command line's
/// `MapRequest` as JSON (target, exclusions, profile settings, title).
public struct NewJob: Codable, Sendable, Equatable {
    public var network: String
    /// The scanner meant to run it; nil: any scanner of the network.
    public var scanner: String?
    /// Only `scanner` may run it (named on the command line, or an asset group's default).
    /// A job that is not strict is taken by another scanner of its network once its scanner is gone.
    public var strict: Bool
    /// The map's target as reports write it, for listings.
    public var target: String
    public var request: String
    /// `--scanner all`: shared among the scanners of the network that are up when it is queued,
    /// one shard each, split by one permutation (with one scanner up, or none, it is one job).
    public var allScanners: Bool

    public init(network: String, scanner: String?, strict: Bool, target: String, request: String, allScanners: Bool = false) {
        self.network = network
        self.scanner = scanner
        self.strict = strict
        self.target = target
        self.request = request
        self.allScanners = allScanners
    }
}

/// One row of the queue: `cartograph queue`.
public struct QueuedJob: Sendable, Equatable {
    public var id: Int64
    public var network: String
    public var scanner: String?
    public var strict: Bool
    public var target: String
    public var request: String
    public var status: JobStatus
    public var createdAt: Date
    public var createdBy: String
    /// The scanner that holds (or last held) it.
    public var claimedBy: String?
    public var leaseUntil: Date?
    /// How many times a scanner took it: more than one means it was taken over.
    public var attempts: Int
    public var mapId: Int64?
    /// For a shard: the shared map's job, its place and the number of shards.
    public var splitOf: Int64?
    public var shard: Int?
    public var shards: Int?
    public var schedule: String?
    public var error: String?
    public var startedAt: Date?
    public var finishedAt: Date?
}

/// A recurring map: `cartograph schedule`.
public struct ScheduleRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var everySeconds: Int64
    public var nextAt: Date
    public var network: String
    public var scanner: String?
    /// What each firing queues.
    public var jobs: [NewJob]
    public var createdBy: String
    public var lastFiredAt: Date?
    public var fired: Int
}

/// The fleet's shared state in the team's PostgreSQL store, beside the maps: scanner agents and
/// their heartbeats, the queue of maps with leases, and schedules. There is no server of ours:
/// agents coordinate through row locks. A job is claimed with `FOR UPDATE SKIP LOCKED` under a
/// lease its agent renews while it maps; a lease that runs out (the agent died) frees the job for
/// another agent of its network, which takes the map up from its last checkpoint. A due schedule
/// is fired under its row's lock, so it queues its maps once however many agents look.
///
/// The fleet needs PostgreSQL: a SQLite file is one machine's store, and its agents would have
/// nothing to share it through.
public final class Fleet: @unchecked Sendable {
    public let location: String
    private let connection: PGConnection
    private let lock = NSLock()

    /// The fleet's migrations, recorded beside the map store's in `cartograph_migrations`.
    static let migrations = ["fleet v1: scanners, jobs, schedules"]
    /// Seconds without a heartbeat after which a scanner counts as gone, for sharing a map.
    public static let staleAfter: TimeInterval = 30

    public init(url: String) throws(StoreError) {
        guard MapStores.isPostgres(url) else {
            throw StoreError("store \(url) is a SQLite file, one machine's: scanners, the queue and schedules need a PostgreSQL store (--db postgresql://... or $CARTOGRAPH_DB)")
        }
        // The map store's schema first (and its migrations), then the fleet's.
        _ = try PostgresMapStore(url: url)
        connection = try PGConnection(url: url)
        location = connection.location
        try migrate()
    }

    public func close() { lock.withLock { connection.close() } }

    @discardableResult
    private func use<T>(_ body: (PGConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            return try body(connection)
        } catch {
            guard connection.isBroken, connection.reset() else { throw error }
            return try body(connection)
        }
    }

    func migrate() throws(StoreError) {
        try use { db throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                try db.execute("SELECT pg_advisory_xact_lock($1, 0)", [String(PostgresMapStore.migrationLock)])
                let rows = try db.execute("SELECT identifier FROM cartograph_migrations")
                let applied = Set((0..<rows.count).compactMap { rows[$0, 0] })
                for (identifier, statements) in zip(Self.migrations, Self.schema) where !applied.contains(identifier) {
                    for statement in statements { try db.execute(statement) }
                    try db.execute("INSERT INTO cartograph_migrations (identifier) VALUES ($1)", [identifier])
                }
            }
        }
    }

    static let schema: [[String]] = [[
        """
        CREATE TABLE scanner (network text NOT NULL, name text NOT NULL, host text NOT NULL, pid integer NOT NULL,
            version text NOT NULL, started_at timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL,
            state text NOT NULL, job_id bigint, map_id bigint, PRIMARY KEY (network, name))
        """,
        """
        CREATE TABLE schedule (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE,
            every_seconds bigint NOT NULL CHECK (every_seconds > 0), next_at timestamptz NOT NULL, network text NOT NULL,
            scanner text, jobs text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), created_by text NOT NULL,
            last_fired_at timestamptz, fired integer NOT NULL DEFAULT 0)
        """,
        """
        CREATE TABLE job (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, network text NOT NULL, scanner text,
            strict boolean NOT NULL DEFAULT false, target text NOT NULL, request text NOT NULL, status text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(), created_by text NOT NULL, claimed_by text,
            lease_until timestamptz, attempts integer NOT NULL DEFAULT 0, map_id bigint, split_of bigint REFERENCES job,
            shard integer, shards integer, schedule text, error text, started_at timestamptz, finished_at timestamptz)
        """,
        "CREATE INDEX job_waiting ON job (network, id) WHERE status IN ('queued', 'running')",
        "CREATE INDEX job_shards ON job (split_of) WHERE split_of IS NOT NULL",
    ]]

    // MARK: Scanners

    /// Registers (or re-registers) a scanner. Refused when a scanner of that name in that network
    /// is alive elsewhere: two agents under one name would take each other's work.
    public func register(network: String, name: String, host: String, pid: Int32, version: String,
                         staleAfter: TimeInterval) throws(StoreError) {
        try use { db throws(StoreError) in
            try db.transaction { () throws(StoreError) in
                let rows = try db.execute("""
                    SELECT host, pid, extract(epoch FROM now() - heartbeat_at) AS age, state FROM scanner
                    WHERE network = $1 AND name = $2 FOR UPDATE
                    """, [network, name])
                if rows.count > 0, rows[0, "state"] != "stopped", let age = Double(rows[0, "age"] ?? ""), age <= staleAfter,
                   rows[0, "host"] != host || rows[0, "pid"] != String(pid) {
                    throw StoreError("scanner \"\(name)\" in network \(network) is already running (pid \(rows[0, "pid"] ?? "?") on \(rows[0, "host"] ?? "?"), heartbeat \(Int(age)) s ago)")
                }
                try db.execute("""
                    INSERT INTO scanner (network, name, host, pid, version, started_at, heartbeat_at, state)
                    VALUES ($1, $2, $3, $4, $5, now(), now(), 'idle')
                    ON CONFLICT (network, name) DO UPDATE SET host = excluded.host, pid = excluded.pid,
                        version = excluded.version, started_at = now(), heartbeat_at = now(), state = 'idle',
                        job_id = NULL, map_id = NULL
                    """, [network, name, host, String(pid), version])
            }
        }
    }

    /// The scanner is alive; `job` and `map` say what it is doing.
    public func heartbeat(network: String, name: String, job: Int64?, map: Int64?) throws(StoreError) {
        try use { db throws(StoreError) in
            try db.execute("""
                UPDATE scanner SET heartbeat_at = now(), state = CASE WHEN $3::bigint IS NULL THEN 'idle' ELSE 'mapping' END,
                    job_id = $3, map_id = $4
                WHERE network = $1 AND name = $2
                """, [network, name, job.map(String.init), map.map(String.init)])
        }
    }

    /// The scanner stopped cleanly.
    public func stopped(network: String, name: String) throws(StoreError) {
        try use { db throws(StoreError) in
            try db.execute("UPDATE scanner SET state = 'stopped', job_id = NULL, map_id = NULL, heartbeat_at = now() WHERE network = $1 AND name = $2",
                           [network, name])
        }
    }

    public func scanners(network: String? = nil) throws(StoreError) -> [ScannerRecord] {
        try use { db throws(StoreError) in
            let rows = try db.execute("""
                SELECT network, name, host, pid, version, extract(epoch FROM started_at) AS started,
                    extract(epoch FROM heartbeat_at) AS heartbeat, state, job_id, map_id
                FROM scanner WHERE $1::text IS NULL OR network = $1 ORDER BY network, name
                """, [network])
            return (0..<rows.count).map { row in
                ScannerRecord(network: rows[row, "network"] ?? "", name: rows[row, "name"] ?? "", host: rows[row, "host"] ?? "",
                              pid: Int32(rows[row, "pid"] ?? "") ?? 0, version: rows[row, "version"] ?? "",
                              startedAt: Self.date(rows[row, "started"]) ?? Date(), heartbeatAt: Self.date(rows[row, "heartbeat"]) ?? Date(),
                              state: rows[row, "state"] ?? "", job: rows[row, "job_id"].flatMap { Int64($0) },
                              map: rows[row, "map_id"].flatMap { Int64($0) })
            }
        }
    }

    /// The database's clock: leases and heartbeats are compared with it, never with ours.
    public func now() throws(StoreError) -> Date {
        try use { db throws(StoreError) in Self.date(try db.scalar("SELECT extract(epoch FROM now())")) ?? Date() }
    }

    // MARK: The queue

    /// Queues each job, in one transaction; returns their ids (a shared map's id is its own, its
    /// shards follow it).
    @discardableResult
    public func enqueue(_ jobs: [NewJob], createdBy: String, schedule: String? = nil) throws(StoreError) -> [Int64] {
        try use { db throws(StoreError) in try db.transaction { () throws(StoreError) in try insert(jobs, createdBy: createdBy, schedule: schedule, db) } }
    }

    private func insert(_ jobs: [NewJob], createdBy: String, schedule: String?, _ db: PGConnection) throws(StoreError) -> [Int64] {
        var ids: [Int64] = []
        func add(_ job: NewJob, status: JobStatus, scanner: String?, splitOf: Int64?, shard: Int?, shards: Int?) throws(StoreError) -> Int64 {
            let text = try db.scalar("""
                INSERT INTO job (network, scanner, strict, target, request, status, created_by, split_of, shard, shards, schedule)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
                """, [job.network, scanner, job.strict && shards == nil ? "t" : "f", job.target, PostgresMapStore.text(job.request),
                      status.rawValue, createdBy, splitOf.map(String.init), shard.map(String.init), shards.map(String.init), schedule])
            guard let text, let id = Int64(text) else { throw StoreError("store \(location): the new job got no id") }
            return id
        }
        for job in jobs {
            var names: [String] = []
            if job.allScanners {
                let live = try db.execute("""
                    SELECT name FROM scanner WHERE network = $1 AND state <> 'stopped'
                      AND heartbeat_at > now() - make_interval(secs => $2) ORDER BY name
                    """, [job.network, String(Self.staleAfter)])
                names = (0..<live.count).compactMap { live[$0, 0] }
            }
            if names.count > 1 {
                let parent = try add(job, status: .split, scanner: nil, splitOf: nil, shard: nil, shards: names.count)
                ids.append(parent)
                for (index, name) in names.enumerated() {
                    _ = try add(job, status: .queued, scanner: name, splitOf: parent, shard: index, shards: names.count)
                }
            } else {
                ids.append(try add(job, status: .queued, scanner: names.first ?? job.scanner, splitOf: nil, shard: nil, shards: nil))
            }
        }
        return ids
    }

    /// Takes the oldest job this scanner may run in its network, under a lease of `lease`
    /// seconds: a queued one, or a running one whose lease ran out (its scanner died; the map is
    /// taken up from its checkpoint). A job not meant for this scanner is taken only when it is
    /// not strict and its own scanner has not heartbeat within `staleAfter`. A job taken over
    /// `maxAttempts` times fails instead, so a map that kills its scanners cannot go round the
    /// fleet for ever.
    public func claim(network: String, scanner: String, lease: TimeInterval, staleAfter: TimeInterval,
                      maxAttempts: Int = 3) throws(StoreError) -> QueuedJob? {
        try use { db throws(StoreError) in
            try db.execute("""
                UPDATE job SET status = 'failed', finished_at = now(),
                    error = 'its scanner (' || coalesce(claimed_by, '?') || ') stopped heartbeating ' || attempts || ' times while running it'
                WHERE network = $1 AND status = 'running' AND lease_until < now() AND attempts >= $2
                """, [network, String(maxAttempts)])
            let rows = try db.execute("""
                UPDATE job SET status = 'running', claimed_by = $2, lease_until = now() + make_interval(secs => $3),
                    attempts = attempts + 1, started_at = coalesce(started_at, now())
                WHERE id = (
                    SELECT j.id FROM job j
                    WHERE j.network = $1 AND (j.status = 'queued' OR (j.status = 'running' AND j.lease_until < now()))
                      AND (j.scanner IS NULL OR j.scanner = $2 OR (NOT j.strict AND NOT EXISTS (
                          SELECT 1 FROM scanner s WHERE s.network = j.network AND s.name = j.scanner AND s.state <> 'stopped'
                            AND s.heartbeat_at > now() - make_interval(secs => $4))))
                    ORDER BY j.id FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING \(Self.jobColumns)
                """, [network, scanner, String(lease), String(staleAfter)])
            return rows.count > 0 ? Self.job(rows, 0) : nil
        }
    }

    /// Extends the lease; false when the job is no longer this scanner's (cancelled, or taken
    /// over after a lease ran out): the scanner must stop mapping it.
    public func renew(job: Int64, scanner: String, lease: TimeInterval) throws(StoreError) -> Bool {
        try use { db throws(StoreError) in
            try db.execute("""
                UPDATE job SET lease_until = now() + make_interval(secs => $3)
                WHERE id = $1 AND claimed_by = $2 AND status = 'running'
                """, [String(job), scanner, String(lease)]).changed == 1
        }
    }

    /// The map the job writes to, recorded as soon as it exists, so a scanner taking the job
    /// over continues that map.
    public func attach(job: Int64, map: Int64, scanner: String) throws(StoreError) {
        try use { db throws(StoreError) in
            try db.execute("UPDATE job SET map_id = $2 WHERE id = $1 AND claimed_by = $3", [String(job), String(map), scanner])
        }
    }

    /// What ending a shard came to: when it was the last shard of its map to end, the shards'
    /// maps to merge into one (the shared map's job is then `merging`, held by this scanner).
    public struct Ending: Sendable, Equatable {
        public var splitOf: Int64?
        public var shardMaps: [Int64]?
        public var shardsFailed = 0
    }

    /// The scanner ended the job: `done` or `failed` (with the error). Refused (false) when the
    /// job is no longer this scanner's.
    public func finish(job: Int64, scanner: String, status: JobStatus, error: String? = nil) throws(StoreError) -> Ending? {
        try use { db throws(StoreError) in
            try db.transaction { () throws(StoreError) -> Ending? in
                let rows = try db.execute("""
                    UPDATE job SET status = $3, error = $4, finished_at = now(), lease_until = NULL
                    WHERE id = $1 AND claimed_by = $2 AND status = 'running' RETURNING split_of
                    """, [String(job), scanner, status.rawValue, error])
                guard rows.count == 1 else { return nil }
                guard let parent = rows[0, "split_of"] else { return Ending() }
                // Two shards ending together: the parent's row lock lets one of them see all ended.
                guard try db.execute("SELECT id FROM job WHERE id = $1 AND status = 'split' FOR UPDATE", [parent]).count == 1 else {
                    return Ending(splitOf: Int64(parent))
                }
                let shards = try db.execute("SELECT status, map_id FROM job WHERE split_of = $1", [parent])
                let statuses = (0..<shards.count).map { JobStatus(rawValue: shards[$0, "status"] ?? "") ?? .failed }
                guard statuses.allSatisfy(\.isFinal) else { return Ending(splitOf: Int64(parent)) }
                try db.execute("UPDATE job SET status = 'merging', claimed_by = $2, started_at = coalesce(started_at, now()) WHERE id = $1",
                               [parent, scanner])
                let maps = (0..<shards.count).compactMap { shards[$0, "map_id"].flatMap { Int64($0) } }
                return Ending(splitOf: Int64(parent), shardMaps: maps.sorted(), shardsFailed: statuses.filter { $0 != .done }.count)
            }
        }
    }

    /// The shared map is merged into `map`: the job is done (or failed, when a shard failed).
    public func merged(job: Int64, map: Int64?, failed: Bool, error: String? = nil) throws(StoreError) {
        try use { db throws(StoreError) in
            try db.execute("UPDATE job SET status = $2, map_id = $3, error = $4, finished_at = now() WHERE id = $1",
                           [String(job), failed ? JobStatus.failed.rawValue : JobStatus.done.rawValue, map.map(String.init), error])
        }
    }

    /// Gives the job back to the queue (the scanner stops before it could end it): another
    /// scanner, or this one later, continues its map from the checkpoint.
    public func release(job: Int64, scanner: String) throws(StoreError) {
        try use { db throws(StoreError) in
            try db.execute("""
                UPDATE job SET status = 'queued', lease_until = NULL, attempts = greatest(attempts - 1, 0)
                WHERE id = $1 AND claimed_by = $2 AND status = 'running'
                """, [String(job), scanner])
        }
    }

    /// Cancels a queued or running job (a shared map with its shards). A running job's scanner
    /// finds out at its next lease renewal and stops its map, keeping what it found. False when
    /// there is no such job or it has ended.
    public func cancel(job: Int64) throws(StoreError) -> Bool {
        try use { db throws(StoreError) in
            try db.execute("""
                UPDATE job SET status = 'cancelled', finished_at = now(), lease_until = NULL
                WHERE (id = $1 OR split_of = $1) AND status IN ('queued', 'running', 'split')
                """, [String(job)]).changed > 0
        }
    }

    /// Queued and running jobs (with `all`, ended ones too), oldest first, optionally in one network.
    public func jobs(network: String? = nil, all: Bool = false) throws(StoreError) -> [QueuedJob] {
        try use { db throws(StoreError) in
            let rows = try db.execute("""
                SELECT \(Self.jobColumns) FROM job
                WHERE ($1::text IS NULL OR network = $1) AND ($2::boolean OR status IN ('queued', 'running', 'split', 'merging'))
                ORDER BY id
                """, [network, all ? "t" : "f"])
            return (0..<rows.count).map { Self.job(rows, $0) }
        }
    }

    public func job(id: Int64) throws(StoreError) -> QueuedJob? {
        try use { db throws(StoreError) in
            let rows = try db.execute("SELECT \(Self.jobColumns) FROM job WHERE id = $1", [String(id)])
            return rows.count > 0 ? Self.job(rows, 0) : nil
        }
    }

    // MARK: Schedules

    /// Adds a schedule; its first firing is at `first`.
    public func addSchedule(name: String, everySeconds: Int64, first: Date, network: String, scanner: String?,
                            jobs: [NewJob], createdBy: String) throws(StoreError) {
        let encoded = String(decoding: (try? JSONEncoder().encode(jobs)) ?? Data("[]".utf8), as: UTF8.self)
        try use { db throws(StoreError) in
            do throws(StoreError) {
                try db.execute("""
                    INSERT INTO schedule (name, every_seconds, next_at, network, scanner, jobs, created_by)
                    VALUES ($1, $2, to_timestamp($3), $4, $5, $6, $7)
                    """, [name, String(everySeconds), String(first.timeIntervalSince1970), network, scanner,
                          PostgresMapStore.text(encoded), createdBy])
            } catch let error where error.sqlState == "23505" {
                throw StoreError("schedule \"\(name)\" exists already (cartograph schedule remove \(name) first)")
            }
        }
    }

    public func removeSchedule(name: String) throws(StoreError) -> Bool {
        try use { db throws(StoreError) in try db.execute("DELETE FROM schedule WHERE name = $1", [name]).changed > 0 }
    }

    public func schedules() throws(StoreError) -> [ScheduleRecord] {
        try use { db throws(StoreError) in
            let rows = try db.execute("""
                SELECT id, name, every_seconds, extract(epoch FROM next_at) AS next, network, scanner, jobs, created_by,
                    extract(epoch FROM last_fired_at) AS last, fired
                FROM schedule ORDER BY name
                """)
            return (0..<rows.count).map { row in
                let jobs = (try? JSONDecoder().decode([NewJob].self, from: Data(PostgresMapStore.string(rows[row, "jobs"]).utf8))) ?? []
                return ScheduleRecord(id: Int64(rows[row, "id"] ?? "") ?? 0, name: rows[row, "name"] ?? "",
                                      everySeconds: Int64(rows[row, "every_seconds"] ?? "") ?? 0,
                                      nextAt: Self.date(rows[row, "next"]) ?? Date(), network: rows[row, "network"] ?? "",
                                      scanner: rows[row, "scanner"], jobs: jobs, createdBy: rows[row, "created_by"] ?? "",
                                      lastFiredAt: Self.date(rows[row, "last"]), fired: Int(rows[row, "fired"] ?? "") ?? 0)
            }
        }
    }

    /// Queues the maps of every schedule that is due, each once: a schedule's row is locked while
    /// it fires (another agent skips it) and its next time moves past now. Firings missed while no
    /// agent ran are not made up: one firing, then the next in the future. Returns the jobs queued.
    @discardableResult
    public func fireDueSchedules() throws(StoreError) -> [Int64] {
        try use { db throws(StoreError) in
            try db.transaction { () throws(StoreError) -> [Int64] in
                let due = try db.execute("""
                    SELECT id, name, every_seconds, jobs, created_by FROM schedule WHERE next_at <= now()
                    ORDER BY next_at FOR UPDATE SKIP LOCKED
                    """)
                var ids: [Int64] = []
                for row in 0..<due.count {
                    guard let id = due[row, "id"], let name = due[row, "name"] else { continue }
                    let jobs = (try? JSONDecoder().decode([NewJob].self, from: Data(PostgresMapStore.string(due[row, "jobs"]).utf8))) ?? []
                    ids += try insert(jobs, createdBy: "schedule \(name) (\(due[row, "created_by"] ?? "?"))", schedule: name, db)
                    try db.execute("""
                        UPDATE schedule SET last_fired_at = now(), fired = fired + 1,
                            next_at = next_at + make_interval(secs => every_seconds * (floor(extract(epoch FROM now() - next_at) / every_seconds) + 1))
                        WHERE id = $1
                        """, [id])
                }
                return ids
            }
        }
    }

    // MARK: Rows

    static let jobColumns = """
        id, network, scanner, strict, target, request, status, extract(epoch FROM created_at) AS created, created_by,
        claimed_by, extract(epoch FROM lease_until) AS lease, attempts, map_id, split_of, shard, shards, schedule, error,
        extract(epoch FROM started_at) AS started, extract(epoch FROM finished_at) AS finished
        """

    static func job(_ rows: PGResult, _ row: Int) -> QueuedJob {
        QueuedJob(id: Int64(rows[row, "id"] ?? "") ?? 0, network: rows[row, "network"] ?? "", scanner: rows[row, "scanner"],
                  strict: rows[row, "strict"] == "t", target: rows[row, "target"] ?? "",
                  request: PostgresMapStore.string(rows[row, "request"]),
                  status: JobStatus(rawValue: rows[row, "status"] ?? "") ?? .failed, createdAt: date(rows[row, "created"]) ?? Date(),
                  createdBy: rows[row, "created_by"] ?? "", claimedBy: rows[row, "claimed_by"], leaseUntil: date(rows[row, "lease"]),
                  attempts: Int(rows[row, "attempts"] ?? "") ?? 0, mapId: rows[row, "map_id"].flatMap { Int64($0) },
                  splitOf: rows[row, "split_of"].flatMap { Int64($0) }, shard: rows[row, "shard"].flatMap { Int($0) },
                  shards: rows[row, "shards"].flatMap { Int($0) }, schedule: rows[row, "schedule"], error: rows[row, "error"],
                  startedAt: date(rows[row, "started"]), finishedAt: date(rows[row, "finished"]))
    }

    static func date(_ text: String?) -> Date? { text.flatMap { Double($0) }.map { Date(timeIntervalSince1970: $0) } }
}
