import CartographTestSupport
import CartographCore
@testable import CartographNotify
import Foundation
import Testing

/// Webhooks against Python's http.server (`Servers/webhook_server.py`) on loopback.
@Suite("Webhook notifications")
struct WebhookTests {
    static let secret = "s3cret-for-tests"

    func settings(_ url: String, secret: Bool = true, verify: Bool = true, retries: Int = 0) -> NotificationSettings {
        let webhook = NotificationSettings.Webhook(url: URL(string: url)!, secretEnv: secret ? "CG_TEST_WEBHOOK_SECRET" : nil,
                                                   verifyCertificate: verify, headers: [.init(name: "X-Team", value: "ops")])
        return NotificationSettings(retries: retries, retryDelayMilliseconds: 10, webhook: webhook)
    }

    func notify(_ settings: NotificationSettings, _ completion: MapCompletion = sampleCompletion(),
                environment: [String: String] = ["CG_TEST_WEBHOOK_SECRET": secret], log: LogLines = LogLines()) -> NotificationOutcome? {
        let notifier = Notifier(settings: settings, environment: environment, version: "9.9.9", log: log.append)
        let outcomes = notifier.notify(completion)
        #expect(outcomes.count == 1, "one channel configured, one outcome")
        return outcomes.first
    }

    @Test("a signed POST of the summary as JSON")
    func signed() throws {
        let server = try PythonServer("webhook_server.py", ["--secret", Self.secret])
        let log = LogLines()
        let completion = sampleCompletion()
        let outcome = notify(settings("http://127.0.0.1:\(server.port)/hooks/cartograph?team=ops"), completion, log: log)
        #expect(outcome?.delivered == true, "\(outcome?.error ?? "")")
        #expect(outcome?.destination == "http://127.0.0.1:\(server.port)", "no path in what gets logged")
        #expect(log.lines.isEmpty)

        let requests = try server.records(as: ReceivedRequest.self)
        let request = try #require(requests.first)
        #expect(requests.count == 1)
        #expect(request.method == "POST")
        #expect(request.path == "/hooks/cartograph?team=ops")
        #expect(request.header("Content-Type") == "application/json")
        #expect(request.header("User-Agent") == "cartograph/9.9.9")
        #expect(request.header("X-Cartograph-Event") == "map.complete")
        #expect(request.header("X-Team") == "ops")
        #expect(request.header("Host") == "127.0.0.1:\(server.port)")
        let timestamp = try #require(request.header("X-Cartograph-Timestamp").flatMap { Double($0) })
        #expect(abs(timestamp - Date().timeIntervalSince1970) < 60)
        let signature = try #require(request.header("X-Cartograph-Signature"))
        #expect(signature == request.expected_signature, "Python's hmac over timestamp.body agrees")
        #expect(signature.hasPrefix("sha256=") && signature.count == 7 + 64)

        #expect(request.body.contains("\"hosts_found\" : 14") && request.body.contains("\"duration_seconds\" : 192"), "\(request.body)")
        #expect(request.body.contains("\"started_at\" : \"2025-07-01T12:00:00Z\""))
        let decoded = try MapReport.jsonDecoder().decode(MapCompletion.self, from: Data(request.body.utf8))
        #expect(decoded == completion)
    }

    @Test("no secret configured, no signature header; a failed map is map.failed")
    func unsigned() throws {
        let server = try PythonServer("webhook_server.py")
        let outcome = notify(settings("http://127.0.0.1:\(server.port)/", secret: false),
                             sampleCompletion(status: .failed, error: "resolver gone"), environment: [:])
        #expect(outcome?.delivered == true, "\(outcome?.error ?? "")")
        let request = try #require(try server.records(as: ReceivedRequest.self).first)
        #expect(request.header("X-Cartograph-Signature") == nil)
        #expect(request.header("X-Cartograph-Event") == "map.failed")
        #expect(request.body.contains("\"error\" : \"resolver gone\""))
    }

