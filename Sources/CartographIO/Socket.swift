import CartographCore
import Glibc

/// A failed system call, with its errno kept for callers that branch on it.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public let operation: String
    public let errno: Int32
    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }
    public var description: String { "\(operation): \(String(cString: strerror(errno)))" }
}

/// What a non-blocking connect did at once.
public enum ConnectStart {
    /// Handshake under way: wait for the descriptor to become writable, then read `SO_ERROR`.
    case inProgress(Int32)
    /// Connected at once (loopback can do this).
    case connected(Int32)
    /// Failed at once with this errno; no descriptor is left open.
    case failed(Int32)
}

/// Thin wrappers over the socket calls the scanners and the probe runtime share.
public enum Sockets {
    public static func socketAddress(_ address: IPAddress, port: UInt16) -> (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        switch address {
        case .v4(let value):
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                sin.pointee.sin_family = sa_family_t(AF_INET)
                sin.pointee.sin_port = port.bigEndian
                sin.pointee.sin_addr.s_addr = value.bigEndian
            }
            return (storage, socklen_t(MemoryLayout<sockaddr_in>.size))
        case .v6(let value):
            withUnsafeMutableBytes(of: &storage) { raw in
                let sin6 = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                sin6.pointee.sin6_family = sa_family_t(AF_INET6)
                sin6.pointee.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &sin6.pointee.sin6_addr) { bytes in
                    for i in 0..<16 { bytes[i] = UInt8(truncatingIfNeeded: value >> (8 * (15 - i))) }
                }
            }
            return (storage, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
    }

    /// Starts a non-blocking TCP or UDP connect. For TCP, a RST is wanted on close (SO_LINGER 0)
    /// so scanned hosts are not left with half-open connections in TIME_WAIT.
    public static func startConnect(to address: IPAddress, port: UInt16, type: TransportProtocol = .tcp) -> ConnectStart {
        let family = address.family == .v4 ? AF_INET : AF_INET6
        let kind = (type == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue))
        let fd = socket(family, kind | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failed(errno) }
        if type == .tcp {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var (storage, length) = socketAddress(address, port: port)
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        if result == 0 { return .connected(fd) }
        let code = errno
        if code == EINPROGRESS { return .inProgress(fd) }
        close(fd)
        return .failed(code)
    }

    /// Dissolves a UDP socket's association (connect to AF_UNSPEC): it keeps its local port and
    /// then receives from anyone.
    public static func disconnect(_ fd: Int32) -> Bool {
        var address = sockaddr()
        address.sa_family = sa_family_t(AF_UNSPEC)
        return connect(fd, &address, socklen_t(MemoryLayout<sockaddr>.size)) == 0
    }

    /// Connects a UDP socket (again) to one peer; true on success.
    public static func connectUDP(_ fd: Int32, to address: IPAddress, port: UInt16) -> Bool {
        var (storage, length) = socketAddress(address, port: port)
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        } == 0
    }

    /// Receives one datagram without blocking, with its source; nil (errno set) when none is there.
    public static func receiveFrom(_ fd: Int32, max: Int = 65536) -> ([UInt8], IPAddress, UInt16)? {
        var buffer = [UInt8](repeating: 0, count: max)
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = buffer.withUnsafeMutableBytes { bytes in
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, bytes.baseAddress, max, Int32(MSG_DONTWAIT), $0, &length)
                }
            }
        }
        guard count >= 0 else { return nil }
        buffer.removeSubrange(count...)
        guard let (address, port) = endpoint(storage) else { return (buffer, .v4(0), 0) }
        return (buffer, address, port)
    }

    /// The port a connected socket's peer has.
    public static func peerPort(_ fd: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        return status == 0 ? endpoint(storage)?.1 : nil
    }

    /// Sends one datagram to a peer (on a socket that is not connected); bytes sent or nil.
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, to address: IPAddress, port: UInt16) -> Int? {
        var (storage, length) = socketAddress(address, port: port)
        let sent = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, length)
            }
        }
        return sent >= 0 ? sent : nil
    }

    private static func endpoint(_ storage: sockaddr_storage) -> (IPAddress, UInt16)? {
        let family = Int32(storage.ss_family)
        var storage = storage
        return withUnsafeBytes(of: &storage) { raw -> (IPAddress, UInt16)? in
            switch family {
            case AF_INET:
                let sin = raw.load(as: sockaddr_in.self)
                return (.v4(UInt32(bigEndian: sin.sin_addr.s_addr)), UInt16(bigEndian: sin.sin_port))
            case AF_INET6:
                let sin6 = raw.load(as: sockaddr_in6.self)
                var value: UInt128 = 0
                withUnsafeBytes(of: sin6.sin6_addr) { for byte in $0 { value = value << 8 | UInt128(byte) } }
                return (.v6(value), UInt16(bigEndian: sin6.sin6_port))
            default:
                return nil
            }
        }
    }

    /// The outcome of a connect once the descriptor is writable: 0 or an errno.
    public static func pendingError(_ fd: Int32) -> Int32 {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length) != 0 { return errno }
        return code
    }

    /// Raises the soft open-file limit to the hard limit and returns the limit now in force.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Sends what it can without blocking; returns bytes sent, or nil with errno set by the call.
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int? {
        let sent = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        return sent >= 0 ? sent : nil
    }

    /// Receives what is there without blocking: bytes (empty at end of stream), or nil with errno set.
    public static func receive(_ fd: Int32, max: Int = 65536) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, Int32(MSG_DONTWAIT)) }
        guard count >= 0 else { return nil }
        buffer.removeSubrange(count...)
        return buffer
    }
}
