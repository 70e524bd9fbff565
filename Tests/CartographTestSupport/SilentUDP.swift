import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A UDP socket that takes datagrams and never answers: a resolver that is there but silent.
public final class SilentUDP: @unchecked Sendable {
    // `fd` is set once; `count` is guarded by `lock`.
    private let fd: Int32
    private let lock = NSLock()
    private var count = 0

    public init(address: String, port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        inet_pton(AF_INET, address, &sin.sin_addr)
        let bound = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE) }
        let socket = fd
        Thread.detachNewThread { [self] in
            var buffer = [UInt8](repeating: 0, count: 2048)
            while recv(socket, &buffer, buffer.count, 0) > 0 { lock.withLock { count += 1 } }
        }
    }

    /// The datagrams that arrived so far.
    public var received: Int { lock.withLock { count } }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
