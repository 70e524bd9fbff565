import Foundation

/// Runs the built `cartograph` binary as a user would, and what it printed.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

public enum Cartograph {
    /// The package root, found from this file's path.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `cartograph` binary next to the test bundle (`swift build` puts both in one folder).
    public static var binary: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On Linux the test runner is `.build/debug/CartographPackageTests.xctest`.
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("cartograph").path
    }

    /// A directory of this test process's own, removed and made anew at first use.
    public static let scratch: URL = {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("cartograph-tests-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// A fresh path for a store file under `scratch`, for tests that read their maps back.
    public static func freshStore(_ name: String = #function) -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let path = scratch.appendingPathComponent("\(safe)-\(UUID().uuidString.prefix(8)).sqlite").path
        return path
    }

    /// Runs `cartograph ARGS` (inside network namespace `namespace` when given) and waits.
    /// `openFiles` runs it under that open-file limit (soft and hard), through prlimit(1).
    public static func run(_ arguments: [String], namespace: String? = nil, stdin: String? = nil,
                           environment: [String: String] = [:], openFiles: Int? = nil,
                           unprivileged: Bool = false) throws -> CommandResult {
        let process = Process()
        var command = [binary] + arguments
        if let openFiles { command = ["/usr/bin/prlimit", "--nofile=\(openFiles):\(openFiles)"] + command }
        // `unprivileged`: without CAP_NET_RAW (taken out of the bounding set, so even root's
        // process lacks it), which is what raw packets need; files stay readable.
        if unprivileged { command = ["/usr/bin/setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"] + command }
        if let namespace { command = ["/usr/sbin/ip", "netns", "exec", namespace] + command }
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var env = ProcessInfo.processInfo.environment
        // Maps made by tests go to a store of the test run's own, never the user's.
        env["XDG_DATA_HOME"] = scratch.appendingPathComponent("data").path
        env["CARTOGRAPH_DB"] = nil
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a large report cannot block the child.
        let group = DispatchGroup()
        let box = OutputBox()
        group.enter()
        DispatchQueue.global().async {
            box.setErr(err.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: String(decoding: stdoutData, as: UTF8.self),
                             stderr: String(decoding: box.err, as: UTF8.self))
    }

    /// Peak resident memory (KiB) of one run of `cartograph ARGS`. The run goes through a small
    /// python3 parent, whose getrusage(RUSAGE_CHILDREN) then covers that single child only.
    public static func peakMemoryKiB(_ arguments: [String]) throws -> (CommandResult, Int) {
        let script = """
        import resource, subprocess, sys
        done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, binary] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let fields = String(decoding: data, as: UTF8.self).split(separator: " ")
            .map { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1 }
        guard fields.count == 2 else { return (CommandResult(status: -1, stdout: "", stderr: "python3 failed"), -1) }
        return (CommandResult(status: Int32(fields[0]), stdout: "", stderr: ""), fields[1])
    }
}

private final class OutputBox: @unchecked Sendable {
    // Written once by the reader thread before `group.leave()`, read after `group.wait()`.
    var err = Data()
    func setErr(_ data: Data) { err = data }
}
