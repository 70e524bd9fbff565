import CartographCore
import CartographProbes

/// Service identification: each open port is handed to the probe workers the moment the scan
/// finds it, and its result is reported as it ends. A map cut short marks the ports still
/// running as not identified.
public struct IdentifyStage: MapStage {
    let identifier: ServiceIdentifier
    let cancel: CancellationFlag

    public init(identifier: ServiceIdentifier, cancel: CancellationFlag) {
        self.identifier = identifier
        self.cancel = cancel
    }

    public var kind: ProgressMeter.Stage { .identification }

    public func run(_ inbox: StageQueue<PortJob>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) throws {
        let supervisor = identifier.supervisor { _, result in
            emit(.identified(result))
            meter.advance()
        }
        supervisor.prewarm()
        var submitted: [Int: PortJob] = [:]
        while let batch = inbox.take() {
            meter.addWork(batch.count)
            for job in batch { submitted[identifier.submit(job, to: supervisor)] = job }
        }
        try supervisor.wait(cancel: cancel)
        for ticket in supervisor.unfinished.sorted() {
            guard let job = submitted[ticket] else { continue }
            emit(.identified(PortIdentification(address: job.address, port: job.port, proto: job.proto,
                                                errors: ["not identified: the map was interrupted"])))
        }
    }
}

/// The UDP ports of `selection` that a selected UDP probe declares (it has a payload for them).
/// The others are left out, with a warning.
func udpCandidates(selection: PortSelection, probes: [ProbeDefinition], warnings: inout [String]) -> [UInt16] {
    guard !selection.udp.isEmpty else { return [] }
    let payloadPorts = Set(probes.filter { $0.proto == .udp }.flatMap(\.ports))
    let candidates = selection.udp.filter(payloadPorts.contains)
    let skipped = selection.udp.count - candidates.count
    if skipped > 0 {
        warnings.append("\(skipped) UDP port(s) were not scanned: without raw packets, only ports a UDP probe has a payload for can be tried")
    }
    return candidates
}
