import CartographCore
import Foundation

/// A problem with the store, said in one line naming it (its path, or its URL without password).
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// PostgreSQL's SQLSTATE, when the server refused a statement.
    var sqlState: String?
    init(_ description: String, sqlState: String? = nil) {
        self.description = description
        self.sqlState = sqlState
    }
}

/// One line of `maps list`: a map without its hosts.
public struct MapSummary: Codable, Sendable, Equatable {
    public var id: Int64
    public var title: String
    public var target: String
    public var network: String
    public var profile: String
    public var scanner: String
    public var launchedBy: String
    public var launchedAt: Date
    public var startedAt: Date
    public var finishedAt: Date?
    public var status: MapResult.Status
    public var hosts: Int
    public var openPorts: Int
}

/// The latest known state of one (network, address): `cartograph hosts`.
public struct HostState: Codable, Sendable, Equatable {
    public var network: String
    public var mapId: Int64
    public var seenAt: Date
    public var host: HostResult
}

/// Where every map is kept, with two backends behind one interface: a SQLite file (the embedded
/// default, `SQLiteMapStore`) and a PostgreSQL database for teams (`PostgresMapStore`). Both
/// keep the same logical schema through the same migrations, and behave alike for every command.
///
/// A map is a row in `map` with its hosts in `host` and their open ports in `service`. The row is
/// made when the map starts (status `running`) and rewritten in one transaction at each
/// checkpoint, so a map cut short keeps what it had found; a `running` map whose process is gone
/// is marked `interrupted` the next time a store is opened. Addresses are kept per network: hosts
/// are never merged across networks.
public protocol MapStore: AnyObject {
    /// What messages name: the file's path, or the URL without its password.
    var location: String { get }
    /// Opened read-only (it cannot be written): nothing is migrated or marked.
    var isReadOnly: Bool { get }
    /// What a read-only store would have done and could not, for the command to say.
    var notes: [String] { get }

    /// Records a map that is starting and returns its id. `map` carries the metadata (title,
    /// target, network, scanner, launch and start times); its hosts are written by `save`.
    func begin(_ map: MapResult, settings: Profile, network: Inventory.Network?, pid: Int32) throws(StoreError) -> Int64
    /// Writes the map as it stands, in one transaction: its row, and all of its hosts and
    /// services (replacing the previous checkpoint's). Hosts never seen before in the map's
    /// network are flagged new. Returns the map with `id` and the `new` flags set.
    @discardableResult
    func save(_ map: MapResult, id: Int64) throws(StoreError) -> MapResult
    /// Takes up a map that stopped before it ended - interrupted, failed, or left running by a
    /// process that is gone (an agent's expired lease) - to continue it: the map runs again,
    /// owned by `pid`, and its last checkpoint is returned. Refused for a complete map and for
    /// one whose process still runs.
    func reopen(id: Int64, pid: Int32) throws(StoreError) -> MapResult
    /// Deletes a map with its hosts and services; false when there is no such map.
    func delete(id: Int64) throws(StoreError) -> Bool

    /// Every map, newest first, optionally in one network.
    func list(network: String?) throws(StoreError) -> [MapSummary]
    /// The newest map's id, if any.
    func latestID() throws(StoreError) -> Int64?
    /// The two newest complete maps of the newest complete map's target and network, oldest
    /// first: running, interrupted and failed maps saw only part of the network. With
    /// `includeRunning`, maps still running count too.
    func latestPair(includeRunning: Bool) throws(StoreError) -> (Int64, Int64)?
    /// A map's status as stored, nil when there is no such map.
    func status(id: Int64) throws(StoreError) -> MapResult.Status?
    /// The newest map of every (target, network), in one network or all, oldest target first.
    func latestPerTarget(network: String?) throws(StoreError) -> [Int64]
    /// The newest complete map before `id` of the same target and network, if any: the baseline
    /// a trend is measured against (an interrupted or failed map saw only part of the network).
    func previous(of id: Int64) throws(StoreError) -> Int64?
    /// The profile settings a map ran with, as stored (JSON).
    func settings(id: Int64) throws(StoreError) -> Profile?
    /// One whole map, as `map` reported it (with its id, and `new` flags as stored).
    func map(id: Int64) throws(StoreError) -> MapResult?
    /// The latest known state of every (network, address): the host as the newest map that
    /// found it saw it. `network` nil means all networks.
    func hosts(network: String?) throws(StoreError) -> [HostState]
    /// The networks maps have run in, with the scanner the inventory named for each.
    func networks() throws(StoreError) -> [Inventory.Network]
}

extension MapStore {
    public func begin(_ map: MapResult, settings: Profile, network: Inventory.Network? = nil) throws(StoreError) -> Int64 {
        try begin(map, settings: settings, network: network, pid: getpid())
    }

    public func list() throws(StoreError) -> [MapSummary] { try list(network: nil) }

    public func latestPair() throws(StoreError) -> (Int64, Int64)? { try latestPair(includeRunning: false) }
}

/// Opening a store by where it is: a `postgres://` or `postgresql://` URL, else a file path.
public enum MapStores {
    /// Whether `location` names a PostgreSQL database rather than a SQLite file.
    public static func isPostgres(_ location: String) -> Bool {
        let lower = location.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// `$CARTOGRAPH_DB` when set, else the SQLite file at its default path.
    public static func defaultLocation(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let db = environment["CARTOGRAPH_DB"], !db.isEmpty { return db }
        return SQLiteMapStore.defaultPath(environment: environment)
    }

    /// Opens (creating or migrating as needed) the store at `location`. `readOnly`: the caller
    /// only reads (see `SQLiteMapStore.init` and `PostgresMapStore.init`).
    public static func open(_ location: String, readOnly: Bool = false) throws(StoreError) -> any MapStore {
        if isPostgres(location) { return try PostgresMapStore(url: location, readOnly: readOnly) }
        return try SQLiteMapStore(path: location, readOnly: readOnly)
    }

    /// `location` as it may be printed: a URL loses its password, a path stays as it is.
    public static func printable(_ location: String) -> String {
        isPostgres(location) ? PGConnection.redact(location) : location
    }

    /// The identifiers of the schema's migrations, oldest first: both backends apply these, each
    /// in its own SQL. Never edit a shipped migration, add the next one (to both).
    static let migrations = ["v1: maps, hosts, services, networks", "v2: device types, OS families, paths",
                             "v3: where a running map stands"]
}
