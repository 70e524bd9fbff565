import CartographCore

/// What a probe returned: a service description. `certain` is false for a tentative match.
public struct ProbeMatch: Sendable, Equatable, Codable {
    public var name: String
    public var product: String?
    public var version: String?
    public var extraInfo: String?
    public var cpe: [String] = []
    public var deviceType: String?
    public var osHints: [String] = []
    public var hostnames: [String] = []
    public var certain = true

    public init(name: String) { self.name = name }
}

/// One port's identification: the match (if any), the probe that made it, and what went wrong.
public struct PortIdentification: Sendable, Equatable {
    public var address: IPAddress
    public var port: UInt16
    public var proto: TransportProtocol
    public var match: ProbeMatch?
    /// The probe that produced `match`: the service's discovery method.
    public var method: String?
    /// Probes that failed here: errors, budgets, timeouts, each with the probe's file and line.
    public var errors: [String] = []
    /// Lines the probes logged.
    public var log: [String] = []
    /// Every connect, send and receive, when `ProbeSettings.trace` is on (`probes test`).
    public var trace: [String] = []
    /// Whether the port completed a TLS handshake during identification.
    public var tls = false

    /// A port's result before (or without) any probe: no match, only `errors`.
    public init(address: IPAddress, port: UInt16, proto: TransportProtocol, errors: [String] = []) {
        self.address = address
        self.port = port
        self.proto = proto
        self.errors = errors
    }
}

/// A port to identify.
public struct PortJob: Sendable, Hashable {
    public var address: IPAddress
    public var port: UInt16
    public var proto: TransportProtocol
    public var hostname: String?

    public init(address: IPAddress, port: UInt16, proto: TransportProtocol, hostname: String? = nil) {
        self.address = address
        self.port = port
        self.proto = proto
        self.hostname = hostname
    }
}

/// Limits and waits of the identification stage.
public struct ProbeSettings: Sendable, Codable {
    /// Wall-clock limit of one probe on one port.
    public var probeTimeoutMs = 8000
    /// How long the passive banner read listens for a service that speaks first. The pipeline
    /// does not wait for all of it: past the short silence it goes on, and a late greeting
    /// still counts.
    public var bannerWaitMs = 2000
    /// The shortest silence after which a port counts as silent: the banner read's silence is
    /// ten connect round trips but at least this. While the port stays silent, the waits of
    /// the probes that do not declare it end four such silences later, and those of the probes
    /// that declare it at `bannerWaitMs`, not at their own timeouts.
    public var silenceMs = 250
    /// A TCP port that would end unnamed without a word said gets one patient round (see
    /// `Pipeline.patientRound`): a banner read this long, and its declared probes with no cut.
    /// 6 s, the wait nmap gives a service to greet; 0 turns the round off. Never more than
    /// three quarters of `probeTimeoutMs`.
    public var patientWaitMs = 6000
    /// How long TLS detection waits for the handshake: a TLS server answers a ClientHello at
    /// once, while a silent plaintext service would hold it until the timeout (or the port's
    /// silence).
    public var tlsDetectMs = 2000
    /// Connections open at once to one host, over all its ports and probes
    /// (`performance.host_parallelism`); a connect past it waits for one to close.
    public var hostParallelism = 16
    /// Default timeout of a socket call that names none.
    public var socketTimeoutMs = 5000
    /// Lua instructions one probe may run on one port.
    public var instructionBudget = 50_000_000
    /// Bytes of Lua memory one probe may hold on one port (its own live allocations).
    public var memoryLimit = 256 << 20
    /// Ports identified at once by each worker.
    public var concurrency = 256
    /// Per-probe arguments from the profile.
    public var args: [String: [String: String]] = [:]
    /// Highest rarity tried on ports a probe does not declare (0-9, like nmap's intensity).
    public var intensity = 7
    /// Record every socket operation in `PortIdentification.trace`.
    public var trace = false

    public init() {}
}
