import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run of `cartograph` under a harness limit: what it printed (raw bytes, so control bytes
/// can be counted), how it ended and its peak memory.
public struct BoundedResult: Sendable {
    /// The exit status, or nil when a signal ended it (see `signal`).
    public let status: Int32?
    /// The signal that ended the process, when one did (SIGKILL from the harness included).
    public let signal: Int32?
    /// True when the harness limit passed and the harness killed it.
    public let killedByHarness: Bool
    /// Peak resident memory of the process, KiB (getrusage of the harness's one child).
    public let peakKiB: Int
    /// What it printed (the first 16 MB of each).
    public let stdout: Data
    public let stderr: Data

    public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    public var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// What to print when a check fails: how it ended and the start of stderr.
    public var summary: String {
        let how = killedByHarness ? "killed by the harness limit" : signal.map { "ended by signal \($0)" } ?? "exit \(status ?? -1)"
        return "\(how), peak \(peakKiB / 1024) MB; stderr: \(String(stderrText.prefix(1500)).debugDescription)"
    }
}

extension Cartograph {
    /// Runs `cartograph ARGS` through a small python3 parent that kills it (SIGKILL) once
    /// `limit` seconds pass, so a hang fails the test instead of hanging the suite; `interruptAfter`
    /// sends SIGINT that many seconds in, as Ctrl-C would. Peak memory comes from the parent's
    /// getrusage(RUSAGE_CHILDREN), which covers this single child (and any it waited for).
    public static func runBounded(_ arguments: [String], limit: Double = 120, interruptAfter: Double? = nil,
                                  environment: [String: String] = [:]) throws -> BoundedResult {
        let script = #"""
        import json, os, resource, signal, subprocess, sys, time
        limit, interrupt, out, err = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
        # Test runner threads block SIGINT and SIGTERM; a blocked mask survives exec, so undo it.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        def child_setup():
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with open(out, "wb") as o, open(err, "wb") as e:
            child = subprocess.Popen(sys.argv[5:], stdin=subprocess.DEVNULL, stdout=o, stderr=e, preexec_fn=child_setup)
            start, killed, interrupted = time.monotonic(), False, False
            while True:
                try:
                    child.wait(timeout=0.05)
                    break
                except subprocess.TimeoutExpired:
                    pass
                elapsed = time.monotonic() - start
                if interrupt >= 0 and not interrupted and elapsed >= interrupt:
                    child.send_signal(signal.SIGINT)
                    interrupted = True
                if elapsed >= limit:
                    child.kill()
                    child.wait()
                    killed = True
                    break
        code = child.returncode
        print(json.dumps({"status": code if code >= 0 else None, "signal": -code if code < 0 else None,
                          "killed": killed, "maxrss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
        """#
        let id = UUID().uuidString.prefix(8)
        let out = scratch.appendingPathComponent("bounded-\(id).out"), err = scratch.appendingPathComponent("bounded-\(id).err")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tools.python)
        process.arguments = ["-c", script, String(limit), String(interruptAfter ?? -1), out.path, err.path, binary] + arguments
        var env = ProcessInfo.processInfo.environment
        env["XDG_DATA_HOME"] = scratch.appendingPathComponent("data").path
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        struct Report: Decodable { let status: Int32?; let signal: Int32?; let killed: Bool; let maxrss: Int }
        let report = try JSONDecoder().decode(Report.self, from: data)
        return BoundedResult(status: report.status, signal: report.signal, killedByHarness: report.killed,
                             peakKiB: report.maxrss, stdout: Self.head(of: out), stderr: Self.head(of: err))
    }

    /// The first 16 MB of a file: a run that floods its output must not flood the test process.
    static func head(of url: URL, limit: Int = 16 << 20) -> Data {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return Data() }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: limit)) ?? Data()
    }
}

/// Bytes that must never reach a terminal or a file raw: C0 controls but tab and newline, DEL,
/// raw C1 bytes (0x80-0x9F outside UTF-8 sequences) and UTF-8 encoded C1 characters (U+0080-U+009F).
///
/// `csv: true` reads the data as RFC 4180 CSV, whose records end in CRLF: the CR of a CRLF
/// outside a quoted field ends a record and is not counted; a CR anywhere else still is.
public enum ControlBytes {
    /// Offsets of the raw control bytes in `data`, at most `limit` of them.
    public static func offsets(in data: Data, csv: Bool = false, limit: Int = 20) -> [Int] {
        var found: [Int] = []
        let bytes = [UInt8](data)
        var i = 0
        var quoted = false
        while i < bytes.count && found.count < limit {
            let b = bytes[i]
            // A doubled quote inside a quoted field toggles twice: the state stays right.
            if csv && b == UInt8(ascii: "\"") { quoted.toggle() }
            if csv && !quoted && b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A {
                i += 1
                continue
            }
            if b < 0x20 && b != 0x0A && b != 0x09 || b == 0x7F {
                found.append(i)
            } else if b == 0xC2, i + 1 < bytes.count, (0x80...0x9F).contains(bytes[i + 1]) {
                found.append(i)
                i += 1
            } else if b >= 0x80 {
                // Skip a whole well-formed UTF-8 sequence; a stray continuation byte 0x80-0x9F is a raw C1.
                let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1
                let tail = bytes[(i + 1)..<min(bytes.count, i + length)]
                if length > 1 && tail.count == length - 1 && tail.allSatisfy({ $0 & 0xC0 == 0x80 }) {
                    i += length
                    continue
                }
                if (0x80...0x9F).contains(b) { found.append(i) }
            }
            i += 1
        }
        return found
    }

    /// The count of raw control bytes in `data`.
    public static func count(in data: Data, csv: Bool = false) -> Int { offsets(in: data, csv: csv, limit: .max).count }

    /// The first few offending bytes with some context, for a failure message.
    public static func describe(_ data: Data, csv: Bool = false) -> String {
        let bytes = [UInt8](data)
        return offsets(in: data, csv: csv, limit: 3).map { offset in
            let slice = bytes[max(0, offset - 30)..<min(bytes.count, offset + 10)]
            return "at \(offset): \(String(decoding: slice, as: UTF8.self).debugDescription)"
        }.joined(separator: "; ")
    }
}

extension Cartograph {
    /// Runs another program (xmllint, …) to the end and returns what it printed.
    public static func runExternal(_ path: String, _ arguments: [String]) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let group = DispatchGroup()
        nonisolated(unsafe) var errData = Data()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }
}
