import CartographTestSupport
import Foundation
import Testing

/// Ctrl-C while a probe is stuck inside one C call: the map still ends and says what it found.
@Suite("Interrupting identification")
struct ProbeInterruptTests {
    @Test("SIGINT during a probe stuck in a backtracking pattern ends the map with its report, the port marked interrupted")
    func interruptStuckProbe() throws {
        let server = try LoopbackMapTests.httpServer()
        let dir = Cartograph.scratch.appendingPathComponent("interrupt-probes")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try LoopbackMapTests.bait(port: server.port).write(to: dir.appendingPathComponent("bait.lua"), atomically: true, encoding: .utf8)
        // Ten minutes per probe: only the interrupt can end this map soon.
        let defaults = try String(contentsOf: Cartograph.packageRoot.appendingPathComponent("Profiles/default.yaml"), encoding: .utf8)
        let profile = dir.appendingPathComponent("patient.yaml")
        try defaults.replacingOccurrences(of: "probe_timeout_ms: 8000", with: "probe_timeout_ms: 600000")
            .replacingOccurrences(of: "name: default", with: "name: patient")
            .write(to: profile, atomically: true, encoding: .utf8)

        let process = Process()
        // Test runner threads block SIGINT, and a blocked mask survives exec: python3 unblocks
        // it, then becomes cartograph (same pid, so the signal below reaches the map).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM}); os.execv(sys.argv[1], sys.argv[1:])"
        process.arguments = ["-c", unblock, Cartograph.binary, "map", "127.0.0.1", "-p", "\(server.port)", "-n", "--probe-dir", dir.path, "--profile", profile.path,
                             "--format", "json", "--db", Cartograph.freshStore()]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = DispatchQueue(label: "stdout")
        let data = Box()
        reader.async { data.bytes = out.fileHandleForReading.readDataToEndOfFile() }
        // Let the map reach identification, then Ctrl-C.
        usleep(2_000_000)
        process.interrupt()
        // A bounded wait, so that a hang fails the test instead of hanging the run.
        var waited = 0
        while process.isRunning && waited < 300 {
            usleep(100_000)
            waited += 1
        }
        let ended = !process.isRunning
        if !ended { kill(process.processIdentifier, SIGKILL) }
        #expect(ended, "the map did not end after SIGINT")
        process.waitUntilExit()
        reader.sync {}
        let object = try #require(try JSONSerialization.jsonObject(with: data.bytes) as? [String: Any])
        let map = try #require((object["maps"] as? [[String: Any]])?.first)
        #expect(map["status"] as? String == "interrupted", "\(map["status"] ?? "none")")
        let services = try #require((map["hosts"] as? [[String: Any]])?.first?["services"] as? [[String: Any]])
        let errors = services.first?["probe_errors"] as? [String] ?? []
        #expect(errors.contains("not identified: the map was interrupted"), "\(errors)")
    }
}

/// Bytes written by the reader queue and read after `reader.sync {}`.
private final class Box: @unchecked Sendable {
    var bytes = Data()
}
