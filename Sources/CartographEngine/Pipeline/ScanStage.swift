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

    public func run(_ inbox: StageQueue<AddressSet>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) throws {
        // Units of scan work per host: the raw engine probes UDP ports itself.
        let perHost = ports.tcp.count + (engine.scansUDP ? ports.udp.count : 0)
        while let batch = inbox.take() {
            var hosts = AddressSet()
            for set in batch { hosts.formUnion(set) }
            meter.addWork(ProgressMeter.units(hosts.count, times: perHost))
            try engine.scan(hosts: hosts, ports: ports, profile: profile, cancel: cancel, progress: meter) { emit(.port($0)) }
        }
        for line in engine.coverageWarnings() { emit(.warning(line)) }
    }
}
