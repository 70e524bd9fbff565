import CartographCore
@testable import CartographNotify
import CartographTestSupport
import Foundation
import Testing

@Suite("Notifier")
struct NotifierTests {
    static func settings(port: UInt16, retries: Int, delay: Int, on: Set<NotificationSettings.Event> = Set(NotificationSettings.Event.allCases)) -> NotificationSettings {
        NotificationSettings(
            on: on, retries: retries, retryDelayMilliseconds: delay,
            email: .init(to: ["ops@example.com"], from: "cg@example.com", server: "127.0.0.1", port: port),
            webhook: .init(url: URL(string: "http://127.0.0.1:\(port)/hook")!))
    }

    @Test("a closed port: both channels fail, log, retry with the configured delays, and return")
    func closedPort() {
        let port = CartographNotifyTests.closedPort()
        let log = LogLines()
        let notifier = Notifier(settings: Self.settings(port: port, retries: 2, delay: 100), environment: [:], version: "t", log: log.append)
        let start = Date()
        let outcomes = notifier.notify(sampleCompletion())
        let elapsed = Date().timeIntervalSince(start)

        #expect(outcomes.map(\.channel) == [.email, .webhook])
        #expect(outcomes.allSatisfy { !$0.delivered && $0.attempts == 3 })
        #expect(outcomes.allSatisfy { $0.error == "connect to 127.0.0.1:\(port): Connection refused" }, "\(outcomes)")
        #expect(log.lines.count == 6)
        #expect(log.lines.first == "notification: e-mail to ops@example.com failed (attempt 1 of 3): connect to 127.0.0.1:\(port): Connection refused; retrying in 100 ms")
        #expect(log.lines[1].hasSuffix("retrying in 200 ms"), "the delay doubles")
        #expect(log.lines[2].hasSuffix("(attempt 3 of 3): connect to 127.0.0.1:\(port): Connection refused; giving up"))
        #expect(log.lines[3].hasPrefix("notification: webhook to http://127.0.0.1:\(port) failed (attempt 1 of 3)"))
        // Two channels, each waiting 100 ms then 200 ms: the backoff really waited.
        #expect(elapsed >= 0.6, "took \(elapsed) s")
    }

    @Test("a server that accepts and says nothing is given up on at the read timeout")
    func silentServer() throws {
        let server = try LoopbackServer { connection in connection.idle() }
        let log = LogLines()
        let timeouts = Timeouts(connect: .seconds(2), read: .milliseconds(300), write: .seconds(2), total: .seconds(5))
        let notifier = Notifier(settings: Self.settings(port: server.port, retries: 1, delay: 10), environment: [:], version: "t",
                                timeouts: timeouts, log: log.append)
        // The errors say the read timeout ended each attempt (tests assert behaviour, not time).
        let outcomes = notifier.notify(sampleCompletion())
        #expect(outcomes.first?.error == "greeting: waiting for 127.0.0.1:\(server.port): timed out after 300 ms")
        #expect(outcomes.last?.error == "waiting for 127.0.0.1:\(server.port): timed out after 300 ms")
        #expect(outcomes.allSatisfy { $0.attempts == 2 })
    }

    @Test("a server that drips bytes is cut off by the attempt's total limit")
    func drippingServer() throws {
        let server = try LoopbackServer { connection in
            for _ in 0..<30 {
                connection.write("2")
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let timeouts = Timeouts(connect: .seconds(1), read: .seconds(1), write: .seconds(1), total: .milliseconds(700))
        let email = NotificationSettings.Email(to: ["ops@example.com"], from: "cg@example.com", server: "127.0.0.1", port: server.port)
        #expect(throws: NotificationError("greeting: waiting for 127.0.0.1:\(server.port): timed out after the attempt's limit of 700 ms")) {
            try SMTPClient(settings: email, timeouts: timeouts).send(MailMessage(from: "cg@example.com", to: ["ops@example.com"], subject: "s", body: "b"))
        }
    }

    @Test("only the statuses in `on` are announced")
    func events() {
        let log = LogLines()
        let port = CartographNotifyTests.closedPort()
        let notifier = Notifier(settings: Self.settings(port: port, retries: 0, delay: 0, on: [.failed]), environment: [:], version: "t",
                                log: log.append)
        #expect(notifier.notify(sampleCompletion(status: .complete)).isEmpty)
        #expect(notifier.notify(sampleCompletion(status: .running)).isEmpty)
        #expect(log.lines.isEmpty)
        #expect(notifier.notify(sampleCompletion(status: .failed, error: "x")).count == 2)
    }
}

@Suite("Mail rendering")
struct MailRenderingTests {
    @Test("DATA: lines that start with a dot get another, line ends become CRLF, the end mark follows")
    func dataBlock() {
        let block = String(decoding: SMTPClient.dataBlock("a\n.\n..b\r\nc\r.d\r\n"), as: UTF8.self)
        #expect(block == "a\r\n..\r\n...b\r\nc\r\n..d\r\n.\r\n")
    }

