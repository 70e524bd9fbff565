import CartographCore
import Glibc

/// The networks of this host's own interfaces (address and netmask of each), to tell whether an
/// address is on one of our links.
public enum LocalLinks {
    public static func isAttached(_ address: IPAddress) -> Bool {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return false }
        defer { freeifaddrs(list) }
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let addr = entry.pointee.ifa_addr, let mask = entry.pointee.ifa_netmask,
                  let ours = Self.address(addr), let netmask = Self.address(mask), ours.family == address.family else { continue }
            if ours.value & netmask.value == address.value & netmask.value { return true }
        }
        return false
    }

    static func address(_ pointer: UnsafeMutablePointer<sockaddr>) -> IPAddress? {
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { .v4(UInt32(bigEndian: $0.pointee.sin_addr.s_addr)) }
        case AF_INET6:
            return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                withUnsafeBytes(of: sin6.pointee.sin6_addr) { IPAddress(bytes: ArraySlice($0)) }
            }
        default:
            return nil
        }
    }
}
