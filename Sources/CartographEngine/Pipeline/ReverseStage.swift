import CartographCore
import CartographDNS

/// Reverse lookups (PTR) of hosts as they are found, and of a domain's netblocks, alongside the
/// scan. The DNS client is used by this stage's thread alone once the map's forward lookups are
/// done, which is why the stage is Sendable.
public struct ReverseStage: MapStage, @unchecked Sendable {
    /// One address to name; `lists` when a name found for it makes the address part of the map
    /// even if it never answers (a domain's netblocks).
    public struct Work: Sendable {
        public var address: IPAddress
        public var lists: Bool
        public init(address: IPAddress, lists: Bool) {
            self.address = address
            self.lists = lists
        }
    }

    let client: DNSClient
    let cancel: CancellationFlag

    public init(client: DNSClient, cancel: CancellationFlag) {
        self.client = client
        self.cancel = cancel
    }

    public var kind: ProgressMeter.Stage { .names }

    public func run(_ inbox: StageQueue<Work>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) throws {
        while let batch = inbox.take(limit: 4096) {
            meter.addWork(batch.count)
            let lists = Set(batch.filter(\.lists).map(\.address))
            for (address, name) in ReverseLookup.run(batch.map(\.address), client: client, cancel: cancel) {
                emit(.name(address, Hostname(name: name, source: "dns-ptr"), found: lists.contains(address)))
            }
            meter.advance(batch.count)
        }
    }
}

/// PTR lookups of many addresses at once; returns the names found.
enum ReverseLookup {
    static func run(_ addresses: [IPAddress], client: DNSClient, cancel: CancellationFlag) -> [(IPAddress, String)] {
        let questions = addresses.map { DNSQuestion(DNSMessage.reverseName($0), .ptr) }
        let responses = client.resolve(questions, cancel: cancel)
        var found: [(IPAddress, String)] = []
        for (address, question) in zip(addresses, questions) {
            for record in responses[question]?.answers ?? [] {
                if case .name(let name) = record.data { found.append((address, name)) }
            }
        }
        return found
    }
}
