import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A UDP server on 127.0.0.1 with an ephemeral port: each datagram is handed to `handler`, and
/// whatever it returns is sent back to the sender.
public final class UDPLoopbackServer: @unchecked Sendable {
    // `socketFD` is written once in init; `stopped` is guarded by `lock`.
    public let port: UInt16
    private let socketFD: Int32
    private let lock = NSLock()
    private var stopped = false

    public init(handler: @escaping @Sendable ([UInt8]) -> [UInt8]?) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        socketFD = fd
        port = UInt16(bigEndian: address.sin_port)
        let thread = Thread { [weak self] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while let self, !self.isStopped {
                var peer = sockaddr_storage()
                var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let count = buffer.withUnsafeMutableBytes { raw in
                    withUnsafeMutablePointer(to: &peer) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &peerLength)
                        }
                    }
                }
                if count < 0 { return }
                guard let reply = handler(Array(buffer[..<count])) else { continue }
                _ = reply.withUnsafeBytes { raw in
                    withUnsafePointer(to: &peer) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(fd, raw.baseAddress, raw.count, 0, $0, peerLength)
                        }
                    }
                }
            }
        }
        thread.start()
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    public func stop() {
        lock.withLock { stopped = true }
        shutdown(socketFD, Int32(SHUT_RDWR))
        Glibc.close(socketFD)
    }

    deinit { if !isStopped { stop() } }
}
