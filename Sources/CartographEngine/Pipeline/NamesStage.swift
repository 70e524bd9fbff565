import CartographCore
import CartographDNS

/// A domain map's forward lookups, before anything else runs (they decide which addresses the
/// map has): the domain's A and AAAA records, its name servers' and mail exchangers', zone
/// transfers and guessed names; /etc/hosts when DNS has none. The DNS client is used by this
/// stage's thread alone, which is why the stage is Sendable.
public struct NamesStage: MapStage, @unchecked Sendable {
    let client: DNSClient
    let settings: Profile.DNSSettings
    let words: [String]
    let cancel: CancellationFlag

    public init(client: DNSClient, settings: Profile.DNSSettings, words: [String], cancel: CancellationFlag) {
        self.client = client
        self.settings = settings
        self.words = words
        self.cancel = cancel
    }

    public var kind: ProgressMeter.Stage { .names }

    public func run(_ inbox: StageQueue<String>, meter: ProgressMeter, emit: @escaping @Sendable (MapEvent) -> Void) throws {
        while let domains = inbox.take() {
            for domain in domains {
                var warnings: [String] = []
                var found = DomainLookup.run(domain, client: client, profile: settings, words: words, cancel: cancel, warnings: &warnings)
                if found.isEmpty, case .success(let local)? = SystemResolver.addresses(of: domain, cancel: cancel) {
                    // /etc/hosts and the like, which DNS does not see.
                    found = local.map { ($0, Hostname(name: domain, source: "dns-a")) }
                }
                for line in warnings { emit(.warning(line)) }
                for (address, hostname) in found { emit(.name(address, hostname, found: true)) }
            }
        }
    }
}

/// Forward lookups of a domain: its A and AAAA records (`dns-a`), and the addresses of its name
/// servers (`dns-ns`) and mail exchangers (`dns-mx`), named after those hosts.
enum DomainLookup {
    static func run(_ domain: String, client: DNSClient, profile: Profile.DNSSettings, words: [String],
                    cancel: CancellationFlag, warnings: inout [String]) -> [(IPAddress, Hostname)] {
        var found: [(IPAddress, Hostname)] = []
        func add(_ response: DNSResponse?, name: String, source: String) {
            for record in response?.answers ?? [] {
                if case .address(let address) = record.data,
                   !found.contains(where: { $0.0 == address && $0.1.name == name }) {
                    found.append((address, Hostname(name: name, source: source)))
                }
            }
        }
        let first = client.resolve([DNSQuestion(domain, .a), DNSQuestion(domain, .aaaa), DNSQuestion(domain, .ns),
                                    DNSQuestion(domain, .mx)], cancel: cancel)
        add(first[DNSQuestion(domain, .a)], name: domain, source: "dns-a")
        add(first[DNSQuestion(domain, .aaaa)], name: domain, source: "dns-a")
        var servers: [(String, String)] = []
        for record in first[DNSQuestion(domain, .ns)]?.answers ?? [] {
            if case .name(let host) = record.data { servers.append((host, "dns-ns")) }
        }
        for record in first[DNSQuestion(domain, .mx)]?.answers ?? [] {
            if case .mx(_, let host) = record.data, !host.isEmpty { servers.append((host, "dns-mx")) }
        }
        let second = client.resolve(servers.flatMap { [DNSQuestion($0.0, .a), DNSQuestion($0.0, .aaaa)] }, cancel: cancel)
        for (host, source) in servers {
            add(second[DNSQuestion(host, .a)], name: host, source: source)
            add(second[DNSQuestion(host, .aaaa)], name: host, source: source)
        }

        // Zone transfer from every authoritative server; a refusal is noted, not an error.
        if profile.zoneTransfer {
            let nameServers = servers.filter { $0.1 == "dns-ns" }.map(\.0)
            var asked = Set<IPAddress>()
            for host in nameServers {
                for record in (second[DNSQuestion(host, .a)]?.answers ?? []) + (second[DNSQuestion(host, .aaaa)]?.answers ?? []) {
                    guard case .address(let server) = record.data, asked.insert(server).inserted else { continue }
                    switch client.transfer(zone: domain, from: server, cancel: cancel) {
                    case .records(let records):
                        for record in records {
                            if case .address(let address) = record.data,
                               !found.contains(where: { $0.0 == address && $0.1.name == record.name }) {
                                found.append((address, Hostname(name: record.name, source: "dns-axfr")))
                            }
                        }
                    case .refused(let rcode):
                        warnings.append("zone transfer of \(domain) from \(host) (\(server)) refused (rcode \(rcode))")
                    case .failed(let reason):
                        warnings.append("zone transfer of \(domain) from \(host) (\(server)) failed: \(reason)")
                    }
                }
            }
        }

        // Name guessing from the word list.
        if profile.guessNames && !words.isEmpty {
            let names = words.map { "\($0).\(domain)" }
            let guesses = client.resolve(names.flatMap { [DNSQuestion($0, .a), DNSQuestion($0, .aaaa)] }, cancel: cancel)
            for name in names {
                for question in [DNSQuestion(name, .a), DNSQuestion(name, .aaaa)] {
                    for record in guesses[question]?.answers ?? [] {
                        if case .address(let address) = record.data, !found.contains(where: { $0.0 == address && $0.1.name == name }) {
                            found.append((address, Hostname(name: name, source: "dns-guess")))
                        }
                    }
                }
            }
        }
        return found
    }
}

