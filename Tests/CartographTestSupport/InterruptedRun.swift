import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `cartograph map` run (with `--progress json`) that is sent a signal once its progress says
/// it reached a stage, for the tests of Ctrl-C and SIGTERM.
public struct InterruptedRun: Sendable {
    /// Exit status; -1 when the run did not end within the harness wait (then it was killed).
    public let status: Int32
    /// Whether it was reached: false when the run ended (or hung) before the stage showed up.
    public let reachedStage: Bool
    public let stdout: String
    public let stderr: String

    /// Starts `cartograph ARGS --progress json` (inside `namespace` when given), waits until a
    /// progress line for `stage` satisfies `when` (or, with stage "summary", until a map's
    /// summary is printed), sends `signal`, then waits at most `harnessWait` seconds for the end.
    /// The wait only keeps a hang from hanging the test; tests assert the outcome, not the time.
    public static func run(_ arguments: [String], namespace: String? = nil, stage: String, signal: Int32 = SIGINT,
                           stageWait: Double = 60, harnessWait: Double = 10,
                           when: @escaping @Sendable ([String: Any]) -> Bool = { _ in true }) throws -> InterruptedRun {
        var command = [Cartograph.binary] + arguments + ["--progress", "json"]
        if let namespace { command = ["/usr/sbin/ip", "netns", "exec", namespace] + command }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_DATA_HOME"] = Cartograph.scratch.appendingPathComponent("data").path
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let state = Lines()
        let reached = DispatchSemaphore(value: 0)
        let ended = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in ended.signal() }
        try process.run()
        let readers = DispatchGroup()
        readers.enter()
        DispatchQueue.global().async {
            var pending = Data()
            while true {
                let chunk = err.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending += chunk
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[(newline + 1)...])
                    state.append(line)
                    guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
                    let matches = stage == "summary" ? object["event"] as? String == "summary"
                        : object["event"] as? String == "progress" && object["stage"] as? String == stage && when(object)
                    if matches && state.markReached() { reached.signal() }
                }
            }
            readers.leave()
        }
        readers.enter()
        DispatchQueue.global().async {
            state.setOut(out.fileHandleForReading.readDataToEndOfFile())
            readers.leave()
        }
        let gotThere = reached.wait(timeout: .now() + stageWait) == .success && process.isRunning
        if gotThere { kill(process.processIdentifier, signal) }
        var status: Int32 = -1
        if ended.wait(timeout: .now() + (gotThere ? harnessWait : 1)) == .success {
            status = process.terminationStatus
        } else {
            kill(process.processIdentifier, SIGKILL)
            _ = ended.wait(timeout: .now() + 10)
        }
        readers.wait()
        return InterruptedRun(status: status, reachedStage: gotThere, stdout: String(decoding: state.out, as: UTF8.self),
                              stderr: state.lines.joined(separator: "\n"))
    }
}

private final class Lines: @unchecked Sendable {
    // Guarded by `lock`: the reader threads write, the test thread reads after they finish.
    private let lock = NSLock()
    private var stored: [String] = []
    private var output = Data()
    private var reached = false
    func append(_ line: String) { lock.withLock { stored.append(line) } }
    func setOut(_ data: Data) { lock.withLock { output = data } }
    func markReached() -> Bool { lock.withLock { defer { reached = true }; return !reached } }
    var lines: [String] { lock.withLock { stored } }
    var out: Data { lock.withLock { output } }
}
