import CartographCore

/// Port discovery: hosts arrive as the sweep finds them, and each batch of what has arrived is
/// scanned at once while more arrive, so the scan of the first live host does not wait for the
/// sweep's last address. Without a sweep the whole target comes as one batch. The engine is used
/// by this stage's thread alone, which is why the stage is Sendable.
public struct ScanStage: MapStage, @unchecked Sendable {
    let engine: any PortScanEngine
    let ports: PortSelection
    let profile: Profile
    let cancel: CancellationFlag

    public init(engine: any PortScanEngine, ports: PortSelection, profile: Profile, cancel: CancellationFlag) {
        self.engine = engine
        self.ports = ports
        self.profile = profile
        self.cancel = cancel
    }

    public var kind: ProgressMeter.Stage { .scan }

    /// Closed and filtered ports per event.
    static let batch = 2048

    public func run(_ inbox: StageQueue<AddressSet>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) throws {
        // Units of scan work per host: the raw engine probes UDP ports itself.
        let perHost = ports.tcp.count + (engine.scansUDP ? ports.udp.count : 0)
        defer { engine.release() }
        while let batch = inbox.take() {
            var hosts = AddressSet()
            for set in batch { hosts.formUnion(set) }
            meter.addWork(ProgressMeter.units(hosts.count, times: perHost))
            // Open ports go on at once (identification waits for them); closed and filtered
            // ones in batches, so that a full-port scan is not one event a packet.
            var quiet: [PortObservation] = []
            defer { if !quiet.isEmpty { emit(.ports(quiet)) } }
            let complete = try engine.scan(hosts: hosts, ports: ports, profile: profile, cancel: cancel, progress: meter) { observation in
                if observation.state == .open {
                    emit(.port(observation))
                    return
                }
                quiet.append(observation)
                if quiet.count >= Self.batch {
                    emit(.ports(quiet))
                    quiet.removeAll(keepingCapacity: true)
                }
            }
            if !quiet.isEmpty { emit(.ports(quiet)) }
            quiet.removeAll()
            // Every port of these hosts has its outcome (for the checkpoints).
            if complete { emit(.scanned(hosts)) }
        }
        for line in engine.coverageWarnings() { emit(.warning(line)) }
    }
}
