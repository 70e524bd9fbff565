import Foundation

/// What a finished (or failed) map is worth telling someone: the end-of-map summary printed on
/// stderr, and the body of e-mail and webhook notifications.
public struct MapCompletion: Codable, Sendable, Equatable {
    public var mapId: Int64?
    public var title: String
    public var target: String
    public var network: String
    public var status: MapResult.Status
    public var profile: String
    public var scanner: String
    public var launchedBy: String
    public var startedAt: Date
    public var durationSeconds: Double
    public var hostsFound: Int
    public var openPorts: Int
    public var servicesIdentified: Int
    /// Against the previous map of the same target in the same network, when there is one.
    public var trend: Trend?
    /// Where the saved report is: the store path and the command that prints the map, or a link.
    public var report: String?
    /// Why the map failed, when it did.
    public var error: String?

    public struct Trend: Codable, Sendable, Equatable {
        public var previousMapId: Int64?
        public var hostsDelta: Int
        public var openPortsDelta: Int
        public var newHosts: Int
        public var vanishedHosts: Int
        public var openedPorts: Int
        public var closedPorts: Int
        public var changedServices: Int
        /// Hosts and ports the previous map found that this one did not scan: neither gone nor closed.
        public var notScanned: Int
        /// The two maps scanned different port lists or profiles.
        public var differs: Bool

        public init(previousMapId: Int64?, hostsDelta: Int, openPortsDelta: Int, newHosts: Int, vanishedHosts: Int,
                    openedPorts: Int, closedPorts: Int, changedServices: Int, notScanned: Int = 0, differs: Bool = false) {
            self.notScanned = notScanned
            self.differs = differs
            self.previousMapId = previousMapId
            self.hostsDelta = hostsDelta
            self.openPortsDelta = openPortsDelta
            self.newHosts = newHosts
            self.vanishedHosts = vanishedHosts
            self.openedPorts = openedPorts
            self.closedPorts = closedPorts
            self.changedServices = changedServices
        }

        /// `+2 hosts, -1 open port (1 new host, 1 vanished, 2 ports opened, 3 closed) since map 7`.
        public var phrase: String {
            func signed(_ n: Int, _ word: String) -> String {
                "\(n >= 0 ? "+" : "")\(n) \(word)\(abs(n) == 1 ? "" : "s")"
            }
            var parts: [String] = []
            if newHosts > 0 { parts.append("\(newHosts) new host\(newHosts == 1 ? "" : "s")") }
            if vanishedHosts > 0 { parts.append("\(vanishedHosts) vanished") }
            if openedPorts > 0 { parts.append("\(openedPorts) port\(openedPorts == 1 ? "" : "s") opened") }
            if closedPorts > 0 { parts.append("\(closedPorts) closed") }
            if changedServices > 0 { parts.append("\(changedServices) service\(changedServices == 1 ? "" : "s") changed") }
            if notScanned > 0 { parts.append("\(notScanned) not scanned this time") }
            let detail = parts.isEmpty ? "no changes" : parts.joined(separator: ", ")
            return "\(signed(hostsDelta, "host")), \(signed(openPortsDelta, "open port")) (\(detail))"
                + (previousMapId.map { " since map \($0)" } ?? "")
                + (differs ? "; the maps scanned different ports or profiles (cartograph maps diff)" : "")
        }
    }

    public init(map: MapResult, durationSeconds: Double? = nil) {
        mapId = map.id
        title = map.title ?? map.target
        target = map.target
        network = map.network
        status = map.status
        profile = map.profile
        scanner = map.scanner ?? ""
        launchedBy = map.launchedBy ?? ""
        startedAt = map.startedAt
        self.durationSeconds = durationSeconds ?? map.finishedAt.timeIntervalSince(map.startedAt)
        // Routers a traceroute found on the way are not among the hosts the map looked for.
        let live = map.hosts.filter { $0.excluded != true && !$0.isOnTheWay }
        hostsFound = live.count
        openPorts = live.reduce(0) { $0 + $1.services.count }
        servicesIdentified = live.reduce(0) { $0 + $1.services.filter { $0.name != nil }.count }
    }
}
