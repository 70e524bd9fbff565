import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tool or package the tests need and did not find: the test fails saying what to install.
public struct MissingTool: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Checks for what the tests run, naming the Debian package that provides each.
public enum Tools {
    public static let python = "/usr/bin/python3"
    public static let openssl = "/usr/bin/openssl"

    public static func requirePython() throws {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw MissingTool(description: "\(python) is missing: apt-get install python3")
        }
    }

    public static func requireAiosmtpd() throws {
        try requirePython()
        let check = try run(python, ["-c", "import aiosmtpd"])
        guard check == 0 else {
            throw MissingTool(description: "the Python module aiosmtpd is missing: apt-get install python3-aiosmtpd (Scripts/deps.d/notify.txt)")
        }
    }

    public static func requireOpenSSL() throws {
        guard FileManager.default.isExecutableFile(atPath: openssl) else {
            throw MissingTool(description: "\(openssl) is missing: apt-get install openssl")
        }
    }

    @discardableResult
    public static func run(_ path: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// One of the Python servers in `Servers/`, started on a free loopback port; each request it
/// handles is saved as a JSON file in `spool`. Stopped when released.
public final class PythonServer {
    public let port: UInt16
    public let spool: URL
    private let process: Process
    private let errors: URL

    /// The servers live beside the notification tests, which use them most.
    public static let scripts = Cartograph.packageRoot.appendingPathComponent("Tests/CartographNotifyTests/Servers")

    public init(_ script: String, _ arguments: [String] = []) throws {
        try Tools.requirePython()
        let name = "\(script.replacingOccurrences(of: ".py", with: ""))-\(UUID().uuidString.prefix(8))"
        spool = Cartograph.scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: spool, withIntermediateDirectories: true)
        errors = spool.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process = Process()
        process.executableURL = URL(fileURLWithPath: Tools.python)
        process.arguments = [Self.scripts.appendingPathComponent(script).path, "--spool", spool.path] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()

        // The first line is the port; a server that dies or hangs instead fails the test in 20 s.
        let line = firstLine(of: out.fileHandleForReading.fileDescriptor, within: 20)
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let port = UInt16(text) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw MissingTool(description: "\(script) did not start (stdout \"\(text)\"): \(stderr)")
        }
        self.port = port
    }

    deinit {
        // SIGKILL, not terminate(): a child spawned from a test's worker thread inherits that
        // thread's blocked-signal mask, SIGTERM included, and would outlive the test.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// The saved requests, oldest first.
    public func records<T: Decodable>(as type: T.Type) throws -> [T] {
        let files = try FileManager.default.contentsOfDirectory(atPath: spool.path).filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { try JSONDecoder().decode(T.self, from: Data(contentsOf: spool.appendingPathComponent($0))) }
    }
}

/// What smtp_server.py saved of one message.
public struct ReceivedMail: Decodable {
    public let mail_from: String
    public let rcpt_tos: [String]
    public let tls: Bool
    public let authenticated: Bool
    public let raw: String
    public let headers: [[String]]
    public let subject: String
    public let body: String

    public func header(_ name: String) -> [String] {
        headers.filter { $0.first?.lowercased() == name.lowercased() }.compactMap { $0.last }
    }
}

/// What webhook_server.py saved of one request.
public struct ReceivedRequest: Decodable {
    public let method: String
    public let path: String
    public let headers: [[String]]
    public let body: String
    public let expected_signature: String?

    public func header(_ name: String) -> String? {
        headers.first { $0.first?.lowercased() == name.lowercased() }?.last
    }
}

