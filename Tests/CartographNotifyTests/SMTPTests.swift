import CartographTestSupport
import CartographCore
@testable import CartographNotify
import Foundation
import Testing

/// E-mail against Debian's aiosmtpd (`Servers/smtp_server.py`) on loopback.
@Suite("E-mail notifications")
struct SMTPTests {
    static let password = "correct horse battery staple"

    func settings(port: UInt16, security: NotificationSettings.Security = .none, verify: Bool = false,
                  username: String? = nil, retries: Int = 0) -> NotificationSettings {
        let email = NotificationSettings.Email(
            to: ["ops@example.com", "noc@example.com"], from: "cartograph@example.com", server: "127.0.0.1", port: port,
            security: security, verifyCertificate: verify, username: username,
            passwordEnv: username == nil ? nil : "CG_TEST_SMTP_PASSWORD")
        return NotificationSettings(retries: retries, retryDelayMilliseconds: 10, email: email)
    }

    func notify(_ settings: NotificationSettings, _ completion: MapCompletion = sampleCompletion(),
                password: String? = password, log: LogLines = LogLines()) -> NotificationOutcome? {
        let environment = password.map { ["CG_TEST_SMTP_PASSWORD": $0] } ?? [:]
        let notifier = Notifier(settings: settings, environment: environment, version: "9.9.9", log: log.append)
        let outcomes = notifier.notify(completion)
        #expect(outcomes.count == 1, "one channel configured, one outcome")
        return outcomes.first
    }

    @Test("plain SMTP delivers the summary to every recipient")
    func plain() throws {
        try Tools.requireAiosmtpd()
        let server = try PythonServer("smtp_server.py")
        let log = LogLines()
        let outcome = notify(settings(port: server.port), log: log)
        #expect(outcome?.delivered == true, "\(outcome?.error ?? "")")
        #expect(outcome?.attempts == 1)
        #expect(log.lines.isEmpty, "\(log.lines)")

        let mails = try server.records(as: ReceivedMail.self)
        let mail = try #require(mails.first)
        #expect(mails.count == 1)
        #expect(mail.mail_from == "cartograph@example.com")
        #expect(mail.rcpt_tos == ["ops@example.com", "noc@example.com"])
        #expect(!mail.tls && !mail.authenticated)
        #expect(mail.subject == "[cartograph] map 12 complete: example.com weekly — 14 hosts, 52 open ports")
        #expect(mail.header("From") == ["cartograph@example.com"])
        #expect(mail.header("To") == ["ops@example.com, noc@example.com"])
        #expect(mail.header("MIME-Version") == ["1.0"])
        #expect(mail.header("Content-Type") == ["text/plain; charset=\"utf-8\""] || mail.header("Content-Type") == ["text/plain; charset=utf-8"])
        #expect(mail.header("Date").first?.hasSuffix("+0000") == true, "\(mail.header("Date"))")
        #expect(mail.header("Message-ID").first?.hasSuffix("@example.com>") == true)
        #expect(!mail.raw.contains("\n\n") && !mail.raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"),
                "CRLF line ends only")

