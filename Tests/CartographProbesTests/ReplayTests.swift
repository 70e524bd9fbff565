import CartographCore
@testable import CartographProbes
import CartographTestSupport
import Foundation
import Testing

/// Each shipped probe whose service Debian does not package is tested against a server that
/// replays the protocol's real bytes, described by a file in `Tests/Replays/`:
///
/// ```json
/// { "probe": "mongodb", "protocol": "tcp", "about": "where the bytes come from",
///   "steps": [ {"expect": "isMaster|hello"}, {"send_hex": "..."} ],
///   "result": {"name": "mongodb", "product": "MongoDB", "version": "6.0.4"} }
/// ```
///
/// A step is `send` (text) or `send_hex` (bytes) to write, or `expect` (a regular expression
/// over the bytes received so far, read as Latin-1) to wait for. For UDP, each `expect`
/// consumes one datagram and each `send` answers it. `result` fields must match the probe's
/// result: `name`, `product`, `version` exactly, any other field (`extra`, `cpe`, `device_type`,
/// `os`, `hostnames`) by containment.
@Suite("Probes against replayed protocol bytes")
struct ReplayTests {
    struct Replay: Decodable, CustomTestStringConvertible, Sendable {
        struct Step: Decodable, Sendable {
            var send: String?
            var send_hex: String?
            var expect: String?

            var bytes: [UInt8]? {
                if let send { return Array(send.utf8) }
                guard let hex = send_hex?.filter({ !$0.isWhitespace }) else { return nil }
                var out: [UInt8] = []
                var index = hex.startIndex
                while index < hex.endIndex, let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
                    if let byte = UInt8(hex[index..<next], radix: 16) { out.append(byte) }
                    index = next
                }
                return out
            }
        }

        var file = ""
        var probe: String
        var `protocol`: String?
        var about: String
        var steps: [Step]
        var result: [String: String]

