import CTLSShims
import CartographIO
import Glibc

/// A client TCP connection, in clear or TLS, with blocking calls that each wait at most their own
/// timeout and never past the attempt's deadline. It owns the socket and the TLS session and
/// frees both on `close()` or release; it is confined to the thread that uses it.
final class NetworkStream {
    /// `host:port`, for messages.
    let endpoint: String
    private let host: String
    private let timeouts: Timeouts
    private let deadline: UInt64
    private var fd: Int32 = -1
    private var tls: OpaquePointer?
    /// Bytes received but not yet consumed by `readLine` or `read`.
    private var buffer: [UInt8] = []

    /// Resolves `host` (the system resolver: its own timeouts apply) and connects to the first
    /// address that answers.
    init(host: String, port: UInt16, timeouts: Timeouts) throws(NotificationError) {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.host = bare
        self.timeouts = timeouts
        endpoint = bare.contains(":") ? "[\(bare)]:\(port)" : "\(bare):\(port)"
        deadline = MonotonicClock.now() + timeouts.total.nanoseconds
        fd = try Self.connect(host: bare, port: port, until: limit(timeouts.connect), timeouts: timeouts)
    }

    deinit { close() }

    func close() {
        if let tls { cg_tls_free(tls) }
        tls = nil
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    var isTLS: Bool { tls != nil }

    /// This end's address as an SMTP address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`): a
    /// valid EHLO argument without trusting the machine's host name to be a resolvable FQDN.
    var localAddressLiteral: String {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return "[127.0.0.1]" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = storage.ss_family
        let local = storage
        if family == sa_family_t(AF_INET6) {
            var address = withUnsafeBytes(of: local) { $0.load(as: sockaddr_in6.self).sin6_addr }
            inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            return "[IPv6:\(Self.string(text))]"
        }
        var address = withUnsafeBytes(of: local) { $0.load(as: sockaddr_in.self).sin_addr }
        inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
        return "[\(Self.string(text))]"
    }

    private static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs the TLS handshake over the connection (at once for implicit TLS, or after STARTTLS).
    func startTLS(verify: Bool) throws(NotificationError) {
        // Anything already buffered arrived in clear before the handshake; accepting it as part of
        // the protected session is the STARTTLS command-injection hole (CVE-2011-0411 and kin).
        guard buffer.isEmpty else { throw NotificationError("\(endpoint) sent data before the TLS handshake") }
        guard let session = cg_tls_new_client(fd, host, verify ? 1 : 0) else {
            throw NotificationError("TLS with \(endpoint): cannot create a session")
        }
        tls = session
        let until = limit(timeouts.connect)
        while true {
            let status = cg_tls_handshake(session)
            switch status {
            case Int32(CG_TLS_DONE):
                return
            case Int32(CG_TLS_WANT_READ), Int32(CG_TLS_WANT_WRITE):
                try wait(status == Int32(CG_TLS_WANT_READ) ? POLLIN : POLLOUT, until: until, timeout: timeouts.connect,
                         doing: "TLS handshake with")
            case Int32(CG_TLS_CLOSED):
                throw NotificationError("TLS handshake with \(endpoint): connection closed by the server")
            default:
                let reason = String(cString: cg_tls_error(session)).replacingOccurrences(of: "handshake: ", with: "")
                throw NotificationError("TLS handshake with \(endpoint) failed: \(reason)")
            }
        }
    }

    /// Sends all of `bytes`.
    func write(_ bytes: [UInt8]) throws(NotificationError) {
        let until = limit(timeouts.write)
        var offset = 0
        while offset < bytes.count {
            if let tls {
                var count: Int32 = 0
                // OpenSSL wants a retried write to present the same bytes again, which it does:
                // the array is not touched while this loop runs.
                let chunk = min(bytes.count - offset, 1 << 20)
                let status = bytes.withUnsafeBytes { cg_tls_write(tls, $0.baseAddress! + offset, Int32(chunk), &count) }
                switch status {
                case Int32(CG_TLS_DONE): offset += Int(count)
                case Int32(CG_TLS_WANT_READ), Int32(CG_TLS_WANT_WRITE):
                    try wait(status == Int32(CG_TLS_WANT_READ) ? POLLIN : POLLOUT, until: until, timeout: timeouts.write,
                             doing: "sending to")
                case Int32(CG_TLS_CLOSED): throw NotificationError("connection closed by \(endpoint) while sending")
                default: throw NotificationError("sending to \(endpoint): \(String(cString: cg_tls_error(tls)))")
                }
                continue
            }
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if sent > 0 {
                offset += sent
            } else if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try wait(POLLOUT, until: until, timeout: timeouts.write, doing: "sending to")
            } else {
                throw NotificationError("sending to \(endpoint): \(Self.text(errno))")
            }
        }
    }

    func write(_ text: String) throws(NotificationError) { try write(Array(text.utf8)) }

