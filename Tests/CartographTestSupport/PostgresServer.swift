import Foundation

/// The throwaway PostgreSQL server of `Scripts/pg.sh` (started by Scripts/test.sh), as the tests
/// reach it: found through `.build/pg/env`. Tests that need it fail, never skip, when it is not
/// running, saying how to start it.
public struct PostgresServer: Sendable {
    public let bin: String
    public let socket: String
    public let port: Int
    /// The role with a password, for TCP (password and TLS) connections.
    public let role: String
    public let rolePassword: String

    public struct NotRunning: Error, CustomStringConvertible {
        public let description: String
    }

    /// The running server, or an error saying how to start it.
    public static func require() throws -> PostgresServer {
        let file = Cartograph.packageRoot.appendingPathComponent(".build/pg/env")
        let hint = "start it with `bash Scripts/pg.sh start` (Scripts/test.sh does), then run the tests again"
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            throw NotRunning(description: "the PostgreSQL test server is not running (no \(file.path)): \(hint)")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        guard let bin = values["PG_BIN"], let socket = values["PG_SOCKET"], let port = values["PG_PORT"].flatMap(Int.init) else {
            throw NotRunning(description: "\(file.path) is incomplete: \(hint)")
        }
        let server = PostgresServer(bin: bin, socket: socket, port: port, role: values["PG_ROLE"] ?? "cartograph",
                                    rolePassword: values["PG_ROLE_PASSWORD"] ?? "")
        guard FileManager.default.fileExists(atPath: "\(socket)/.s.PGSQL.\(port)"),
              (try? server.psql("SELECT 1", database: "postgres")) == "1" else {
            throw NotRunning(description: "the PostgreSQL test server of \(file.path) does not answer on \(socket): \(hint)")
        }
        return server
    }

    /// The URL of `database` over the Unix socket, as the superuser (trusted locally).
    public func socketURL(_ database: String) -> String {
        "postgresql:///\(database)?host=\(socket)&port=\(port)&user=postgres"
    }

    /// The URL of `database` over TCP on 127.0.0.1 as the password role, without its password.
    public func tcpURL(_ database: String, sslmode: String = "disable") -> String {
        "postgresql://\(role)@127.0.0.1:\(port)/\(database)?sslmode=\(sslmode)"
    }

    /// Makes a new, empty database (owned by the password role too) and returns its name.
    public func createDatabase(_ prefix: String = "test") throws -> String {
        let name = "\(prefix.lowercased().filter { $0.isLetter || $0.isNumber })_\(getpid())_\(UUID().uuidString.prefix(8).lowercased())"
        _ = try psql("CREATE DATABASE \(name) OWNER \(role)", database: "postgres")
        return name
    }

    /// Runs one statement with psql over the socket as the superuser; what it printed, trimmed.
    @discardableResult
    public func psql(_ sql: String, database: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: bin + "/psql")
        process.arguments = ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", socket, "-p", String(port),
                             "-U", "postgres", "-d", database, "-c", sql]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problem = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NotRunning(description: "psql \(sql): \(problem.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
