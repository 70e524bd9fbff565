import CartographTestSupport
import Foundation
import Testing

/// `map` announcing finished maps by e-mail (to Debian's aiosmtpd) and by a signed webhook (to
/// Python's http.server), both on loopback; a notification that cannot be delivered never costs
/// the map.
@Suite("Notifications from map")
struct NotificationTests {
    static func settingsFile(smtp: UInt16, webhook: UInt16, name: String) throws -> String {
        let file = Cartograph.scratch.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(6)).yaml")
        try """
        retries: 2
        retry_delay_ms: 50
        email:
          to: [ops@example.com]
          from: cartograph@example.com
          server: 127.0.0.1
          port: \(smtp)
        webhook:
          url: http://127.0.0.1:\(webhook)/hooks/cartograph
          secret_env: CG_TEST_SECRET
        """.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    @Test("a finished map is announced by e-mail and by a signed webhook, with its summary and trend")
    func delivered() throws {
        try Tools.requireAiosmtpd()
        let smtp = try PythonServer("smtp_server.py")
        let hook = try PythonServer("webhook_server.py", ["--secret", "s3cret"])
        let listener = try LoopbackServer { connection in connection.write("SSH-2.0-OpenSSH_9.2p1\r\n") }
        let db = Cartograph.freshStore()
        let settings = try Self.settingsFile(smtp: smtp.port, webhook: hook.port, name: "notify")
        let arguments = ["map", "127.0.0.1", "-p", "\(listener.port)", "-n", "--engine", "connect", "--db", db,
                         "--notifications", settings, "--title", "loopback weekly"]
        for _ in 0..<2 {
            let result = try Cartograph.run(arguments, environment: ["CG_TEST_SECRET": "s3cret"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(!result.stderr.contains("notification:"), "no failure logged: \(result.stderr)")
        }
        let mails = try smtp.records(as: ReceivedMail.self)
        #expect(mails.count == 2)
        let mail = try #require(mails.last)
        #expect(mail.rcpt_tos == ["ops@example.com"])
        #expect(mail.subject.contains("map 2 complete") && mail.subject.contains("loopback weekly"), "\(mail.subject)")
        for text in ["none:[127.0.0.1]", "default", "Hosts found", "launched by", "since map 1", db] {
            #expect(mail.body.localizedCaseInsensitiveContains(text), "\"\(text)\" missing from:\n\(mail.body)")
        }
        let requests = try hook.records(as: ReceivedRequest.self)
        #expect(requests.count == 2)
        let request = try #require(requests.last)
        #expect(request.method == "POST" && request.path == "/hooks/cartograph")
        #expect(request.header("X-Cartograph-Signature") == request.expected_signature && request.expected_signature != nil,
                "the signature Python's hmac computes")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])
        #expect(body["map_id"] as? Int == 2 && body["status"] as? String == "complete" && body["title"] as? String == "loopback weekly")
        #expect((body["trend"] as? [String: Any])?["previous_map_id"] as? Int == 1)
        listener.stop()
    }

    @Test("a notification that cannot be delivered is logged and retried; the map is still reported and stored")
    func undeliverable() throws {
        // Nothing listens on these ports.
        let closed = try LoopbackServer { _ in }
        let port = closed.port
        closed.stop()
        let db = Cartograph.freshStore()
        let settings = try Self.settingsFile(smtp: port, webhook: port, name: "undeliverable")
        let result = try Cartograph.run(["map", "127.0.0.1", "-p", "1", "-n", "--engine", "connect", "--probes", "none",
                                         "--db", db, "--notifications", settings, "--format", "json"],
                                        environment: ["CG_TEST_SECRET": "s3cret"])
        #expect(result.status == 0, "a failed notification is not a failed map: \(result.stderr)")
        #expect(result.stdout.contains("\"status\" : \"complete\""))
        let failures = result.stderr.split(separator: "\n").filter { $0.contains("notification:") }
        #expect(failures.count == 6, "two channels, three attempts each: \(result.stderr)")
        #expect(failures.first?.contains("retrying in 50 ms") == true && failures.last?.contains("giving up") == true)
        let list = try Cartograph.run(["maps", "list", "--db", db, "--format", "json"])
        #expect(list.stdout.contains("\"status\" : \"complete\""))
    }

    @Test("bad notification settings are refused with file:line before anything is sent")
    func badSettings() throws {
        let file = Cartograph.scratch.appendingPathComponent("bad-notify-\(getpid()).yaml")
        try "email:\n  to: [ops@example.com]\n  from: cg@example.com\n  server: 127.0.0.1\n  securty: starttls\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let result = try Cartograph.run(["map", "127.0.0.1", "-n", "--notifications", file.path, "--db", Cartograph.freshStore()])
        #expect(result.status == 65)
        #expect(result.stderr.contains("\(file.path):5"), "\(result.stderr)")
        #expect(result.stderr.contains("security"), "did you mean: \(result.stderr)")
    }
}
