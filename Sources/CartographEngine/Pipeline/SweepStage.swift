import CartographCore

/// The live host sweep: each address set it is given goes through the sweep engine, and every
/// live host is reported the moment it answers, so that it can be scanned while the sweep goes
/// on. The map gives the stage its target as one set, which the cursor's position refers to.
/// The engine is used by this stage's thread alone (its coverage and timing readers are
/// thread-safe), which is why the stage is Sendable.
public struct SweepStage: MapStage, @unchecked Sendable {
    let engine: any HostSweepEngine
    let profile: Profile
    let cancel: CancellationFlag
    /// The sweep's position, read into checkpoints; a resumed map's begins where it stopped.
    let cursor: SweepCursor

    public init(engine: any HostSweepEngine, profile: Profile, cancel: CancellationFlag, cursor: SweepCursor = SweepCursor()) {
        self.engine = engine
        self.profile = profile
        self.cancel = cancel
        self.cursor = cursor
    }

    public var kind: ProgressMeter.Stage { .sweep }

    public func run(_ inbox: StageQueue<AddressSet>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) throws {
        defer { engine.sweepEnded() }
        while let batch = inbox.take() {
            for addresses in batch where !cancel.isCancelled {
                try engine.sweep(addresses, profile: profile, cancel: cancel, progress: meter, cursor: cursor) { address, method, ttl in
                    emit(.live(address, method: method, ttl: ttl))
                }
            }
        }
        for line in engine.coverageWarnings() { emit(.warning(line)) }
    }
}
