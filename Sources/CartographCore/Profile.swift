/// An option profile: every choice a map makes about what to send and how fast.
///
/// Keys missing from a profile file take the values below, so a profile states only what it
/// changes. `Profiles/default.yaml` spells every key out as the reference.
public struct Profile: Hashable, Sendable, Codable {
    public var name: String = "builtin"
    public var description: String = ""
    public var hostDiscovery = HostDiscovery()
    public var dns = DNSSettings()
    public var informationGathering = InformationGathering()
    public var probes = ProbeSelection()
    public var performance = Performance()

    public init() {}

    /// "Disable DNS traffic" means not one packet to or from port 53: with DNS off, port 53 is
    /// also dropped from the discovery and scan ports. Returns the profile and whether it changed.
    public func withoutDNSPort() -> (Profile, Bool) {
        guard !dns.enabled else { return (self, false) }
        var profile = self
        profile.hostDiscovery.tcpPorts.removeAll { $0 == 53 }
        profile.hostDiscovery.udpPorts.removeAll { $0 == 53 }
        profile.informationGathering.tcpPorts.removeAll { $0 == 53 }
        profile.informationGathering.udpPorts.removeAll { $0 == 53 }
        return (profile, profile != self)
    }

    /// How a map decides which addresses are live.
    public struct HostDiscovery: Hashable, Sendable, Codable {
        /// When false, every target address is treated as live.
        public var enabled = true
        public var methods: [DiscoveryMethod] = [.arp, .icmpEcho, .icmpTimestamp, .tcp]
        public var tcpPorts: [UInt16] = [80, 443, 22, 445, 3389, 8080, 21, 25, 53, 139, 3306, 8443]
        public var udpPorts: [UInt16] = []
        /// A short traceroute (UDP, hop limits 1-8) towards one live host per /24 or /64: the
        /// hops are routers, listed in the map even when they were not targets.
        public var traceroute = true

        enum CodingKeys: String, CodingKey { case enabled, methods, tcpPorts, udpPorts, traceroute }

        public init() {}

        /// Settings stored by an earlier version lack the keys added since; they get defaults.
        public init(from decoder: Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try values.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            methods = try values.decodeIfPresent([DiscoveryMethod].self, forKey: .methods) ?? methods
            tcpPorts = try PortListCoding.decode(values, .tcpPorts) ?? tcpPorts
            udpPorts = try PortListCoding.decode(values, .udpPorts) ?? udpPorts
            traceroute = try values.decodeIfPresent(Bool.self, forKey: .traceroute) ?? traceroute
        }

        public func encode(to encoder: Encoder) throws {
            var values = encoder.container(keyedBy: CodingKeys.self)
            try values.encode(enabled, forKey: .enabled)
            try values.encode(methods, forKey: .methods)
            try PortListCoding.encode(tcpPorts, &values, .tcpPorts)
            try PortListCoding.encode(udpPorts, &values, .udpPorts)
            try values.encode(traceroute, forKey: .traceroute)
        }
    }

    /// Ways of telling that an address is live.
    public enum DiscoveryMethod: String, Hashable, Sendable, Codable, CaseIterable {
        /// TCP to the discovery ports: a SYN with raw packets, a connect without; any answer
        /// (SYN-ACK or RST, accepted or refused) means live.
        case tcp
        /// ICMP echo request (raw packets only).
        case icmpEcho = "icmp-echo"
        /// ICMP timestamp request, IPv4 (raw packets only).
        case icmpTimestamp = "icmp-timestamp"
        /// TCP ACK to the discovery ports: a RST means live (raw packets only).
        case tcpACK = "tcp-ack"
        /// UDP to the UDP discovery ports: an answer or a port unreachable means live (raw packets only).
        case udp
        /// ARP request, on directly attached IPv4 segments only (raw packets only).
        case arp

        /// Whether the method needs raw packets.
        public var needsRawPackets: Bool { self != .tcp }
    }