        enum CodingKeys: String, CodingKey { case probe, `protocol`, about, steps, result }
        var testDescription: String { file }
    }

    static let root = Cartograph.packageRoot
    static let replays: [Replay] = {
        let dir = root.appendingPathComponent("Tests/Replays")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.compactMap { name in
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent(name).path),
                  var replay = try? JSONDecoder().decode(Replay.self, from: data) else {
                return Replay(file: name, probe: "(unreadable \(name))", protocol: nil, about: "", steps: [], result: [:])
            }
            replay.file = name
            return replay
        }
    }()

    static func latin1(_ bytes: [UInt8]) -> String { String(bytes.map { Character(UnicodeScalar($0)) }) }

    static func matches(_ pattern: String, _ bytes: [UInt8]) -> Bool {
        let text = latin1(bytes)
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]) else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    @Test("every replay file is readable and names a shipped probe")
    func files() throws {
        let library = try ProbeLibrary.load(directories: [Self.root.appendingPathComponent("Probes").path])
        for replay in Self.replays {
            #expect(!replay.steps.isEmpty, "\(replay.file) has no steps (or does not parse)")
            #expect(library.definition(named: replay.probe) != nil, "\(replay.file): no probe named \(replay.probe)")
        }
    }

    @Test("the probe names the replayed service", arguments: replays)
    func replay(_ replay: Replay) throws {
        let library = try ProbeLibrary.load(directories: [Self.root.appendingPathComponent("Probes").path])
        let probe = try #require(library.definition(named: replay.probe), "no probe \(replay.probe)")
        let udp = replay.protocol == "udp"
        let steps = replay.steps
        let port: UInt16
        var keep: AnyObject
        if udp {
            let server = try UDPLoopbackServer { datagram in
                // Answer the datagram that satisfies the first `expect` with the `send` after it.
                for (index, step) in steps.enumerated() {
                    if let pattern = step.expect, Self.matches(pattern, datagram) {
                        return steps.dropFirst(index + 1).first?.bytes
                    }
                }
                return nil
            }
            port = server.port
            keep = server
        } else {
            let server = try LoopbackServer { connection in
                var received: [UInt8] = []
                for step in steps {
                    if let bytes = step.bytes {
                        connection.write(bytes)
                    } else if let pattern = step.expect {
                        while !Self.matches(pattern, received) {
                            let chunk = connection.read()
                            if chunk.isEmpty { return }
                            received += chunk
                        }
                        received = []
                    }
                }
                connection.idle()
            }
            port = server.port
            keep = server
        }
        defer { _ = keep }
        var settings = ProbeSettings()
        settings.bannerWaitMs = 500
        settings.socketTimeoutMs = 1500
        settings.probeTimeoutMs = 6000
        settings.intensity = 9
        settings.trace = true
        let identifier = ServiceIdentifier(library: library, probes: [probe], settings: settings, workers: 1)
        let job = PortJob(address: IPAddress("127.0.0.1")!, port: port, proto: udp ? .udp : .tcp)
        let result = try #require(try identifier.identify([job], cancel: CancellationFlag()).first)
        let trace = (result.trace + result.errors).joined(separator: "\n")
        let match = try #require(result.match, "\(replay.file): no match; trace:\n\(trace)")
        #expect(result.method == replay.probe)
        let exact: [String: String?] = ["name": match.name, "product": match.product, "version": match.version]
        let contained: [String: String] = [
            "extra": match.extraInfo ?? "", "cpe": match.cpe.joined(separator: " "),
            "device_type": match.deviceType ?? "", "os": match.osHints.joined(separator: " "),
            "hostnames": match.hostnames.joined(separator: " "),
        ]
        for (key, expected) in replay.result {
            if let actual = exact[key] {
                #expect(actual == expected, "\(replay.file): \(key) is \(actual ?? "nil"), expected \(expected)")
            } else if let actual = contained[key] {
                #expect(actual.contains(expected), "\(replay.file): \(key) is \"\(actual)\", expected to contain \(expected)")
            } else {
                Issue.record("\(replay.file): unknown result key \(key)")
            }
        }
    }

    /// What nginx, Apache and Go's net/http (Caddy, Traefik) answer a request in the clear on a
    /// TLS port: the http probe leaves it to its run over TLS.
    static let tlsErrorPages: [String] = [
        "HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><head><title>400 The plain HTTP request was sent to HTTPS port</title></head></html>\r\n",
        "HTTP/1.1 400 Bad Request\r\nServer: Apache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<p>Your browser sent a request that this server could not understand.<br />Reason: You're speaking plain HTTP to an SSL-enabled server port.<br /></p>\n",
        "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n",
    ]

    @Test("a TLS server's error page in the clear does not name the port http", arguments: tlsErrorPages)
    func clearOnTLS(_ page: String) throws {
        let library = try ProbeLibrary.load(directories: [Self.root.appendingPathComponent("Probes").path])
        let probe = try #require(library.definition(named: "http"))
        let server = try LoopbackServer { connection in
            var received: [UInt8] = []
            while !Self.matches("\r\n\r\n", received) {
                let chunk = connection.read()
                if chunk.isEmpty { return }
                received += chunk
            }
            connection.write(Array(page.utf8))
        }
        defer { server.stop() }
        var settings = ProbeSettings()
        settings.bannerWaitMs = 300
        settings.intensity = 9
        settings.trace = true
        let identifier = ServiceIdentifier(library: library, probes: [probe], settings: settings, workers: 1)
        let job = PortJob(address: IPAddress("127.0.0.1")!, port: server.port, proto: .tcp)
        let result = try #require(try identifier.identify([job], cancel: CancellationFlag()).first)
        #expect(result.match == nil, "\(result.match.map { "\($0)" } ?? ""): \(result.trace.joined(separator: "\n"))")
        #expect(result.trace.contains { $0.contains("recv") && $0.contains("400") }, "the page was never read: \(result.trace)")
    }
}
