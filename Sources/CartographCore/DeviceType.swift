/// The device types a host can be given. The rules that choose one live in Lua
/// (`Probes/classify/host.lua`); Swift only checks that a rule's answer is one of these words.
public enum DeviceType: String, CaseIterable, Sendable, Codable {
    case router
    case firewall
    case `switch`
    case loadBalancer = "load balancer"
    case printer
    case webServer = "web server"
    case mailServer = "mail server"
    case dnsServer = "DNS server"
    case databaseServer = "database server"
    case fileServer = "file server"
    case iot = "IoT/embedded"
    case workstation
    case unknown
}

/// A host's classification as the rules returned it.
public struct HostClassification: Sendable, Equatable {
    public var deviceType: DeviceType
    public var deviceTypeConfidence: Int
    public var deviceTypeEvidence: [String]
    public var os: String?
    public var osConfidence: Int
    public var osEvidence: [String]

    public init(deviceType: DeviceType = .unknown, deviceTypeConfidence: Int = 0, deviceTypeEvidence: [String] = [],
                os: String? = nil, osConfidence: Int = 0, osEvidence: [String] = []) {
        self.deviceType = deviceType
        self.deviceTypeConfidence = deviceTypeConfidence
        self.deviceTypeEvidence = deviceTypeEvidence
        self.os = os
        self.osConfidence = osConfidence
        self.osEvidence = osEvidence
    }
}

/// Classifies hosts from what the map found about them (services, TTL, hops, forwarding).
public protocol HostClassifying {
    /// One classification per host, in order; problems (a broken rules file, a rule that failed
    /// on one host) go to `warnings` with their file:line, and never stop the map. `neighbours`
    /// are the addresses that answered with no router in between though they are not on any
    /// link of ours: interfaces of a neighbouring router.
    func classify(_ hosts: [HostResult], neighbours: Set<String>, warnings: inout [String]) -> [HostClassification?]
    /// Called when a map starts, long before its hosts are classified: a classifier may start
    /// what its first `classify` will need meanwhile.
    func prepare()
    /// Called when the map ends, whichever way: what `prepare` started and no call used ends.
    func release()
}

public extension HostClassifying {
    func prepare() {}
    func release() {}
}
