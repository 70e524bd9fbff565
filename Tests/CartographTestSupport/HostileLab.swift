import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `Scripts/hostile.py` started for a test: hostile services and real controls on 127.0.0.1.
/// Stopped (SIGTERM, then SIGKILL) when released; it also stops by itself after `lifetime`.
public final class HostileLab: @unchecked Sendable {
    // Immutable after init; `process` is only signalled and waited for in deinit.

    /// One service of the lab, as hostile.py describes it.
    public struct Service: Decodable, Sendable {
        public let name: String
        public let port: UInt16
        public let `protocol`: String
        public let kind: String
        /// For a control, the service name a map must give it.
        public let expect: String?
        public let what: String
    }

    public let services: [Service]
    private let process: Process

    public static let script = Cartograph.packageRoot.appendingPathComponent("Scripts/hostile.py")

    public var controls: [Service] { services.filter { $0.kind == "control" } }
    public var hostile: [Service] { services.filter { $0.kind == "hostile" } }

    /// Every port, in `-p` syntax: `T:1,T:2,U:3`.
    public var portList: String {
        services.map { "\($0.protocol == "udp" ? "U" : "T"):\($0.port)" }.joined(separator: ",")
    }

    public init(lifetime: Int = 600, extra: [String] = []) throws {
        try Tools.requirePython()
        process = Process()
        process.executableURL = URL(fileURLWithPath: Tools.python)
        process.arguments = [Self.script.path, "--lifetime", String(lifetime)] + extra
        let out = Pipe()
        let errors = Cartograph.scratch.appendingPathComponent("hostile-\(UUID().uuidString.prefix(8)).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()

        // The first line is the lab's JSON; a lab that dies or hangs instead fails the test in 60 s.
        let line = firstLine(of: out.fileHandleForReading.fileDescriptor, within: 60)
        struct Started: Decodable { let services: [Service] }
        guard let started = try? JSONDecoder().decode(Started.self, from: Data(line)) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let stderr = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw MissingTool(description: "Scripts/hostile.py did not start (stdout \(String(decoding: line, as: UTF8.self).debugDescription)): \(stderr)")
        }
        services = started.services
    }

    /// Waits up to `seconds` for hostile.py to end by itself; true when it did.
    public func waitUntilGone(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        return !process.isRunning
    }

    deinit {
        // hostile.py unblocks SIGTERM itself and takes its daemons down; SIGKILL if it does not end.
        kill(process.processIdentifier, SIGTERM)
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// The first line a child writes to the pipe `fd`, read a byte at a time so that nothing after
/// it is consumed; whatever came when `seconds` ran out or the pipe closed.
public func firstLine(of fd: Int32, within seconds: Double) -> [UInt8] {
    var line = [UInt8]()
    let deadline = Date().addingTimeInterval(seconds)
    while !line.contains(UInt8(ascii: "\n")) && Date() < deadline {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 200) > 0 else { continue }
        var byte: UInt8 = 0
        guard read(fd, &byte, 1) == 1 else { break }
        line.append(byte)
    }
    return line
}
