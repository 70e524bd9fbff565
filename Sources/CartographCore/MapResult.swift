import Foundation

/// Everything one request produced: a list of maps. This is the JSON report's top level.
public struct MapReport: Codable, Sendable, Equatable {
    public var maps: [MapResult]
    public init(maps: [MapResult]) { self.maps = maps }
}

/// One finished (or interrupted) map.
public struct MapResult: Codable, Sendable, Equatable {
    /// `running` is only ever seen in the store, for a map still in progress (or one whose
    /// process died: the store marks it `interrupted` once it sees the process is gone).
    public enum Status: String, Codable, Sendable, CaseIterable { case running, complete, interrupted, failed }

    /// The map's number in the store; nil when it was not stored.
    public var id: Int64?
    /// A name for people; the target unless `--title` gave one.
    public var title: String?
    public var target: String
    /// The network the map ran in: the same address in two networks is two hosts.
    public var network: String = "default"
    /// The scanner that ran the map (its host name unless configured) and the user who launched it.
    public var scanner: String?
    public var launchedBy: String?
    /// When the command that made the map began; `startedAt` is when the map's first stage did.
    public var launchedAt: Date?
    /// The asset group whose addresses this map holds, when it came from one.
    public var assetGroup: String?
    public var profile: String
    public var status: Status
    public var startedAt: Date
    public var finishedAt: Date
    /// Addresses the map covered after exclusions, as a decimal string (it can exceed 2^64).
    public var addressesScanned: String
    public var excludedAddresses: String
    public var hosts: [HostResult]
    /// Problems that did not stop the map (a probe that failed to load, a lookup that failed).
    public var warnings: [String]
    /// While the map runs (and after it was cut short): where its stages stand, so that a
    /// resumed map sends nothing twice. Nil once the map has ended.
    public var progress: MapProgress?

    public init(target: String, profile: String, status: Status, startedAt: Date, finishedAt: Date,
                addressesScanned: String, excludedAddresses: String, hosts: [HostResult], warnings: [String]) {
        self.target = target
        self.profile = profile
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.addressesScanned = addressesScanned
        self.excludedAddresses = excludedAddresses
        self.hosts = hosts
        self.warnings = warnings
    }
}

/// A name for a host and the method that found it (`dns-a`, `dns-ptr`, `target`, a probe name).
public struct Hostname: Codable, Sendable, Hashable {
    public var name: String
    public var source: String
    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}

/// A live host and what was found on it.
public struct HostResult: Codable, Sendable, Equatable {
    public var address: String
    public var hostnames: [Hostname]
    /// Every method that found the host live, e.g. `tcp-connect:80`; `assumed` when the sweep was off.
    public var discovery: [String]
    /// Open ports only; closed and filtered ones are counted in `closedPorts` and `filteredPorts`.
    public var services: [ServiceResult]
    public var closedPorts: Int
    public var filteredPorts: Int
    /// Domain maps: whether the address lies inside one of the domain's netblocks.
    public var inNetblock: Bool?
    /// True for an excluded address that DNS named: listed so users see why it appears, and
    /// never sent a packet.
    public var excluded: Bool?
    /// TTL (hop limit) of the first reply the sweep saw, when it saw packets: the initial TTL
    /// family and the hop count hint at the OS and the path.
    public var ttl: Int?
    /// How many hops away the host is: from a traceroute that reached it, else from its TTL.
    public var hops: Int?
    /// Hosts this one forwarded probes towards: it was a traceroute hop. Routers found that way are
    /// listed even when they were not targets (discovery method `traceroute`).
    public var forwards: [String]?
    /// What kind of thing the host is: one of `DeviceType`'s words, with a confidence (0-100)
    /// and the evidence behind it (`http on 80/tcp`, `forwards to 198.18.1.2 (hop 1)`).
    public var deviceType: String?
    public var deviceTypeConfidence: Int?
    public var deviceTypeEvidence: [String]?
    /// The operating system family (`Linux`, `Windows`, `BSD`, `Cisco IOS`, …), likewise.
    public var os: String?
    public var osConfidence: Int?
    public var osEvidence: [String]?
    /// Never seen before in this network by any stored map.
    public var new: Bool?
    /// The inventory approves hosts for this map's domain (or the None domain) and this is not one.
    public var rogue: Bool?

    /// A router a traceroute found on the way to the targets, not one of the map's own hosts:
    /// it is listed, but not counted as found, approved or rogue.
    public var isOnTheWay: Bool { discovery == ["traceroute"] }

    public init(address: String, hostnames: [Hostname] = [], discovery: [String] = [], services: [ServiceResult] = [],
                closedPorts: Int = 0, filteredPorts: Int = 0) {
        self.address = address
        self.hostnames = hostnames
        self.discovery = discovery
        self.services = services
        self.closedPorts = closedPorts
        self.filteredPorts = filteredPorts
    }
}

/// An open port and, when a probe identified it, what runs there.
public struct ServiceResult: Codable, Sendable, Equatable {
    public var port: UInt16
    public var `protocol`: TransportProtocol
    public var state: String
    public var name: String?
    public var product: String?
    public var version: String?
    public var extraInfo: String?
    public var cpe: [String]?
    /// The probe that identified the service, or the port-discovery method when none did.
    public var method: String
    /// False when the probe's match was tentative.
    public var certain: Bool?
    /// What the probe said the device is (`router`, `printer`, …), when it could tell.
    public var deviceType: String?
    /// Operating system hints from the service (`Debian`, `Linux 6.1`, …).
    public var os: [String]?
    /// True when the service spoke TLS (`https`, and `tls` for other TLS services).
    public var tls: Bool?
    /// Why identification failed on this port, when a probe erred or timed out.
    public var probeErrors: [String]?

    public init(port: UInt16, protocol: TransportProtocol, state: String = "open", method: String) {
        self.port = port
        self.protocol = `protocol`
        self.state = state
        self.method = method
    }
}

extension MapReport {
    /// The encoder every JSON consumer of ours uses: snake_case keys, ISO 8601 times, sorted keys.
    public static func jsonEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func jsonDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
