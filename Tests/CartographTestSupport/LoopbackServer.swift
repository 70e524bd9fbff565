import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP server on 127.0.0.1 with an ephemeral port, for tests of code that talks to services.
/// Each connection is handed to `handler` on its own thread with blocking read/write helpers.
/// The server stops accepting when `stop()` is called or the value is released.
public final class LoopbackServer: @unchecked Sendable {
    // `listener` is written once in init and only read afterwards; `stopped` is guarded by `lock`.
    public let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var stopped = false

    public init(handler: @escaping @Sendable (Connection) -> Void) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 128) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [weak self] in
            while let self, !self.isStopped {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                let worker = Thread {
                    let connection = Connection(fd: client)
                    handler(connection)
                    connection.close()
                }
                worker.start()
            }
        }
        thread.start()
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    public func stop() {
        lock.withLock { stopped = true }
        shutdown(listener, Int32(SHUT_RDWR))
        Glibc.close(listener)
    }

    deinit { if !isStopped { stop() } }

    /// One accepted connection, with blocking helpers.
    public final class Connection: @unchecked Sendable {
        // Used by one handler thread only.
        let fd: Int32
        var closed = false
        init(fd: Int32) { self.fd = fd }

        public func write(_ text: String) { write(Array(text.utf8)) }

        public func write(_ bytes: [UInt8]) { _ = send(bytes) }

        /// Writes all of `bytes`; false once the peer has gone away.
        public func send(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent <= 0 { return false }
                offset += sent
            }
            return true
        }

        /// Reads whatever arrives next (empty at end of stream).
        public func read(max: Int = 4096) -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: max)
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
            return count > 0 ? Array(buffer[..<count]) : []
        }

        /// Reads until `marker` has arrived (or the peer closes); returns all of it as text.
        public func read(until marker: String) -> String {
            var data = [UInt8]()
            while !String(decoding: data, as: UTF8.self).contains(marker) {
                let chunk = read()
                if chunk.isEmpty { break }
                data += chunk
            }
            return String(decoding: data, as: UTF8.self)
        }

        /// Keeps the connection open without answering, until the peer goes away.
        public func idle() {
            while !read().isEmpty {}
        }

        /// Whether the peer has closed its side (an end of stream or a reset is waiting), without
        /// reading.
        public var peerClosed: Bool {
            var byte: UInt8 = 0
            let count = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        }

        /// Keeps the connection open without answering for `ms` milliseconds, reading what
        /// comes; false as soon as the peer has gone away.
        public func idle(atMost ms: Int) -> Bool {
            let end = Date().addingTimeInterval(Double(ms) / 1000)
            while true {
                let left = Int(end.timeIntervalSinceNow * 1000)
                if left <= 0 { return true }
                var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, Int32(left)) >= 0 else { return false }
                if entry.revents != 0 && read().isEmpty { return false }
            }
        }

        func close() {
            if !closed { Glibc.close(fd) }
            closed = true
        }
    }
}
