import CartographCore
import Foundation

/// Sends one message over SMTP (RFC 5321): EHLO (HELO for servers that predate it), STARTTLS or
/// implicit TLS, AUTH PLAIN or LOGIN, MAIL FROM, one RCPT TO per recipient, dot-stuffed DATA,
/// QUIT. Any reply other than the expected one fails the send with the command and the
/// server's words.
public struct SMTPClient: Sendable {
    /// Where and how to connect; the envelope comes from the message.
    public var settings: NotificationSettings.Email
    /// The AUTH password, needed when `settings.username` is set.
    public var password: String?
    public var timeouts: Timeouts

    public init(settings: NotificationSettings.Email, password: String? = nil, timeouts: Timeouts = Timeouts()) {
        self.settings = settings
        self.password = password
        self.timeouts = timeouts
    }

    /// Delivers `message` to the server, or throws saying which step failed. A rejected
    /// recipient fails the whole send before DATA, so nobody gets a copy that a retry would
    /// send again.
    public func send(_ message: MailMessage) throws(NotificationError) {
        for address in [message.from] + message.to where !Self.isEnvelopeSafe(address) {
            throw NotificationError("\"\(printable(address))\" cannot be sent in an SMTP envelope")
        }
        guard !message.to.isEmpty else { throw NotificationError("the message has no recipients") }
        let stream = try NetworkStream(host: settings.server, port: settings.port, timeouts: timeouts)
        defer { stream.close() }
        if settings.security == .tls { try stream.startTLS(verify: settings.verifyCertificate) }
        let session = Session(stream: stream)
        try session.expect([220], from: try session.reply(to: "greeting"), for: "greeting")

        var extensions = try session.hello()
        if settings.security == .starttls {
            guard extensions["STARTTLS"] != nil else {
                throw NotificationError("\(stream.endpoint) does not offer STARTTLS (security: starttls)")
            }
            try session.command("STARTTLS", expect: [220])
            try stream.startTLS(verify: settings.verifyCertificate)
            // RFC 3207: forget what was said in clear and ask again over TLS.
            extensions = try session.hello()
        }
        if let username = settings.username {
            guard let password else { throw NotificationError("AUTH: no password for \(username)") }
            try session.authenticate(username: username, password: password, offered: extensions["AUTH"])
        }
        try session.command("MAIL FROM:<\(message.from)>", named: "MAIL FROM", expect: [250])
        for recipient in message.to {
            try session.command("RCPT TO:<\(recipient)>", named: "RCPT TO <\(recipient)>", expect: [250, 251])
        }
        try session.command("DATA", expect: [354])
        do { try stream.write(Self.dataBlock(message.rendered())) } catch { throw NotificationError("DATA: \(error.message)") }
        try session.expect([250], from: try session.reply(to: "end of DATA"), for: "end of DATA")
        // The message is accepted; a server that drops the line instead of answering QUIT
        // has still delivered it.
        _ = try? session.command("QUIT", expect: [221])
    }

    /// The DATA payload: lines ended by CRLF (whatever `text` used), each line that starts with
    /// "." given another (RFC 5321 4.5.2), then the "." line that ends the message. Without the
    /// stuffing a line holding only "." would end the message early and turn the rest of the
    /// text into commands.
    static func dataBlock(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        for line in MailMessage.lines(of: text) {
            if line.hasPrefix(".") { out.append(UInt8(ascii: ".")) }
            out += Array(line.utf8) + [13, 10]
        }
        return out + Array(".\r\n".utf8)
    }

    /// No line breaks, controls, spaces or angle brackets: nothing that could end the command.
    static func isEnvelopeSafe(_ address: String) -> Bool {
        !address.isEmpty && !address.unicodeScalars.contains {
            $0.properties.generalCategory == .control || $0 == " " || $0 == "<" || $0 == ">"
        }
    }
}

/// A server's reply: the code and the text of each line.
struct SMTPReply: Equatable {
    var code: Int
    var lines: [String]

    /// `535 5.7.8 authentication failed`, one line however many the server sent.
    var summary: String { printable("\(code) " + lines.filter { !$0.isEmpty }.joined(separator: " ")) }
}

