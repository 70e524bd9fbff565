import CLibPQ
import Foundation

/// One PostgreSQL connection through libpq: synchronous, like the store's API, and not shared
/// between threads without the caller's lock. Parameters go as text, results come back as text
/// (`nil` for NULL).
final class PGConnection {
    private var conn: OpaquePointer?
    /// The URL as given, with any password removed: what messages name.
    let location: String

    /// Connects to `url` (libpq's URL forms: `postgresql://user@host:port/db?sslmode=require`,
    /// `postgresql:///db?host=/socket/dir`). libpq itself reads `PGPASSWORD`, `~/.pgpass`
    /// (`PGPASSFILE`) and the other `PG*` variables; the session is UTF-8.
    init(url: String) throws(StoreError) {
        location = PGConnection.redact(url)
        // Later keywords override earlier ones: the URL may set its own connect_timeout (an
        // unreachable server otherwise waits for TCP's own timeout), never the encoding.
        var keywords = ["fallback_application_name"], values = ["cartograph"]
        if ProcessInfo.processInfo.environment["PGCONNECT_TIMEOUT"] == nil {
            keywords.append("connect_timeout")
            values.append("10")
        }
        keywords += ["dbname", "client_encoding"]
        values += [url, "UTF8"]
        conn = PGConnection.connect(keywords: keywords, values: values)
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { PGConnection.oneLine(String(cString: PQerrorMessage($0))) } ?? "out of memory"
            if let conn { PQfinish(conn) }
            self.conn = nil
            throw StoreError("store \(location): cannot connect: \(message)")
        }
        PQsetNoticeProcessor(conn, { _, _ in }, nil)   // the server's NOTICEs are not ours to print
    }

    deinit { close() }

    func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    static func connect(keywords: [String], values: [String]) -> OpaquePointer? {
        let k = keywords.map { strdup($0) }, v = values.map { strdup($0) }
        defer { (k + v).forEach { free($0) } }
        let kp = k.map { UnsafePointer($0) } + [nil], vp = v.map { UnsafePointer($0) } + [nil]
        return kp.withUnsafeBufferPointer { keys in
            vp.withUnsafeBufferPointer { vals in PQconnectdbParams(keys.baseAddress, vals.baseAddress, 1) }
        }
    }

    /// Whether the connection is lost (the server restarted, the network dropped).
    var isBroken: Bool { conn.map { PQstatus($0) != CONNECTION_OK } ?? true }

    /// Reconnects with the same parameters; true when it worked.
    func reset() -> Bool {
        guard let conn else { return false }   // closed on purpose: stays closed
        PQreset(conn)
        return PQstatus(conn) == CONNECTION_OK
    }

    /// A statement's rows (none for commands).
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> PGResult {
        guard let conn else { throw StoreError("store \(location): the connection is closed") }
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { UnsafePointer($0) }
        let result = pointers.withUnsafeBufferPointer { buffer in
            PQexecParams(conn, sql, Int32(parameters.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        guard let result else {
            throw StoreError("store \(location): \(PGConnection.oneLine(String(cString: PQerrorMessage(conn))))")
        }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            let message = PGConnection.oneLine(String(cString: PQresultErrorMessage(result)))
            PQclear(result)
            throw StoreError("store \(location): \(message)", sqlState: state)
        }
        return PGResult(result)
    }

    /// The first column of the first row, if any.
    func scalar(_ sql: String, _ parameters: [String?] = []) throws(StoreError) -> String? {
        let result = try execute(sql, parameters)
        return result.count > 0 ? result[0, 0] : nil
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            _ = try? execute("ROLLBACK")
            throw error
        }
    }

    /// libpq's messages span lines ("connection to server ... failed: FATAL: ..."): one line.
    static func oneLine(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }

    /// The URL with its password removed, wherever libpq would take one from: the user part
    /// (`user:secret@`) and a `password=` parameter.
    static func redact(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        var rest = String(url[scheme.upperBound...])
        var query = ""
        if let mark = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: mark)...])
            rest = String(rest[..<mark])
        }
        if let at = rest.lastIndex(of: "@") {
            let user = rest[..<at]
            let name = user.firstIndex(of: ":").map { user[..<$0] } ?? user
            rest = String(name + rest[at...])
        }
        let kept = query.split(separator: "&", omittingEmptySubsequences: false)
            .filter { !$0.lowercased().hasPrefix("password=") }
        let tail = query.isEmpty ? "" : (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        return String(url[..<scheme.upperBound]) + rest + tail
    }
}

/// A statement's result, freed with it.
final class PGResult {
    private let result: OpaquePointer
    let count: Int
    private let columns: [String: Int32]

    init(_ result: OpaquePointer) {
        self.result = result
        count = Int(PQntuples(result))
        var columns: [String: Int32] = [:]
        for index in 0..<PQnfields(result) { columns[String(cString: PQfname(result, index))] = index }
        self.columns = columns
    }

    deinit { PQclear(result) }

    subscript(row: Int, column: Int) -> String? {
        PQgetisnull(result, Int32(row), Int32(column)) != 0 ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
    }

    /// Column `name` of `row`; NULL and a missing column are nil.
    subscript(row: Int, name: String) -> String? {
        guard let column = columns[name] else { return nil }
        return self[row, Int(column)]
    }

    /// The number of rows a command changed.
    var changed: Int { Int(String(cString: PQcmdTuples(result))) ?? 0 }
}
