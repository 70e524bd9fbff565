import CartographCore
import CartographIO
import Foundation

/// Forward lookups through the C library's resolver, for names DNS does not know (`/etc/hosts`).
/// Callers must not use it when the profile disables DNS traffic.
public enum SystemResolver {
    /// The A and AAAA addresses of `name`, or an error text from the resolver; nil when the map
    /// was cancelled first. getaddrinfo cannot be interrupted (a resolver that never answers
    /// holds it for its whole timeout), so it runs off the caller's thread.
    public static func addresses(of name: String, cancel: CancellationFlag) -> Result<[IPAddress], ResolveError>? {
        OffThread.run(cancel: cancel) { addresses(of: name) }
    }

    /// The A and AAAA addresses of `name`, or an error text from the resolver (blocking).
    public static func addresses(of name: String) -> Result<[IPAddress], ResolveError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        guard status == 0 else {
            return .failure(ResolveError(name: name, message: String(cString: gai_strerror(status))))
        }
        defer { freeaddrinfo(list) }
        var found: [IPAddress] = []
        var cursor = list
        while let entry = cursor {
            if let address = entry.pointee.ai_addr.flatMap(ipAddress(of:)), !found.contains(address) {
                found.append(address)
            }
            cursor = entry.pointee.ai_next
        }
        return .success(found)
    }

    static func ipAddress(of sa: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { .v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr)) }
        case AF_INET6:
            return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var bytes = sin6.pointee.sin6_addr
                let value = withUnsafeBytes(of: &bytes) { $0.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }
                return .v6(value)
            }
        default:
            return nil
        }
    }
}

/// A name that does not resolve.
public struct ResolveError: Error, CustomStringConvertible {
    public let name: String
    public let message: String
    public var description: String { "cannot resolve \"\(name)\": \(message)" }
}