/// One SMTP conversation over a connected stream.
private struct Session {
    let stream: NetworkStream

    /// Reads one reply, however many lines: `250-first`, `250-second`, `250 last`.
    func reply(to name: String) throws(NotificationError) -> SMTPReply {
        var code: Int?
        var lines: [String] = []
        while true {
            let line: String
            do { line = try stream.readLine() } catch { throw NotificationError("\(name): \(error.message)") }
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, bytes[0...2].allSatisfy({ (48...57).contains($0) }),
                  bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-"),
                  let value = Int(String(decoding: bytes[0...2], as: UTF8.self)) else {
                throw NotificationError("\(name): malformed reply \"\(printable(line, limit: 120))\"")
            }
            if let code, code != value {
                throw NotificationError("\(name): reply lines disagree (\(code) then \(value))")
            }
            code = value
            lines.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
            guard lines.count <= 100 else { throw NotificationError("\(name): reply of more than 100 lines") }
            if bytes.count == 3 || bytes[3] == UInt8(ascii: " ") { return SMTPReply(code: value, lines: lines) }
        }
    }

    func expect(_ codes: Set<Int>, from reply: SMTPReply, for name: String) throws(NotificationError) {
        guard codes.contains(reply.code) else { throw NotificationError("\(name): \(reply.summary)") }
    }

    /// Sends `line` and reads the reply, which must have one of `codes`. `named` is what
    /// messages call the command: never the line itself when it carries a credential.
    @discardableResult
    func command(_ line: String, named: String? = nil, expect codes: Set<Int>) throws(NotificationError) -> SMTPReply {
        let name = named ?? line
        do { try stream.write(line + "\r\n") } catch { throw NotificationError("\(name): \(error.message)") }
        let answer = try reply(to: name)
        try expect(codes, from: answer, for: name)
        return answer
    }

    /// EHLO, or HELO when the server does not know EHLO; the extensions offered, by keyword
    /// (`AUTH` -> `PLAIN LOGIN`), none after HELO.
    func hello() throws(NotificationError) -> [String: String] {
        let name = stream.localAddressLiteral
        let answer = try command("EHLO \(name)", named: "EHLO", expect: [250, 500, 501, 502, 504])
        guard answer.code == 250 else {
            try command("HELO \(name)", named: "HELO", expect: [250])
            return [:]
        }
        var extensions: [String: String] = [:]
        for line in answer.lines.dropFirst() {
            // Some old servers write `AUTH=LOGIN PLAIN`.
            let words = line.split(whereSeparator: { $0 == " " || $0 == "=" }).map(String.init)
            guard let keyword = words.first?.uppercased() else { continue }
            extensions[keyword] = ((extensions[keyword].map { [$0] } ?? []) + words.dropFirst()).joined(separator: " ")
        }
        return extensions
    }

    /// AUTH PLAIN when offered (one round trip), else AUTH LOGIN.
    func authenticate(username: String, password: String, offered: String?) throws(NotificationError) {
        guard let offered else {
            let hint = stream.isTLS ? "" : " (many servers offer it only over TLS: security starttls or tls)"
            throw NotificationError("AUTH: \(stream.endpoint) does not offer AUTH\(hint)")
        }
        let mechanisms = Set(offered.uppercased().split(separator: " ").map(String.init))
        if mechanisms.contains("PLAIN") {
            let token = Data("\0\(username)\0\(password)".utf8).base64EncodedString()
            try command("AUTH PLAIN \(token)", named: "AUTH PLAIN", expect: [235])
        } else if mechanisms.contains("LOGIN") {
            try command("AUTH LOGIN", expect: [334])
            try command(Data(username.utf8).base64EncodedString(), named: "AUTH LOGIN (user name)", expect: [334])
            try command(Data(password.utf8).base64EncodedString(), named: "AUTH LOGIN (password)", expect: [235])
        } else {
            throw NotificationError("AUTH: \(stream.endpoint) offers neither PLAIN nor LOGIN (offers \(printable(offered)))")
        }
    }
}