    @Test("quoted-printable keeps lines within 76 characters and encodes what is not plain ASCII")
    func quotedPrintable() {
        let long = String(repeating: "x", count: 200) + " é= \t"
        let encoded = MailMessage.quotedPrintable(long + "\nshort line \n.\n")
        let lines = encoded.components(separatedBy: "\r\n").dropLast()
        #expect(lines.allSatisfy { $0.count <= 76 }, "\(lines)")
        #expect(encoded.hasSuffix(" =C3=A9=3D =09\r\nshort line=20\r\n.\r\n"), "\(encoded)")
        #expect(lines.filter { $0.hasSuffix("=") }.count == 2, "two soft breaks in the long line")
    }

    @Test("a non-ASCII subject becomes RFC 2047 words of at most 75 characters")
    func encodedSubject() {
        let text = MailMessage.encodedHeaderText("[cartograph] map 3 complete: Zürich — 1 host, 2 open ports and quite a lot more text", offset: 9)
        let words = text.components(separatedBy: "\r\n ")
        #expect(words.count > 1)
        #expect(words.allSatisfy { $0.hasPrefix("=?UTF-8?Q?") && $0.hasSuffix("?=") && $0.count <= 75 }, "\(words)")
        #expect(text.contains("Z=C3=BCrich_=E2=80=94_1_host"))
        #expect(MailMessage.encodedHeaderText("plain", offset: 9) == "plain")
    }

    @Test("headers never carry a line break, whatever the caller passes")
    func headers() {
        let message = MailMessage(from: "cg@example.com", to: ["ops@example.com"], subject: "a\r\nBcc: x@y.z", body: "b",
                                  date: Date(timeIntervalSince1970: 0), messageID: "<1@example.com>\r\nX: y")
        let head = message.rendered().components(separatedBy: "\r\n\r\n")[0]
        #expect(head.components(separatedBy: "\r\n").map { $0.split(separator: ":")[0] } ==
                ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted"])
        #expect(head.contains("Subject: a  Bcc: x@y.z\r\n"))
        #expect(head.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
    }

    @Test("durations read naturally", arguments: [(4.24, "4.2 s"), (192, "3 min 12 s"), (7500, "2 h 05 min"), (-1, "unknown")])
    func durations(seconds: Double, text: String) {
        #expect(MailMessage.duration(seconds) == text)
    }

    @Test("the completion mail escapes terminal controls and bidi overrides from titles and errors")
    func mailEscapes() {
        let completion = sampleCompletion(status: .failed, title: "t\u{1b}]0;pwned\u{07}\u{202e}x",
                                          error: "line one\r\nbanner \u{1b}[2J\u{9b}\u{202e}")
        let subject = MailMessage.subject(for: completion), body = MailMessage.body(for: completion)
        for text in [subject, body] {
            #expect(!text.unicodeScalars.contains { TerminalSafety.needsEscape($0) && $0 != "\n" }, "\(text.debugDescription)")
        }
        #expect(body.contains("\nError:\nline one\nbanner \\x1b[2J\\u{9b}\\u{202e}"), "\(body)")
        #expect(subject.contains("\\u{202e}x"), "\(subject)")
    }
}