    public struct DNSSettings: Hashable, Sendable, Codable {
        /// False means "disable DNS traffic": not one DNS packet leaves the scanner.
        public var enabled = true
        /// Look up the name of every live host.
        public var reverseLookups = true
        /// Servers to ask; empty means the system's (`/etc/resolv.conf`).
        public var servers: [IPAddress] = []
        /// Ask every authoritative server of a domain for a zone transfer (AXFR).
        public var zoneTransfer = true
        /// Guess host names under a domain from a word list.
        public var guessNames = false
        /// The word list for guessing; empty means the shipped `Profiles/wordlists/hostnames.txt`.
        public var wordlist = ""
    }

    /// Which ports of live hosts are scanned.
    public struct InformationGathering: Hashable, Sendable, Codable {
        /// Scan ports at all (false: a live host sweep only).
        public var portScan = true
        /// Which hosts are scanned and probed further.
        public var scope: GatheringScope = .all
        public var tcpPorts: [UInt16] = PortSpec.topPorts(1000, proto: .tcp).sorted()
        public var udpPorts: [UInt16] = []

        enum CodingKeys: String, CodingKey { case portScan, scope, tcpPorts, udpPorts }

        public init() {}

        public init(from decoder: Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            portScan = try values.decodeIfPresent(Bool.self, forKey: .portScan) ?? portScan
            scope = try values.decodeIfPresent(GatheringScope.self, forKey: .scope) ?? scope
            tcpPorts = try PortListCoding.decode(values, .tcpPorts) ?? tcpPorts
            udpPorts = try PortListCoding.decode(values, .udpPorts) ?? udpPorts
        }

        public func encode(to encoder: Encoder) throws {
            var values = encoder.container(keyedBy: CodingKeys.self)
            try values.encode(portScan, forKey: .portScan)
            try values.encode(scope, forKey: .scope)
            try PortListCoding.encode(tcpPorts, &values, .tcpPorts)
            try PortListCoding.encode(udpPorts, &values, .udpPorts)
        }
    }

    /// Which of a map's hosts get port discovery and identification.
    public enum GatheringScope: String, Hashable, Sendable, Codable, CaseIterable {
        /// Every host found.
        case all
        /// Hosts inside the inventory's registered netblocks.
        case registered
        /// Hosts inside the map's own netblocks (a domain's `[...]`, or the addresses given).
        case netblock
        /// None: DNS discovery only, not one packet to the hosts.
        case none
    }

    /// Which probes run on open ports, and their arguments.
    public struct ProbeSelection: Hashable, Sendable, Codable {
        /// False turns service identification off.
        public var enabled = true
        /// Probe names or categories; `all` selects every probe.
        public var include: [String] = ["default"]
        public var exclude: [String] = []
        /// Highest rarity (1-9) tried on ports a probe does not declare; like nmap's intensity.
        public var intensity = 7
        /// Per-probe arguments, handed to the probe's `run` as its `args` table.
        public var args: [String: [String: String]] = [:]
        /// Where each name of `include` and `exclude` was written (`file:line`), for the error
        /// when no probe has that name. Not part of the settings: not stored, not compared.
        public var origins: [String: String] = [:]

        // Every field but `origins`; a field added above belongs here, in == and in hash(into:)
        // (ProfileTests.probeOrigins counts them).
        enum CodingKeys: String, CodingKey { case enabled, include, exclude, intensity, args }

        public static func == (a: Self, b: Self) -> Bool {
            (a.enabled, a.include, a.exclude, a.intensity, a.args) == (b.enabled, b.include, b.exclude, b.intensity, b.args)
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(enabled)
            hasher.combine(include)
            hasher.combine(exclude)
            hasher.combine(intensity)
            hasher.combine(args)
        }
    }

