import CartographTestSupport
import CartographCore
import Foundation
import Testing

@Suite("Notification settings")
struct NotificationSettingsTests {
    static let file = """
    on: [complete, failed]
    retries: 2
    retry_delay_ms: 250
    email:
      to: [ops@example.com, noc@example.com]
      from: cartograph@example.com
      server: smtp.example.com
      port: 587
      security: starttls
      verify_certificate: false
      username: mapper
      password_env: CARTOGRAPH_SMTP_PASSWORD
    webhook:
      url: https://hooks.example.com/cartograph?team=ops
      secret_env: CARTOGRAPH_WEBHOOK_SECRET
      headers: {X-Team: ops, X-Priority: 2}
    """

    @Test("a notifications file is read whole")
    func standalone() throws {
        let settings = try Inventory.parseNotifications(yaml: Self.file, file: "notify.yaml")
        #expect(settings.on == [.complete, .failed])
        #expect(settings.retries == 2)
        #expect(settings.retryDelayMilliseconds == 250)
        let email = try #require(settings.email)
        #expect(email == NotificationSettings.Email(
            to: ["ops@example.com", "noc@example.com"], from: "cartograph@example.com", server: "smtp.example.com", port: 587,
            security: .starttls, verifyCertificate: false, username: "mapper", passwordEnv: "CARTOGRAPH_SMTP_PASSWORD"))
        let webhook = try #require(settings.webhook)
        #expect(webhook.url.absoluteString == "https://hooks.example.com/cartograph?team=ops")
        #expect(webhook.secretEnv == "CARTOGRAPH_WEBHOOK_SECRET")
        #expect(webhook.verifyCertificate)
        #expect(webhook.headers == [.init(name: "X-Team", value: "ops"), .init(name: "X-Priority", value: "2")])
    }

    @Test("the inventory's notifications section, with defaults for what it leaves out")
    func inventorySection() throws {
        let yaml = """
        scope: any
        notifications:
          email:
            to: ops@example.com
            from: cartograph@example.com
            server: 127.0.0.1
        """
        let inventory = try Inventory.parse(yaml: yaml, file: "inv.yaml")
        let settings = try #require(inventory.notifications)
        #expect(settings.on == Set(NotificationSettings.Event.allCases))
        #expect(settings.retries == 3)
        #expect(settings.retryDelayMilliseconds == 1000)
        #expect(settings.email == NotificationSettings.Email(to: ["ops@example.com"], from: "cartograph@example.com", server: "127.0.0.1"))
        #expect(settings.email?.port == 25 && settings.email?.security == NotificationSettings.Security.none)
        #expect(settings.email?.verifyCertificate == true)
        #expect(settings.webhook == nil)
        #expect(try Inventory.parse(yaml: "scope: any\n", file: "inv.yaml").notifications == nil)
    }

    static let email = "email:\n  to: [ops@example.com]\n  from: cg@example.com\n  server: mail.example.com\n"

    @Test("mistakes name file, line and key", arguments: [
        (email + "  sever: mail.example.com\n", "n.yaml:5: unknown key \"email.sever\" (did you mean \"server\"?)"),
        ("retrys: 2\n" + email, "n.yaml:1: unknown key \"retrys\" (did you mean \"retries\"?)"),
        ("email:\n  from: cg@example.com\n  server: mail.example.com\n", "n.yaml:1: \"email\" needs \"to\": one or more addresses"),
        ("email:\n  to: []\n  from: cg@example.com\n  server: m\n", "n.yaml:2: \"email\" needs \"to\""),
        ("email:\n  to: [ops@example.com, not-an-address]\n  from: cg@example.com\n  server: m\n",
         "n.yaml:2: \"email.to\": \"not-an-address\" is not an e-mail address"),
        (email + "  security: ssl\n", "n.yaml:5: \"email.security\" must be none, starttls or tls, not \"ssl\""),
        (email + "  security: startls\n", "(did you mean \"starttls\"?)"),
        (email + "  port: 70000\n", "n.yaml:5: \"email.port\" is 70000, out of range (1-65535)"),
        (email + "  username: mapper\n", "n.yaml:5: \"email.username\" needs \"password_env\""),
        (email + "  username: u\n  password_env: my-password\n", "n.yaml:6: \"email.password_env\" names an environment variable"),
        ("webhook:\n  url: hooks.example.com/cartograph\n", "n.yaml:2: \"webhook.url\" must be an http:// or https:// URL, not \"hooks.example.com/cartograph\""),
        ("webhook:\n  url: ftp://hooks.example.com/\n", "n.yaml:2: \"webhook.url\" must be an http:// or https:// URL"),
        ("webhook:\n  url: https://h.example.com/\n  headers: {Host: evil}\n", "n.yaml:3: \"webhook.headers.Host\": cartograph sets this header itself"),
        ("webhook:\n  url: https://h.example.com/\n  verify_certificate: maybe\n", "n.yaml:3: \"webhook.verify_certificate\" must be true or false"),
        ("on: [complete, finished]\n" + email, "n.yaml:1: \"on\": unknown event \"finished\""),
        ("retries: 3\n", "n.yaml:1: notifications needs \"email\" or \"webhook\""),
    ])
    func errors(yaml: String, expected: String) {
        do {
            _ = try Inventory.parseNotifications(yaml: yaml, file: "n.yaml")
            Issue.record("should fail: \(expected)")
        } catch {
            #expect(error.description.contains(expected), "message was: \(error.description)")
        }
    }

    @Test("inside the inventory, keys are named from the top")
    func inventoryErrors() {
        let yaml = "scope: any\nnotifications:\n  retry_delay: 10\n" + Self.email.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        do {
            _ = try Inventory.parse(yaml: yaml, file: "inv.yaml")
            Issue.record("should fail")
        } catch {
            #expect(error.description == "inv.yaml:3: unknown key \"notifications.retry_delay\" (did you mean \"retry_delay_ms\"?)")
        }
        do {
            _ = try Inventory.parse(yaml: "notifications:\n  webhook: {url: \"example.com\"}\n", file: "inv.yaml")
            Issue.record("should fail")
        } catch {
            #expect(error.description.hasPrefix("inv.yaml:2: \"notifications.webhook.url\" must be an http:// or https:// URL"),
                    "\(error.description)")
        }
    }
}