    /// One line without its line end (CRLF or LF). Fails when the line grows past `maxLength`
    /// bytes, so a server cannot make us buffer without end.
    func readLine(maxLength: Int = 8192) throws(NotificationError) -> String {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard buffer.count <= maxLength else {
                throw NotificationError("\(endpoint) sent a line longer than \(maxLength) bytes")
            }
            guard try fill() else { throw NotificationError("connection closed by \(endpoint)") }
        }
    }

    /// Bytes until `marker` has arrived, the marker included; at most `maxLength` bytes.
    func read(through marker: [UInt8], maxLength: Int) throws(NotificationError) -> [UInt8] {
        while true {
            if let end = buffer.firstRange(of: marker)?.upperBound {
                let head = Array(buffer[..<end])
                buffer.removeSubrange(..<end)
                return head
            }
            guard buffer.count <= maxLength else {
                throw NotificationError("\(endpoint) sent more than \(maxLength) bytes without the expected end")
            }
            guard try fill() else { throw NotificationError("connection closed by \(endpoint)") }
        }
    }

    /// Up to `count` bytes: fewer when the peer closes first.
    func read(upTo count: Int) throws(NotificationError) -> [UInt8] {
        while buffer.count < count, try fill() {}
        let head = Array(buffer.prefix(count))
        buffer.removeFirst(head.count)
        return head
    }

    /// Appends whatever arrives next to `buffer`; false at the end of the stream.
    private func fill() throws(NotificationError) -> Bool {
        let until = limit(timeouts.read)
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            if let tls {
                var count: Int32 = 0
                let status = chunk.withUnsafeMutableBytes { cg_tls_read(tls, $0.baseAddress, Int32($0.count), &count) }
                switch status {
                case Int32(CG_TLS_DONE):
                    buffer += chunk[..<Int(count)]
                    return true
                case Int32(CG_TLS_WANT_READ), Int32(CG_TLS_WANT_WRITE):
                    try wait(status == Int32(CG_TLS_WANT_READ) ? POLLIN : POLLOUT, until: until, timeout: timeouts.read,
                             doing: "waiting for")
                case Int32(CG_TLS_CLOSED): return false
                default: throw NotificationError("reading from \(endpoint): \(String(cString: cg_tls_error(tls)))")
                }
                continue
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count > 0 {
                buffer += chunk[..<count]
                return true
            }
            if count == 0 { return false }
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try wait(POLLIN, until: until, timeout: timeouts.read, doing: "waiting for")
            } else {
                throw NotificationError("reading from \(endpoint): \(Self.text(errno))")
            }
        }
    }

    /// The sooner of now + `timeout` and the attempt's deadline.
    private func limit(_ timeout: Duration) -> UInt64 {
        min(MonotonicClock.now() + timeout.nanoseconds, deadline)
    }

    /// Waits until the socket is ready for `events`, or throws once `until` has passed.
    private func wait(_ events: Int32, until: UInt64, timeout: Duration, doing: String) throws(NotificationError) {
        guard Self.poll(fd, events: events, until: until) else {
            let which = until >= deadline ? "the attempt's limit of \(timeouts.total.shortText)" : timeout.shortText
            throw NotificationError("\(doing) \(endpoint): timed out after \(which)")
        }
    }

    /// True when `fd` became ready (or in error, which the next call reports), false at `until`.
    private static func poll(_ fd: Int32, events: Int32, until: UInt64) -> Bool {
        while true {
            let now = MonotonicClock.now()
            guard now < until else { return false }
            var entry = pollfd(fd: fd, events: Int16(events), revents: 0)
            // Round up, so a wait of less than a millisecond does not spin.
            let ms = Int32(min((until - now + 999_999) / 1_000_000, UInt64(Int32.max)))
            let result = Glibc.poll(&entry, 1, ms)
            if result > 0 { return true }
            if result < 0 && errno != EINTR { return true }
        }
    }

    private static func connect(host: String, port: UInt16, until: UInt64, timeouts: Timeouts) throws(NotificationError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0 else {
            throw NotificationError("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }
        let endpoint = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var failure = "no address"
        var infos: [addrinfo] = []
        var entry = list
        while let info = entry?.pointee {
            infos.append(info)
            entry = info.ai_next
        }
        for (index, info) in infos.enumerated() {
            // Each address gets an equal share of the time left, so one that black-holes (an
            // AAAA record with no route, say) leaves time to try the next.
            let now = MonotonicClock.now()
            let share = until > now ? now + (until - now) / UInt64(infos.count - index) : until
            let fd = socket(info.ai_family, info.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                            info.ai_protocol)
            guard fd >= 0 else {
                failure = text(errno)
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                failure = text(errno)
                Glibc.close(fd)
                continue
            }
            guard poll(fd, events: POLLOUT, until: share) else {
                Glibc.close(fd)
                failure = "timed out after \(timeouts.connect.shortText)"
                continue
            }
            let code = Sockets.pendingError(fd)
            if code == 0 { return fd }
            failure = text(code)
            Glibc.close(fd)
        }
        throw NotificationError("connect to \(endpoint): \(failure)")
    }

    private static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}