        let body = mail.body.replacingOccurrences(of: "\r\n", with: "\n")
        for line in [
            "Map 12 of example.com is complete.",
            "Title:               example.com weekly",
            "Target:              example.com",
            "Network:             branch",
            "Status:              complete",
            "Started:             2025-07-01 12:00:00 UTC",
            "Duration:            3 min 12 s",
            "Hosts found:         14",
            "Open ports:          52",
            "Services identified: 40",
            "Option profile:      default",
            "Launched by:         alice",
            "Scanner:             scanner-1",
            "Trend:               +2 hosts, -1 open port (2 new hosts, 1 port opened, 2 closed) since map 7",
            "Report:              cartograph maps show 12",
        ] {
            #expect(body.contains(line + "\n"), "missing \"\(line)\" in:\n\(body)")
        }
        #expect(!body.contains("Error:"))
    }

    @Test("a first map says so, and a non-ASCII title survives in subject and body")
    func firstMapAndUnicode() throws {
        try Tools.requireAiosmtpd()
        let server = try PythonServer("smtp_server.py")
        var completion = sampleCompletion(title: "Café Zürich — étage 3")
        completion.trend = nil
        #expect(notify(settings(port: server.port), completion)?.delivered == true)
        let mail = try #require(try server.records(as: ReceivedMail.self).first)
        #expect(mail.subject == "[cartograph] map 12 complete: Café Zürich — étage 3 — 14 hosts, 52 open ports")
        #expect(mail.raw.contains("Subject: =?UTF-8?Q?"), "encoded per RFC 2047")
        #expect(mail.body.contains("Title:               Café Zürich — étage 3"))
        #expect(mail.body.contains("Trend:               first map of this target"))
    }

    @Test("line breaks in a title cannot add headers or recipients, and dot lines are stuffed")
    func injection() throws {
        try Tools.requireAiosmtpd()
        let server = try PythonServer("smtp_server.py")
        let title = "weekly\r\nBcc: victim@evil.example\r\nX-Injected: yes"
        let error = "probe runtime crashed\n.\nMAIL FROM:<spam@evil.example>\r\n.leading dot\rlast line"
        let completion = sampleCompletion(status: .failed, title: title, error: error)
        #expect(notify(settings(port: server.port), completion)?.delivered == true)

        let mails = try server.records(as: ReceivedMail.self)
        #expect(mails.count == 1, "one message, not one ended early and another smuggled in")
        let mail = try #require(mails.first)
        #expect(mail.rcpt_tos == ["ops@example.com", "noc@example.com"])
        #expect(mail.header("Bcc").isEmpty && mail.header("X-Injected").isEmpty, "\(mail.headers)")
        #expect(mail.subject.hasPrefix("[cartograph] map 12 failed: weekly  Bcc: victim@evil.example  X-Injected: yes — probe runtime crashed"),
                "\(mail.subject)")
        let body = mail.body.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(body.hasPrefix("Map 12 of example.com failed.\n"))
        #expect(body.contains("Title:               weekly  Bcc: victim@evil.example  X-Injected: yes\n"))
        #expect(body.contains("\nError:\nprobe runtime crashed\n.\nMAIL FROM:<spam@evil.example>\n.leading dot\nlast line"), "\(body)")
    }

    @Test("STARTTLS with a self-signed certificate when verification is off")
    func starttls() throws {
        try Tools.requireAiosmtpd()
        let certificate = try TestCertificate.make()
        let server = try PythonServer("smtp_server.py", ["--starttls", certificate.certificate, certificate.key])
        let outcome = notify(settings(port: server.port, security: .starttls))
        #expect(outcome?.delivered == true, "\(outcome?.error ?? "")")
        #expect(try server.records(as: ReceivedMail.self).first?.tls == true)
    }

    @Test("STARTTLS refuses a self-signed certificate when verification is on")
    func starttlsVerified() throws {
        try Tools.requireAiosmtpd()
        let certificate = try TestCertificate.make()
        let server = try PythonServer("smtp_server.py", ["--starttls", certificate.certificate, certificate.key])
        let outcome = notify(settings(port: server.port, security: .starttls, verify: true))
        #expect(outcome?.delivered == false)
        #expect(outcome?.error?.contains("certificate verify failed: self-signed certificate") == true, "\(outcome?.error ?? "")")
        #expect(try server.records(as: ReceivedMail.self).isEmpty)
    }

    @Test("security starttls fails when the server does not offer it, rather than send in clear")
    func starttlsNotOffered() throws {
        try Tools.requireAiosmtpd()
        let server = try PythonServer("smtp_server.py")
        let outcome = notify(settings(port: server.port, security: .starttls))
        #expect(outcome?.error == "127.0.0.1:\(server.port) does not offer STARTTLS (security: starttls)")
        #expect(try server.records(as: ReceivedMail.self).isEmpty)
    }

    @Test("implicit TLS (SMTPS)")
    func implicitTLS() throws {
        try Tools.requireAiosmtpd()
        let certificate = try TestCertificate.make()
        let server = try PythonServer("smtp_server.py", ["--tls", certificate.certificate, certificate.key])
        let outcome = notify(settings(port: server.port, security: .tls))
        #expect(outcome?.delivered == true, "\(outcome?.error ?? "")")
        #expect(try server.records(as: ReceivedMail.self).first?.tls == true)
    }

    @Test("AUTH with the right password, PLAIN or LOGIN", arguments: [false, true])
    func auth(loginOnly: Bool) throws {
        try Tools.requireAiosmtpd()
        let certificate = try TestCertificate.make()
        let server = try PythonServer("smtp_server.py", ["--starttls", certificate.certificate, certificate.key,
                                                         "--auth", "mapper", Self.password] + (loginOnly ? ["--no-plain"] : []))
        let outcome = notify(settings(port: server.port, security: .starttls, username: "mapper"))
        #expect(outcome?.delivered == true, "\(outcome?.error ?? "")")
        let mail = try #require(try server.records(as: ReceivedMail.self).first)
        #expect(mail.authenticated && mail.tls)
    }

    @Test("a wrong password is logged and retried, and the notifier still returns")
    func wrongPassword() throws {
        try Tools.requireAiosmtpd()
        let certificate = try TestCertificate.make()
        let server = try PythonServer("smtp_server.py", ["--starttls", certificate.certificate, certificate.key,
                                                         "--auth", "mapper", Self.password])
        let log = LogLines()
        let outcome = notify(settings(port: server.port, security: .starttls, username: "mapper", retries: 2),
                             password: "wrong", log: log)
        #expect(outcome?.delivered == false)
        #expect(outcome?.attempts == 3)
        #expect(outcome?.error?.hasPrefix("AUTH PLAIN: 535 5.7.8") == true, "\(outcome?.error ?? "")")
        #expect(log.lines.count == 3, "one line per failed attempt: \(log.lines)")
        #expect(log.lines.first?.hasPrefix("notification: e-mail to ops@example.com, noc@example.com failed (attempt 1 of 3): AUTH PLAIN: 535") == true,
                "\(log.lines)")
        #expect(log.lines.first?.hasSuffix("; retrying in 10 ms") == true)
        #expect(log.lines.dropFirst().first?.hasSuffix("; retrying in 20 ms") == true)
        #expect(log.lines.last?.contains("(attempt 3 of 3)") == true && log.lines.last?.hasSuffix("; giving up") == true)
        #expect(!log.lines.joined().contains(Self.password) && !log.lines.joined().contains("d3Jvbmc"), "no credentials in logs")
        #expect(try server.records(as: ReceivedMail.self).isEmpty)
    }

    @Test("a password variable that is not set is a logged error, with no attempt")
    func missingPassword() throws {
        try Tools.requireAiosmtpd()
        let server = try PythonServer("smtp_server.py", ["--auth", "mapper", Self.password])
        let log = LogLines()
        let outcome = notify(settings(port: server.port, username: "mapper", retries: 3), password: nil, log: log)
        #expect(outcome?.attempts == 0)
        #expect(outcome?.error == "the password for mapper is not set (environment variable CG_TEST_SMTP_PASSWORD)")
        #expect(log.lines == ["notification: e-mail to ops@example.com, noc@example.com not sent: the password for mapper is not set (environment variable CG_TEST_SMTP_PASSWORD)"])
    }
}
