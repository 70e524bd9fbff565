import CartographCore
import Foundation

extension MailMessage {
    /// The e-mail that announces a finished map: a subject that says the outcome at a glance
    /// and a body with the whole summary, one field a line.
    public init(completion: MapCompletion, from: String, to: [String], date: Date = Date()) {
        self.init(from: from, to: to, subject: Self.subject(for: completion), body: Self.body(for: completion), date: date)
    }

    /// `[cartograph] map 12 complete: example.com — 14 hosts, 52 open ports`.
    static func subject(for completion: MapCompletion) -> String {
        let map = completion.mapId.map { "map \($0)" } ?? "map"
        var title = oneLine(completion.title)
        if title.count > 120 { title = String(title.prefix(120)) + "…" }
        let counts = "\(plural(completion.hostsFound, "host")), \(plural(completion.openPorts, "open port"))"
        let detail: String
        switch completion.status {
        case .failed:
            let error = completion.error.map(oneLine) ?? "no reason given"
            detail = error.count > 120 ? String(error.prefix(120)) + "…" : error
        case .interrupted: detail = counts + " so far"
        case .complete, .running: detail = counts
        }
        return "[cartograph] \(map) \(completion.status.rawValue): \(title) — \(detail)"
    }

    static func body(for completion: MapCompletion) -> String {
        let map = completion.mapId.map { "Map \($0)" } ?? "The map"
        var fields: [(String, String)] = [
            ("Title", completion.title),
            ("Target", completion.target),
            ("Network", completion.network),
            ("Status", completion.status.rawValue),
            ("Started", startTime(completion.startedAt)),
            ("Duration", duration(completion.durationSeconds)),
            ("Hosts found", String(completion.hostsFound)),
            ("Open ports", String(completion.openPorts)),
            ("Services identified", String(completion.servicesIdentified)),
            ("Option profile", completion.profile),
            ("Launched by", completion.launchedBy),
            ("Scanner", completion.scanner),
            ("Trend", completion.trend?.phrase ?? "first map of this target"),
        ]
        if let report = completion.report { fields.append(("Report", report)) }
        let width = fields.map(\.0.count).max() ?? 0
        let outcome = switch completion.status {
        case .complete: "is complete"
        case .failed: "failed"
        case .interrupted: "was interrupted"
        case .running: "is still running"
        }
        var lines = ["\(map) of \(oneLine(completion.target)) \(outcome).", ""]
        for (label, value) in fields {
            let shown = oneLine(value).isEmpty ? "-" : oneLine(value)
            lines.append((label + ":").padding(toLength: width + 2, withPad: " ", startingAt: 0) + shown)
        }
        // The error as the engine wrote it, line breaks and all (other controls escaped): it is read, not parsed.
        if let error = completion.error {
            lines += ["", "Error:"] + error.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { String($0).terminalSafe }
        }
        return lines.joined(separator: "\n")
    }

    /// Values that belong on one line of the summary; mail is read in terminals too, so control
    /// characters that the header rules leave are escaped.
    private static func oneLine(_ text: String) -> String {
        headerSafe(text).terminalSafe.trimmingCharacters(in: .whitespaces)
    }

    private static func plural(_ count: Int, _ word: String) -> String {
        "\(count) \(word)\(count == 1 ? "" : "s")"
    }

    /// `2025-07-01 12:00:00 UTC`.
    static func startTime(_ date: Date) -> String {
        date.utc("yyyy-MM-dd HH:mm:ss 'UTC'")
    }

    /// `4.2 s`, `3 min 12 s`, `2 h 05 min`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "unknown" }
        if seconds < 60 { return "\((seconds * 10).rounded() / 10) s" }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        let minutes = (whole % 3600) / 60
        return "\(whole / 3600) h \(minutes < 10 ? "0" : "")\(minutes) min"
    }
}
