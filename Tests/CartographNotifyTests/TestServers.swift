import CartographCore
import CartographTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
