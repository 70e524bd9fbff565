import ArgumentParser
import CartographCore
import CartographReport
import Foundation

/// `--progress`: how a map's progress is shown on stderr.
enum ProgressMode: String, ExpressibleByArgument, CaseIterable {
    /// A live line on a terminal; nothing but the final summary otherwise.
    case auto
    /// The live line even when stderr is not a terminal.
    case line
    /// One JSON object a line, for wrappers: progress every second and at each stage, then the summary.
    case json
    /// Only the final summary.
    case none
}

/// Draws a `ProgressMeter` on stderr from a thread of its own while a map runs. Stage notes
/// go through it too, so a note never lands in the middle of the progress line.
final class ProgressDisplay: @unchecked Sendable {
    // Guarded by `lock`: the drawing thread and the map's thread both write to stderr.
    private let lock = NSLock()
    private let meter: ProgressMeter
    private let mode: ProgressMode
    private var running = false
    private var lineShown = false
    private var lastStage: ProgressMeter.Stage?
    private var thread: Thread?
    /// Wakes the drawing thread early when the map ends, and tells `stop` it has finished.
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    /// Whether stage notes are printed when the mode alone would not print them (`-v`).
    private let verbose: Bool

    init(meter: ProgressMeter, mode: ProgressMode, verbose: Bool = false) {
        self.meter = meter
        self.mode = mode == .auto ? (isatty(STDERR_FILENO) == 1 ? .line : .none) : mode
        self.verbose = verbose
    }

    var showsNotes: Bool { mode == .line || verbose }

    func start() {
        guard mode == .line || mode == .json else { return }
        lock.withLock { running = true }
        let interval: DispatchTimeInterval = mode == .line ? .milliseconds(200) : .milliseconds(100)
        let thread = Thread { [self] in
            var ticks = 0
            while lock.withLock({ running }) {
                _ = wake.wait(timeout: .now() + interval)
                ticks += 1
                draw(force: mode == .line || ticks % 10 == 0)
            }
            finished.signal()
        }
        self.thread = thread
        thread.start()
    }

    /// Stops drawing and clears the line.
    func stop() {
        let wasRunning = lock.withLock { () -> Bool in
            let was = running
            running = false
            return was
        }
        guard wasRunning else { return }
        wake.signal()
        finished.wait()
        lock.withLock {
            if mode == .json { writeJSON(meter.snapshot()) }
            clearLine()
        }
    }

    /// A stage note: on its own line, above the progress line.
    func note(_ text: String) {
        guard showsNotes else { return }
        lock.withLock {
            clearLine()
            FileHandle.standardError.write(Data("cartograph: \(text.terminalSafe)\n".utf8))
        }
    }

    /// A warning or an error from the map's thread: always printed, never inside the line.
    func message(_ text: String) {
        lock.withLock {
            clearLine()
            FileHandle.standardError.write(Data("cartograph: \(text.terminalSafe)\n".utf8))
        }
    }

    /// The end-of-map summary: always printed, as a line or (with `json`) as a JSON object.
    func summary(_ completion: MapCompletion, coverageUnconfirmed: Bool = false) {
        lock.withLock {
            clearLine()
            if mode == .json {
                let encoder = MapReport.jsonEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let body = (try? MapReport.jsonText(completion, encoder: encoder)) ?? "{}"
                FileHandle.standardError.write(Data("{\"event\":\"summary\",\"map\":\(body)}\n".utf8))
            } else {
                let note = coverageUnconfirmed ? "; coverage not confirmed (see the map's warnings)" : ""
                FileHandle.standardError.write(Data((Self.summaryLine(completion) + note + "\n").utf8))
            }
        }
    }

    /// The summary as one line; the target, network and error are written `terminalSafe`.
    static func summaryLine(_ c: MapCompletion) -> String {
        var line = "cartograph: map " + (c.mapId.map { "\($0) " } ?? "") + "\(c.target.terminalSafe) (network \(c.network.terminalSafe)): "
        line += "\(c.status.rawValue) in \(humanDuration(c.durationSeconds)); "
        line += "\(c.hostsFound) host\(c.hostsFound == 1 ? "" : "s"), \(c.openPorts) open port\(c.openPorts == 1 ? "" : "s"), "
        line += "\(c.servicesIdentified) service\(c.servicesIdentified == 1 ? "" : "s") identified; "
        line += c.trend.map { "trend: \($0.phrase)" } ?? "first map of this target in this network"
        if let error = c.error { line += "; error: \(error.terminalSafe)" }
        return line
    }

    private func draw(force: Bool) {
        let snapshot = meter.snapshot()
        lock.withLock {
            guard running, snapshot.stage != nil else { return }
            let stageChanged = snapshot.stage != lastStage
            lastStage = snapshot.stage
            switch mode {
            case .line:
                // Cut to the terminal's width: a line that wraps cannot be redrawn in place.
                FileHandle.standardError.write(Data(("\r\u{1B}[K" + String(Self.line(snapshot).prefix(Self.columns()))).utf8))
                lineShown = true
            case .json where force || stageChanged:
                writeJSON(snapshot)
            default:
                break
            }
        }
    }

    private func writeJSON(_ snapshot: ProgressSnapshot) {
        let encoder = MapReport.jsonEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(snapshot)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        FileHandle.standardError.write(Data(("{\"event\":\"progress\"," + body.dropFirst() + "\n").utf8))
    }

    /// The terminal's width (stderr's), or 120 columns when it is not a terminal.
    static func columns() -> Int {
        var size = winsize()
        guard ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 10 else { return 120 }
        return Int(size.ws_col) - 1
    }

    private func clearLine() {
        if lineShown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        lineShown = false
    }

    static func line(_ s: ProgressSnapshot) -> String { s.line }
}
