import Foundation

/// Why one delivery attempt failed, in one line a user can act on (`RCPT TO <ops@example.com>:
/// 550 5.1.1 no such user`, `HTTP 503 Service Unavailable`, `connect to 10.0.0.5:25: timed out
/// after 10 s`).
public struct NotificationError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Printable, single-line text of something a peer sent: control characters become spaces, and
/// it is cut at `limit` characters so one server cannot flood a log line.
func printable(_ text: String, limit: Int = 300) -> String {
    var cleaned = String(text.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : Character($0) })
    cleaned = cleaned.trimmingCharacters(in: .whitespaces)
    return cleaned.count > limit ? String(cleaned.prefix(limit)) + "…" : cleaned
}