    public struct Performance: Hashable, Sendable, Codable {
        /// Packets (raw engine) or connection attempts (connect engine) per second. 0: no limit,
        /// as fast as the path takes packets (the raw engine still backs off on loss), and only
        /// `concurrency` for connects. Nil (unset): 100,000 packets a second, no limit for connects.
        public var rate: Int?
        /// Hosts whose ports are scanned at once.
        public var parallelHosts = 64
        /// Connections in flight at once, across all hosts.
        public var concurrency = 512
        /// First connect timeout, before round-trip times are measured.
        public var initialRTTTimeoutMs = 1000
        public var minRTTTimeoutMs = 100
        public var maxRTTTimeoutMs = 3000
        /// Extra attempts for a port that did not answer.
        public var retries = 1
        /// Pause between two connection attempts to the same host.
        public var packetDelayMs = 0
        /// Wall-clock limit for one probe on one port.
        public var probeTimeoutMs = 8000
        /// Connections identification keeps open at once to one host, over all its ports.
        public var hostParallelism = 16

        public init() {}

        /// Settings stored by an earlier version lack the keys added since; they get defaults.
        public init(from decoder: Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            rate = try values.decodeIfPresent(Int.self, forKey: .rate) ?? rate
            parallelHosts = try values.decodeIfPresent(Int.self, forKey: .parallelHosts) ?? parallelHosts
            concurrency = try values.decodeIfPresent(Int.self, forKey: .concurrency) ?? concurrency
            initialRTTTimeoutMs = try values.decodeIfPresent(Int.self, forKey: .initialRTTTimeoutMs) ?? initialRTTTimeoutMs
            minRTTTimeoutMs = try values.decodeIfPresent(Int.self, forKey: .minRTTTimeoutMs) ?? minRTTTimeoutMs
            maxRTTTimeoutMs = try values.decodeIfPresent(Int.self, forKey: .maxRTTTimeoutMs) ?? maxRTTTimeoutMs
            retries = try values.decodeIfPresent(Int.self, forKey: .retries) ?? retries
            packetDelayMs = try values.decodeIfPresent(Int.self, forKey: .packetDelayMs) ?? packetDelayMs
            probeTimeoutMs = try values.decodeIfPresent(Int.self, forKey: .probeTimeoutMs) ?? probeTimeoutMs
            hostParallelism = try values.decodeIfPresent(Int.self, forKey: .hostParallelism) ?? hostParallelism
        }
    }
}

/// Port lists as stored settings and queued map requests write them: a JSON array of numbers,
/// or, for a list longer than `compactAbove`, a string of runs in the list's own order
/// ("1-1024,8080,8443"). `-p-` is then 7 bytes instead of about 380 KB, and encoding it costs
/// nothing beside the map (it took about 50 ms of a full-port map). Both forms are read back.
enum PortListCoding {
    static let compactAbove = 64

    static func encode<Key: CodingKey>(_ ports: [UInt16], _ values: inout KeyedEncodingContainer<Key>, _ key: Key) throws {
        guard ports.count > compactAbove else { return try values.encode(ports, forKey: key) }
        try values.encode(runs(ports), forKey: key)
    }

    static func decode<Key: CodingKey>(_ values: KeyedDecodingContainer<Key>, _ key: Key) throws -> [UInt16]? {
        guard values.contains(key) else { return nil }
        if let text = try? values.decode(String.self, forKey: key) {
            guard let ports = parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: values, debugDescription: "not a list of port runs: \(text.prefix(40))")
            }
            return ports
        }
        return try values.decode([UInt16].self, forKey: key)
    }

    /// "a-b" for each run of consecutive ascending ports, "a" for a port alone, comma-separated.
    static func runs(_ ports: [UInt16]) -> String {
        var parts: [String] = []
        var index = 0
        while index < ports.count {
            var end = index
            while end + 1 < ports.count, ports[end] != UInt16.max, ports[end + 1] == ports[end] + 1 { end += 1 }
            parts.append(end == index ? String(ports[index]) : "\(ports[index])-\(ports[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }

    static func parse(_ text: String) -> [UInt16]? {
        var ports: [UInt16] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { UInt16($0) }
            guard let low = bounds.first ?? nil, let high = bounds.last ?? nil, low <= high else { return nil }
            ports += low...high
        }
        return ports
    }
}
