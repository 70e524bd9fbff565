import CartographCore
import Foundation

/// What became of one channel's notification.
public struct NotificationOutcome: Sendable, Equatable {
    public enum Channel: String, Sendable, Equatable {
        case email = "e-mail"
        case webhook
    }

    public var channel: Channel
    /// The recipients, or the webhook's scheme, host and port (never its path, which often
    /// holds a token).
    public var destination: String
    /// Attempts made; 0 when the channel could not even start (a secret missing).
    public var attempts: Int
    /// Why the last attempt failed; nil when the notification was delivered.
    public var error: String?

    public var delivered: Bool { error == nil }

    public init(channel: Channel, destination: String, attempts: Int, error: String?) {
        self.channel = channel
        self.destination = destination
        self.attempts = attempts
        self.error = error
    }
}

/// Tells the configured channels that a map ended: e-mail and webhook, each on its own, each
/// retried with exponential backoff. It never throws and never fails a map: every failure is
/// one line on `log` and an outcome. It blocks the caller for at most, per channel,
/// `timeouts.total` per attempt plus the waits between attempts.
public struct Notifier {
    public let settings: NotificationSettings
    private let environment: [String: String]
    private let version: String
    private let log: (String) -> Void
    private let timeouts: Timeouts

    public init(settings: NotificationSettings, environment: [String: String], version: String,
                timeouts: Timeouts = Timeouts(), log: @escaping (String) -> Void) {
        self.settings = settings
        self.environment = environment
        self.version = version
        self.timeouts = timeouts
        self.log = log
    }

    /// The longest single wait between attempts, however many retries double it.
    static let maxDelay: Duration = .seconds(300)

    /// Sends what the settings ask for `completion`; no outcomes when its status is not one
    /// they announce.
    public func notify(_ completion: MapCompletion) -> [NotificationOutcome] {
        guard let event = NotificationSettings.Event(completion.status), settings.on.contains(event) else { return [] }
        var outcomes: [NotificationOutcome] = []
        if let email = settings.email { outcomes.append(sendEmail(completion, email)) }
        if let webhook = settings.webhook { outcomes.append(sendWebhook(completion, webhook)) }
        return outcomes
    }

    private func sendEmail(_ completion: MapCompletion, _ email: NotificationSettings.Email) -> NotificationOutcome {
        let destination = email.to.joined(separator: ", ")
        var password: String?
        if let username = email.username {
            guard let name = email.passwordEnv, let value = environment[name], !value.isEmpty else {
                let variable = email.passwordEnv ?? "password_env"
                return unsent(.email, destination, "the password for \(username) is not set (environment variable \(variable))")
            }
            password = value
        }
        let client = SMTPClient(settings: email, password: password, timeouts: timeouts)
        // One message for every attempt: the same Message-ID lets a mailbox spot a repeat.
        let message = MailMessage(completion: completion, from: email.from, to: email.to)
        return attempt(.email, destination) { () throws(NotificationError) in try client.send(message) }
    }

    private func sendWebhook(_ completion: MapCompletion, _ webhook: NotificationSettings.Webhook) -> NotificationOutcome {
        let destination = Self.origin(of: webhook.url)
        var secret: String?
        if let name = webhook.secretEnv {
            // The receiver expects signed requests; an unsigned one would be refused or, worse,
            // trusted.
            guard let value = environment[name], !value.isEmpty else {
                return unsent(.webhook, destination, "the signing secret is not set (environment variable \(name))")
            }
            secret = value
        }
        let client = WebhookClient(settings: webhook, secret: secret, version: version, timeouts: timeouts)
        return attempt(.webhook, destination) { () throws(NotificationError) in try client.post(completion) }
    }

    private func unsent(_ channel: NotificationOutcome.Channel, _ destination: String, _ reason: String) -> NotificationOutcome {
        log("notification: \(channel.rawValue) to \(destination) not sent: \(reason)")
        return NotificationOutcome(channel: channel, destination: destination, attempts: 0, error: reason)
    }

    /// Runs `send` until it succeeds or the retries are spent, waiting `retry_delay_ms`, then
    /// twice that, and so on, between attempts.
    private func attempt(_ channel: NotificationOutcome.Channel, _ destination: String,
                         _ send: () throws(NotificationError) -> Void) -> NotificationOutcome {
        let total = settings.retries + 1
        var delay = Duration.milliseconds(settings.retryDelayMilliseconds)
        for attempt in 1...total {
            do {
                try send()
                return NotificationOutcome(channel: channel, destination: destination, attempts: attempt, error: nil)
            } catch {
                let head = "notification: \(channel.rawValue) to \(destination) failed (attempt \(attempt) of \(total)): \(error.message)"
                guard attempt < total else {
                    log(head + (total > 1 ? "; giving up" : ""))
                    return NotificationOutcome(channel: channel, destination: destination, attempts: attempt, error: error.message)
                }
                log(head + "; retrying in \(delay.shortText)")
                Self.sleep(delay)
                delay = min(delay * 2, Self.maxDelay)
            }
        }
        // The loop returns on its last attempt; this only satisfies the compiler.
        return NotificationOutcome(channel: channel, destination: destination, attempts: total, error: "no attempt made")
    }

    private static func sleep(_ duration: Duration) {
        let ns = duration.nanoseconds
        var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }

    /// `https://hooks.example.com` or `http://127.0.0.1:8080`: enough to say where, without the
    /// path or query, where services such as Slack put the hook's secret token.
    static func origin(of url: URL) -> String {
        let scheme = url.scheme?.lowercased() ?? "http"
        let host = url.host.map { $0.contains(":") && !$0.hasPrefix("[") ? "[\($0)]" : $0 } ?? "?"
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
    }
}
