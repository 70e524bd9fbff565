import CartographCore
import CartographNet

/// Device type and OS family of each host, from the Lua rules, once its ports are identified.
/// The classifier keeps its Lua state to this stage's thread, which is why the stage is Sendable.
public struct ClassifyStage: MapStage, @unchecked Sendable {
    let classifier: any HostClassifying

    public init(classifier: any HostClassifying) { self.classifier = classifier }

    public var kind: ProgressMeter.Stage { .classification }

    public func run(_ inbox: StageQueue<HostResult>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) throws {
        while let hosts = inbox.take() {
            meter.addWork(hosts.count)
            // Off our link yet with no router in between: an interface of a neighbouring router.
            let neighbours = Set(hosts.filter { host in
                guard host.hops == 0, let address = IPAddress(host.address), !address.isLoopback else { return false }
                return !LocalLinks.isAttached(address)
            }.map(\.address))
            var warnings: [String] = []
            let classes = classifier.classify(hosts, neighbours: neighbours, warnings: &warnings)
            for line in warnings { emit(.warning(line)) }
            for (host, found) in zip(hosts, classes) {
                if let found { emit(.classified(host.address, found)) }
            }
            meter.advance(hosts.count)
        }
    }
}
