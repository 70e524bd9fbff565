import CartographCore
import CartographTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A tool or package the tests need and did not find: the test fails saying what to install.
struct MissingTool: Error, CustomStringConvertible {
    let description: String
}

/// Checks for what the tests run, naming the Debian package that provides each.
enum Tools {
    static let python = "/usr/bin/python3"
    static let openssl = "/usr/bin/openssl"

    static func requirePython() throws {
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw MissingTool(description: "\(python) is missing: apt-get install python3")
        }
    }

    static func requireAiosmtpd() throws {
        try requirePython()
        let check = try run(python, ["-c", "import aiosmtpd"])
        guard check == 0 else {
            throw MissingTool(description: "the Python module aiosmtpd is missing: apt-get install python3-aiosmtpd (Scripts/deps.d/notify.txt)")
        }
    }

    static func requireOpenSSL() throws {
        guard FileManager.default.isExecutableFile(atPath: openssl) else {
            throw MissingTool(description: "\(openssl) is missing: apt-get install openssl")
        }
    }

    @discardableResult
    static func run(_ path: String, _ arguments: [String]) throws -> Int32 {
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

/// A self-signed certificate for 127.0.0.1 and localhost, made once per test run by openssl(1).
struct TestCertificate: Sendable {
    let certificate: String
    let key: String

    static func make() throws -> TestCertificate {
        try shared.get()
    }

    private static let shared: Result<TestCertificate, MissingTool> = {
        do {
            try Tools.requireOpenSSL()
            let dir = Cartograph.scratch.appendingPathComponent("tls")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let cert = dir.appendingPathComponent("cert.pem").path, key = dir.appendingPathComponent("key.pem").path
            let status = try Tools.run(Tools.openssl, [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ])
            guard status == 0 else { return .failure(MissingTool(description: "openssl req failed (status \(status))")) }
            return .success(TestCertificate(certificate: cert, key: key))
        } catch let error as MissingTool {
            return .failure(error)
        } catch {
            return .failure(MissingTool(description: "cannot run openssl: \(error)"))
        }
    }()
}

/// One of the Python servers in `Servers/`, started on a free loopback port; each request it
/// handles is saved as a JSON file in `spool`. Stopped when released.
final class PythonServer {
    let port: UInt16
    let spool: URL
    private let process: Process
    private let errors: URL

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Servers")

    init(_ script: String, _ arguments: [String] = []) throws {
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
        let fd = out.fileHandleForReading.fileDescriptor
        var line = [UInt8]()
        let deadline = Date().addingTimeInterval(20)
        while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 200) > 0 else { continue }
            var byte: UInt8 = 0
            guard read(fd, &byte, 1) == 1 else { break }
            line.append(byte)
        }
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
    func records<T: Decodable>(as type: T.Type) throws -> [T] {
        let files = try FileManager.default.contentsOfDirectory(atPath: spool.path).filter { $0.hasSuffix(".json") }.sorted()
        return try files.map { try JSONDecoder().decode(T.self, from: Data(contentsOf: spool.appendingPathComponent($0))) }
    }
}

/// What smtp_server.py saved of one message.
struct ReceivedMail: Decodable {
    let mail_from: String
    let rcpt_tos: [String]
    let tls: Bool
    let authenticated: Bool
    let raw: String
    let headers: [[String]]
    let subject: String
    let body: String

    func header(_ name: String) -> [String] {
        headers.filter { $0.first?.lowercased() == name.lowercased() }.compactMap { $0.last }
    }
}

/// What webhook_server.py saved of one request.
struct ReceivedRequest: Decodable {
    let method: String
    let path: String
    let headers: [[String]]
    let body: String
    let expected_signature: String?

    func header(_ name: String) -> String? {
        headers.first { $0.first?.lowercased() == name.lowercased() }?.last
    }
}

/// Collects a notifier's log lines.
final class LogLines: @unchecked Sendable {
    // Tests call the notifier on one thread; the lock only makes that assumption harmless.
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.withLock { stored.append(line) } }
    var lines: [String] { lock.withLock { stored } }
}

/// A port on 127.0.0.1 with nothing listening: bound, then closed.
func closedPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return UInt16(bigEndian: address.sin_port)
}

/// A finished map's summary, as the engine would hand it over.
func sampleCompletion(status: MapResult.Status = .complete, title: String = "example.com weekly",
                      error: String? = nil) -> MapCompletion {
    var map = MapResult(target: "example.com", profile: "default", status: status,
                        startedAt: Date(timeIntervalSince1970: 1_751_371_200), finishedAt: Date(timeIntervalSince1970: 1_751_371_392),
                        addressesScanned: "256", excludedAddresses: "0", hosts: [], warnings: [])
    map.id = 12
    map.title = title
    map.network = "branch"
    map.scanner = "scanner-1"
    map.launchedBy = "alice"
    var completion = MapCompletion(map: map)
    completion.hostsFound = 14
    completion.openPorts = 52
    completion.servicesIdentified = 40
    completion.trend = MapCompletion.Trend(previousMapId: 7, hostsDelta: 2, openPortsDelta: -1, newHosts: 2, vanishedHosts: 0,
                                           openedPorts: 1, closedPorts: 2, changedServices: 0)
    completion.report = "cartograph maps show 12"
    completion.error = error
    return completion
}
