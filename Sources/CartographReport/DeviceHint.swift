import CartographCore

/// A guess at what kind of device a host is, for grouping and coloring hosts in reports.
///
/// A stand-in until hosts carry a device type of their own: it reads only what the services say.
public enum DeviceHint {
    /// The device type a probe reported on one of the host's services (the first that did);
    /// otherwise a role read from the service names; otherwise `unknown`.
    public static func deviceType(of host: HostResult) -> String {
        if let reported = host.services.lazy.compactMap(\.deviceType).first(where: { !$0.isEmpty }) {
            return reported
        }
        let names = Set(host.services.compactMap { $0.name?.lowercased() })
        // The most specific role wins: web servers come last because routers, printers, NAS boxes
        // and mail servers carry a web interface too. ssh alone tells nothing.
        for (role, services) in roles where !names.isDisjoint(with: services) { return role }
        return unknown
    }

    /// The type of a host nothing could be told about.
    public static let unknown = "unknown"

    /// Roles in priority order, with the service names that suggest each.
    static let roles: [(role: String, services: Set<String>)] = [
        ("mail server", ["smtp", "smtps", "submission", "imap", "imaps", "pop3", "pop3s"]),
        ("DNS server", ["dns", "domain"]),
        ("database server", ["mysql", "postgresql", "redis", "mongodb", "memcached", "elasticsearch"]),
        ("file server", ["ftp", "smb", "microsoft-ds", "nfs"]),
        ("IoT/embedded", ["mqtt", "rtsp", "telnet"]),
        ("web server", ["http", "https"]),
    ]
}
