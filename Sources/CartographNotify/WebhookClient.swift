import COpenSSL
import CartographCore
import Foundation

/// POSTs a map's summary as JSON to a URL (HTTP/1.1, http or https).
///
/// The request carries:
/// - `Content-Type: application/json`, and the body: the `MapCompletion` as our JSON encoder
///   writes it (snake_case keys, ISO 8601 times);
/// - `User-Agent: cartograph/<version>`;
/// - `X-Cartograph-Event: map.complete`, `map.failed` or `map.interrupted`;
/// - `X-Cartograph-Timestamp: <unix seconds>`, the time of this attempt;
/// - with a secret, `X-Cartograph-Signature: sha256=<hex>`: HMAC-SHA256 keyed with the secret
///   over the bytes `<timestamp>.<body>` (the timestamp header's text, a dot, the raw body).
///
/// A receiver checks a delivery by recomputing the HMAC over the timestamp and the body exactly
/// as received, comparing it with the header in constant time (`hmac.compare_digest`,
/// `crypto.timingSafeEqual`), and rejecting timestamps more than a few minutes from its own
/// clock: the timestamp is signed, so an old request replayed later fails that check.
///
/// Only a 2xx status is success. Redirects are not followed: a 3xx fails and says where it
/// pointed, so the URL can be corrected rather than the body sent somewhere unplanned.
public struct WebhookClient: Sendable {
    public var settings: NotificationSettings.Webhook
    /// The HMAC key; nil sends no signature.
    public var secret: String?
    /// Cartograph's version, for the User-Agent.
    public var version: String
    public var timeouts: Timeouts

    /// Response headers larger than this fail the request.
    static let maxResponseHead = 64 * 1024

    public init(settings: NotificationSettings.Webhook, secret: String? = nil, version: String, timeouts: Timeouts = Timeouts()) {
        self.settings = settings
        self.secret = secret
        self.version = version
        self.timeouts = timeouts
    }

    /// The `X-Cartograph-Event` value for a map status.
    public static func event(for status: MapResult.Status) -> String { "map.\(status.rawValue)" }

    /// `sha256=<hex>` over `<timestamp>.<body>`, as described on the type.
    public static func signature(secret: String, timestamp: String, body: [UInt8]) -> String {
        let key = Array(secret.utf8)
        let message = Array(timestamp.utf8) + [UInt8(ascii: ".")] + body
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = key.withUnsafeBytes { keyBytes in
            message.withUnsafeBytes { messageBytes in
                HMAC(EVP_sha256(), keyBytes.baseAddress, Int32(keyBytes.count),
                     messageBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), messageBytes.count, &digest, &length)
            }
        }
        return "sha256=" + digest.prefix(Int(length)).map { String(format: "%02x", $0) }.joined()
    }

    /// The JSON body for `completion`.
    public static func body(for completion: MapCompletion) throws(NotificationError) -> [UInt8] {
        do {
            return Array(try MapReport.jsonEncoder().encode(completion))
        } catch {
            throw NotificationError("cannot encode the summary as JSON: \(error)")
        }
    }

    /// Sends `completion`; returns the status code of the 2xx answer, or throws.
    @discardableResult
    public func post(_ completion: MapCompletion, now: Date = Date()) throws(NotificationError) -> Int {
        let url = settings.url
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty else {
            throw NotificationError("\(url.absoluteString) is not an http or https URL")
        }
        let https = scheme == "https"
        let port = UInt16(exactly: url.port ?? (https ? 443 : 80)) ?? (https ? 443 : 80)
        let body = try Self.body(for: completion)
        let request = Self.request(url: url, host: host, port: port, https: https, body: body,
                                   event: Self.event(for: completion.status), timestamp: String(Int(now.timeIntervalSince1970)),
                                   secret: secret, version: version, headers: settings.headers)

        let stream = try NetworkStream(host: host, port: port, timeouts: timeouts)
        defer { stream.close() }
        if https { try stream.startTLS(verify: settings.verifyCertificate) }
        try stream.write(request)
        while true {
            let head = try stream.read(through: Array("\r\n\r\n".utf8), maxLength: Self.maxResponseHead)
            let response = try Self.parseHead(head)
            // 1xx answers (100 Continue and kin) come before the real one.
            if (100...199).contains(response.status) { continue }
            if (200...299).contains(response.status) { return response.status }
            let what = "HTTP \(response.status)\(response.reason.isEmpty ? "" : " \(response.reason)")"
            if (300...399).contains(response.status) {
                let location = response.headers["location"].map { " (Location: \(printable($0, limit: 200)))" } ?? ""
                throw NotificationError("\(what): redirects are not followed\(location); configure the final URL")
            }
            // A short look at the body: receivers often say what they disliked.
            let length = response.headers["content-length"].flatMap { Int($0) } ?? 0
            let snippet = length > 0 ? printable(String(decoding: (try? stream.read(upTo: min(length, 300))) ?? [], as: UTF8.self), limit: 200) : ""
            throw NotificationError(what + (snippet.isEmpty ? "" : ": \(snippet)"))
        }
    }

    static func request(url: URL, host: String, port: UInt16, https: Bool, body: [UInt8], event: String,
                        timestamp: String, secret: String?, version: String,
                        headers: [NotificationSettings.Header]) -> [UInt8] {
        // As written in the URL, escapes and all: decoding and re-encoding could change it.
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        var target = components?.percentEncodedPath ?? ""
        if target.isEmpty { target = "/" }
        if let query = components?.percentEncodedQuery { target += "?" + query }
        let bareHost = host.hasPrefix("[") ? host : (host.contains(":") ? "[\(host)]" : host)
        let defaultPort: UInt16 = https ? 443 : 80
        var lines = [
            "POST \(target) HTTP/1.1",
            "Host: \(bareHost)\(port == defaultPort ? "" : ":\(port)")",
            "User-Agent: cartograph/\(version)",
            "Content-Type: application/json",
            "Content-Length: \(body.count)",
            "Connection: close",
            "X-Cartograph-Event: \(event)",
            "X-Cartograph-Timestamp: \(timestamp)",
        ]
        if let secret { lines.append("X-Cartograph-Signature: \(signature(secret: secret, timestamp: timestamp, body: body))") }
        // The configuration refuses line breaks in these; this keeps a request well formed even
        // when the settings were built in code.
        for header in headers { lines.append("\(MailMessage.headerSafe(header.name)): \(MailMessage.headerSafe(header.value))") }
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body
    }

    struct ResponseHead {
        var status: Int
        var reason: String
        /// Lowercased names; the last of repeated headers wins.
        var headers: [String: String]
    }

    /// The status line and headers of a response head (`HTTP/1.1 200 OK\r\n...\r\n\r\n`).
    static func parseHead(_ bytes: [UInt8]) throws(NotificationError) -> ResponseHead {
        let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = lines.first ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let status = Int(parts[1]) else {
            throw NotificationError("not an HTTP response: \"\(printable(statusLine, limit: 120))\"")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return ResponseHead(status: status, reason: parts.count > 2 ? printable(String(parts[2]), limit: 100) : "", headers: headers)
    }
}
