import Foundation

/// Who hears about a finished map, and how: e-mail and/or a webhook, for the statuses chosen.
/// Read from the inventory's `notifications:` section or a file of its own
/// (`NotificationSettings+YAML.swift`). Secrets are never stored here, only the names of the
/// environment variables that hold them.
public struct NotificationSettings: Sendable, Equatable {
    /// The end states of a map that can be announced.
    public enum Event: String, Sendable, Equatable, CaseIterable {
        case complete, failed, interrupted

        /// The event for a map's status; nil for a map still running.
        public init?(_ status: MapResult.Status) {
            switch status {
            case .complete: self = .complete
            case .failed: self = .failed
            case .interrupted: self = .interrupted
            case .running: return nil
            }
        }
    }

    /// How the SMTP connection is protected.
    public enum Security: String, Sendable, Equatable, CaseIterable {
        /// Plain text all the way.
        case none
        /// Plain connect, then STARTTLS, which the server must offer (no silent downgrade).
        case starttls
        /// TLS from the first byte (SMTPS, usually port 465).
        case tls
    }

    /// Settings for sending the summary by e-mail.
    public struct Email: Sendable, Equatable {
        public var to: [String]
        public var from: String
        public var server: String
        public var port: UInt16 = 25
        public var security: Security = .none
        public var verifyCertificate = true
        /// AUTH is used only when this is set; the password then comes from `passwordEnv`.
        public var username: String?
        public var passwordEnv: String?

        public init(to: [String], from: String, server: String, port: UInt16 = 25, security: Security = .none,
                    verifyCertificate: Bool = true, username: String? = nil, passwordEnv: String? = nil) {
            self.to = to
            self.from = from
            self.server = server
            self.port = port
            self.security = security
            self.verifyCertificate = verifyCertificate
            self.username = username
            self.passwordEnv = passwordEnv
        }
    }

    /// One extra HTTP header for the webhook, kept in the order written.
    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Settings for POSTing the summary as JSON.
    public struct Webhook: Sendable, Equatable {
        /// An `http` or `https` URL with a host.
        public var url: URL
        /// The environment variable holding the HMAC key; without it no signature is sent.
        public var secretEnv: String?
        public var verifyCertificate = true
        public var headers: [Header] = []

        public init(url: URL, secretEnv: String? = nil, verifyCertificate: Bool = true, headers: [Header] = []) {
            self.url = url
            self.secretEnv = secretEnv
            self.verifyCertificate = verifyCertificate
            self.headers = headers
        }
    }

    public var on: Set<Event> = Set(Event.allCases)
    /// Attempts after the first, per channel.
    public var retries = 3
    /// The wait before the first retry; it doubles before each further one.
    public var retryDelayMilliseconds = 1000
    public var email: Email?
    public var webhook: Webhook?

    public init(on: Set<Event> = Set(Event.allCases), retries: Int = 3, retryDelayMilliseconds: Int = 1000,
                email: Email? = nil, webhook: Webhook? = nil) {
        self.on = on
        self.retries = retries
        self.retryDelayMilliseconds = retryDelayMilliseconds
        self.email = email
        self.webhook = webhook
    }
}