    @Test("503 twice, then 200: delivered on the third attempt, two failures logged")
    func retries() throws {
        let server = try PythonServer("webhook_server.py", ["--secret", Self.secret, "--fail", "503", "2"])
        let log = LogLines()
        let outcome = notify(settings("http://127.0.0.1:\(server.port)/hook", retries: 3), log: log)
        #expect(outcome?.delivered == true, "\(outcome?.error ?? "")")
        #expect(outcome?.attempts == 3)
        #expect(log.lines == [
            "notification: webhook to http://127.0.0.1:\(server.port) failed (attempt 1 of 4): HTTP 503 Service Unavailable: try again later; retrying in 10 ms",
            "notification: webhook to http://127.0.0.1:\(server.port) failed (attempt 2 of 4): HTTP 503 Service Unavailable: try again later; retrying in 20 ms",
        ])
        let requests = try server.records(as: ReceivedRequest.self)
        #expect(requests.count == 3)
        #expect(requests.allSatisfy { $0.header("X-Cartograph-Signature") == $0.expected_signature })
    }

    @Test("a redirect is an error that says so, not followed")
    func redirect() throws {
        let server = try PythonServer("webhook_server.py", ["--redirect", "https://elsewhere.example/hook"])
        let outcome = notify(settings("http://127.0.0.1:\(server.port)/hook"))
        #expect(outcome?.delivered == false)
        #expect(outcome?.error == "HTTP 302 Found: redirects are not followed (Location: https://elsewhere.example/hook); configure the final URL")
        #expect(try server.records(as: ReceivedRequest.self).count == 1)
    }

    @Test("HTTPS to a self-signed receiver when verification is off")
    func https() throws {
        let certificate = try TestCertificate.make()
        let server = try PythonServer("webhook_server.py", ["--secret", Self.secret, "--tls", certificate.certificate, certificate.key])
        let outcome = notify(settings("https://127.0.0.1:\(server.port)/hook", verify: false))
        #expect(outcome?.delivered == true, "\(outcome?.error ?? "")")
        let request = try #require(try server.records(as: ReceivedRequest.self).first)
        #expect(request.header("X-Cartograph-Signature") == request.expected_signature)
    }

    @Test("HTTPS refuses a self-signed certificate when verification is on")
    func httpsVerified() throws {
        let certificate = try TestCertificate.make()
        let server = try PythonServer("webhook_server.py", ["--tls", certificate.certificate, certificate.key])
        let outcome = notify(settings("https://127.0.0.1:\(server.port)/hook", secret: false, verify: true))
        #expect(outcome?.delivered == false)
        #expect(outcome?.error?.contains("certificate verify failed: self-signed certificate") == true, "\(outcome?.error ?? "")")
        #expect(try server.records(as: ReceivedRequest.self).isEmpty, "nothing sent before the check")
    }

    @Test("a secret variable that is not set is a logged error, with no attempt")
    func missingSecret() throws {
        let server = try PythonServer("webhook_server.py")
        let log = LogLines()
        let outcome = notify(settings("http://127.0.0.1:\(server.port)/hook/T0KEN", retries: 3), environment: [:], log: log)
        #expect(outcome?.attempts == 0)
        #expect(log.lines == ["notification: webhook to http://127.0.0.1:\(server.port) not sent: the signing secret is not set (environment variable CG_TEST_WEBHOOK_SECRET)"])
        #expect(try server.records(as: ReceivedRequest.self).isEmpty)
    }

    @Test("the signature is HMAC-SHA256 over timestamp, a dot and the body")
    func signatureScheme() {
        // Expected value from Python: hmac.new(b"key", b'1700000000.{"ok":true}', hashlib.sha256).
        let signature = WebhookClient.signature(secret: "key", timestamp: "1700000000", body: Array(#"{"ok":true}"#.utf8))
        #expect(signature == "sha256=2d180000ee47d3182b4ab05f69683dd1aa6b86bbecd1ba52acc64d4e17840fc6")
    }
}
