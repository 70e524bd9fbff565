import CartographTestSupport
import Foundation
import Testing

/// Maps of loopback services the test starts itself: the whole pipeline without the lab.
@Suite("Mapping loopback")
struct LoopbackMapTests {
    static func httpServer() throws -> LoopbackServer {
        try LoopbackServer { connection in
            _ = connection.read(until: "\r\n\r\n")
            connection.write("HTTP/1.1 200 OK\r\nServer: testd/3.1\r\nContent-Length: 38\r\nConnection: close\r\n\r\n<html><title>loopback</title></html>\r\n")
        }
    }

    @Test("a probe with a syntax error is named with file:line, the others identify the service")
    func brokenProbeDirectory() throws {
        let server = try Self.httpServer()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-probes-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "return {\n  name = \"broken\"\n  description = 'x',\n}\n"
            .write(to: dir.appendingPathComponent("broken.lua"), atomically: true, encoding: .utf8)
        let result = try Cartograph.run(["map", "127.0.0.1", "-p", "\(server.port)", "-n", "--probe-dir", dir.path,
                                         "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("warning: probe \(dir.path)/broken.lua:3:"), "\(result.stderr)")
        let service = try firstService(result.stdout)
        #expect(service["port"] as? Int == Int(server.port))
        #expect(service["name"] as? String == "http")
        #expect(service["product"] as? String == "testd")
        #expect(service["version"] as? String == "3.1")
        #expect(service["method"] as? String == "http")
    }

    /// A probe for `port` whose line 7 backtracks for hours inside one call of string.find.
    static func bait(port: UInt16) -> String {
        """
        return {
          name = "bait",
          description = "backtracks inside one C call",
          categories = { "default" },
          ports = { \(port) },
          run = function(host, port)
            string.find(string.rep("a", 40), string.rep("a*", 20) .. "b")
          end,
        }
        """
    }

    @Test("a probe stuck in a backtracking pattern is named in the map's report; both ports are still identified")
    func stuckProbeInTheReport() throws {
        let stuck = try Self.httpServer(), other = try Self.httpServer()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-bait-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Self.bait(port: stuck.port).write(to: dir.appendingPathComponent("bait.lua"), atomically: true, encoding: .utf8)
        let result = try Cartograph.run(["map", "127.0.0.1", "-p", "\(stuck.port),\(other.port)", "-n", "--probe-dir", dir.path,
                                         "--format", "json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let hosts = try #require((object["maps"] as? [[String: Any]])?.first?["hosts"] as? [[String: Any]])
        let services = try #require(hosts.first?["services"] as? [[String: Any]])
        #expect(services.count == 2)
        for service in services {
            #expect(service["name"] as? String == "http", "\(service)")
            let errors = service["probe_errors"] as? [String] ?? []
            if service["port"] as? Int == Int(stuck.port) {
                #expect(errors.contains { $0.hasPrefix("probe bait (\(dir.path)/bait.lua:7) stopped: ran past its time limit") }, "\(errors)")
            } else {
                #expect(errors.isEmpty, "\(errors)")
            }
        }
    }

    @Test("--probes none leaves the port-discovery method on the service; -o writes the report",
          arguments: ["syn", "connect"])
    func noProbes(engine: String) throws {
        let server = try Self.httpServer()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("cartograph-report-\(getpid())-\(engine).json")
        let result = try Cartograph.run(["map", "127.0.0.1", "-p", "\(server.port)", "-n", "--probes", "none",
                                         "--format", "json", "-o", output.path, "--engine", engine])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        let service = try firstService(String(contentsOf: output, encoding: .utf8))
        #expect(service["method"] as? String == "tcp-\(engine)")
        #expect(service["name"] == nil)
    }

    func firstService(_ json: String) throws -> [String: Any] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let maps = try #require(object["maps"] as? [[String: Any]])
        let hosts = try #require(maps.first?["hosts"] as? [[String: Any]])
        let services = try #require(hosts.first?["services"] as? [[String: Any]])
        return try #require(services.first)
    }
}
