import Foundation
import Yams

extension Inventory {
    /// Parses a notifications file: the same mapping as the inventory's `notifications:`
    /// section, at the top level. Errors name `file:line` and the key.
    public static func parseNotifications(yaml text: String, file: String) throws(ConfigError) -> NotificationSettings {
        try NotificationSettings.parse(try ConfigReader.document(text, file: file))
    }
}

extension NotificationSettings {
    static let keys = ["on", "retries", "retry_delay_ms", "email", "webhook"]
    static let emailKeys = ["to", "from", "server", "port", "security", "verify_certificate", "username", "password_env"]
    static let webhookKeys = ["url", "secret_env", "verify_certificate", "headers"]
    /// Headers the webhook client writes itself; a configured one would duplicate or contradict them.
    static let reservedHeaders = ["host", "content-length", "content-type", "transfer-encoding", "connection",
                                  "user-agent", "x-cartograph-event", "x-cartograph-timestamp", "x-cartograph-signature"]

    /// Reads a `notifications` mapping (top level of its own file, or the inventory's section).
    static func parse(_ reader: ConfigReader) throws(ConfigError) -> NotificationSettings {
        try reader.checkKeys(keys)
        var settings = NotificationSettings()
        if let events = try reader.strings("on") {
            let items = reader.items("on")
            var chosen = Set<Event>()
            for (index, name) in events.enumerated() {
                guard let event = Event(rawValue: name) else {
                    var message = "\"\(reader.keyPath("on"))\": unknown event \"\(name)\" (events: complete, failed, interrupted)"
                    if let near = Suggestion.nearest(name, in: Event.allCases.map(\.rawValue)) {
                        message += "; did you mean \"\(near)\"?"
                    }
                    throw reader.fail(message, at: items[safe: index] ?? reader.node("on"))
                }
                chosen.insert(event)
            }
            settings.on = chosen
        }
        settings.retries = try reader.int("retries", range: 0...10) ?? settings.retries
        settings.retryDelayMilliseconds = try reader.int("retry_delay_ms", range: 0...600_000) ?? settings.retryDelayMilliseconds
        if let section = try reader.object("email") { settings.email = try email(section.located(at: reader.keyNode("email"))) }
        if let section = try reader.object("webhook") {
            settings.webhook = try webhook(section.located(at: reader.keyNode("webhook")))
        }
        if settings.email == nil && settings.webhook == nil {
            throw reader.fail("\(reader.path.isEmpty ? "notifications" : "\"\(reader.path)\"") needs \"email\" or \"webhook\" (or both)")
        }
        return settings
    }

    private static func email(_ section: ConfigReader) throws(ConfigError) -> Email {
        try section.checkKeys(emailKeys)
        guard let to = try section.strings("to"), !to.isEmpty else {
            throw section.fail("\"\(section.path)\" needs \"to\": one or more addresses", at: section.keyNode("to"))
        }
        let items = section.items("to")
        for (index, address) in to.enumerated() where !isMailAddress(address) {
            throw section.fail("\"\(section.keyPath("to"))\": \"\(address)\" is not an e-mail address (ASCII name@domain)",
                               at: items[safe: index] ?? section.node("to"))
        }
        guard let from = try section.string("from") else { throw section.fail("\"\(section.path)\" needs \"from\"") }
        guard isMailAddress(from) else {
            throw section.fail("\"\(section.keyPath("from"))\": \"\(from)\" is not an e-mail address (ASCII name@domain)", at: section.node("from"))
        }
        guard let server = try section.string("server"), !server.isEmpty else {
            throw section.fail("\"\(section.path)\" needs \"server\": a host name or address")
        }
        guard server.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:_".contains($0)) }) else {
            throw section.fail("\"\(section.keyPath("server"))\": \"\(server)\" is not a host name or address", at: section.node("server"))
        }
        var email = Email(to: to, from: from, server: server)
        if let port = try section.int("port", range: 1...65535) { email.port = UInt16(port) }
        if let text = try section.string("security") {
            guard let security = Security(rawValue: text) else {
                var message = "\"\(section.keyPath("security"))\" must be none, starttls or tls, not \"\(text)\""
                if let near = Suggestion.nearest(text.lowercased(), in: Security.allCases.map(\.rawValue)) {
                    message += " (did you mean \"\(near)\"?)"
                }
                throw section.fail(message, at: section.node("security"))
            }
            email.security = security
        }
        email.verifyCertificate = try section.bool("verify_certificate") ?? true
        email.username = try section.string("username")
        email.passwordEnv = try section.environmentName("password_env")
        if email.username != nil && email.passwordEnv == nil {
            throw section.fail("\"\(section.keyPath("username"))\" needs \"password_env\": the environment variable holding the password",
                               at: section.node("username"))
        }
        if email.username == nil && email.passwordEnv != nil {
            throw section.fail("\"\(section.keyPath("password_env"))\" needs \"username\" too", at: section.node("password_env"))
        }
        return email
    }

    private static func webhook(_ section: ConfigReader) throws(ConfigError) -> Webhook {
        try section.checkKeys(webhookKeys)
        guard let text = try section.string("url") else { throw section.fail("\"\(section.path)\" needs \"url\"") }
        let urlNode = section.node("url")
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme) else {
            throw section.fail("\"\(section.keyPath("url"))\" must be an http:// or https:// URL, not \"\(text)\"", at: urlNode)
        }
        guard let host = url.host, !host.isEmpty else {
            throw section.fail("\"\(section.keyPath("url"))\": \"\(text)\" has no host", at: urlNode)
        }
        guard url.user == nil && url.password == nil else {
            throw section.fail("\"\(section.keyPath("url"))\": credentials in the URL are not supported; use headers or secret_env", at: urlNode)
        }
        var webhook = Webhook(url: url)
        webhook.secretEnv = try section.environmentName("secret_env")
        webhook.verifyCertificate = try section.bool("verify_certificate") ?? true
        if let headers = try section.object("headers") {
            for (key, value) in headers.mapping {
                guard let name = key.string, !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                    throw headers.fail("\"\(headers.path)\": header names are letters, digits and !#$%&'*+-.^_`|~", at: key)
                }
                guard !reservedHeaders.contains(name.lowercased()) else {
                    throw headers.fail("\"\(headers.keyPath(name))\": cartograph sets this header itself", at: key)
                }
                guard let text = value.scalar?.string else { throw headers.fail("\"\(headers.keyPath(name))\" must be text", at: value) }
                guard !text.contains(where: { $0.isNewline || $0 == "\0" }) else {
                    throw headers.fail("\"\(headers.keyPath(name))\": header values cannot contain line breaks", at: value)
                }
                webhook.headers.append(Header(name: name, value: text))
            }
        }
        return webhook
    }

    /// Deliberately loose (`local@domain`, nothing that could break out of an SMTP command or a
    /// header): the server is the judge of what it delivers.
    static func isMailAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count >= 2, let domain = parts.last, !domain.isEmpty, !parts[0].isEmpty else { return false }
        return text.allSatisfy(\.isASCII) && !text.contains { $0.isWhitespace || $0.isNewline || "<>,;\"()\\\0".contains($0) || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } == true }
    }

    /// RFC 9110 token characters, the only ones a header name may have.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

extension ConfigReader {
    /// The same mapping, with errors that have no node of their own (a missing key) reported at
    /// `node`'s line: the section's own key rather than its first entry.
    func located(at node: Node?) -> ConfigReader {
        ConfigReader(file: file, path: path, mapping: mapping, line: node?.mark?.line ?? line)
    }

    /// The nodes of a list value, for pointing at the wrong item; empty for a single scalar.
    func items(_ key: String) -> [Node] {
        node(key)?.sequence.map { Array($0) } ?? []
    }

    /// The name of an environment variable (`[A-Za-z_][A-Za-z0-9_]*`).
    func environmentName(_ key: String) throws(ConfigError) -> String? {
        guard let name = try string(key) else { return nil }
        let valid = name.first.map { $0.isASCII && ($0.isLetter || $0 == "_") } == true
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
        guard valid else {
            throw fail("\"\(keyPath(key))\" names an environment variable (letters, digits, _), not \"\(name)\"", at: node(key))
        }
        return name
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
