extension Profile {
    /// Parses a profile file's text. `file` names the file in errors; `name` is used when the
    /// file has no `name` key (the loader passes the file's base name).
    public static func parse(yaml text: String, file: String, name: String) throws(ConfigError) -> Profile {
        let root = try ConfigReader.document(text, file: file)
        try root.checkKeys(["name", "description", "host_discovery", "dns", "information_gathering", "probes", "performance"])
        var profile = Profile()
        profile.name = try root.string("name") ?? name
        profile.description = try root.string("description") ?? ""

        if let section = try root.object("host_discovery") {
            try section.checkKeys(["enabled", "methods", "tcp_ports", "udp_ports", "traceroute"])
            var discovery = profile.hostDiscovery
            discovery.enabled = try section.bool("enabled") ?? discovery.enabled
            discovery.traceroute = try section.bool("traceroute") ?? discovery.traceroute
            if let methods = try section.strings("methods") {
                discovery.methods = []
                for method in methods {
                    guard let known = DiscoveryMethod(rawValue: method) else {
                        let names = DiscoveryMethod.allCases.map(\.rawValue)
                        var message = "\"host_discovery.methods\": unknown method \"\(method)\" (known: \(names.joined(separator: ", ")))"
                        if let near = Suggestion.nearest(method, in: names) { message += "; did you mean \"\(near)\"?" }
                        throw section.fail(message, at: section.node("methods"))
                    }
                    discovery.methods.append(known)
                }
            }
            discovery.tcpPorts = try section.ports("tcp_ports", proto: .tcp, ordered: true) ?? discovery.tcpPorts
            discovery.udpPorts = try section.ports("udp_ports", proto: .udp, ordered: true) ?? discovery.udpPorts
            if discovery.enabled && discovery.tcpPorts.isEmpty && discovery.udpPorts.isEmpty {
                throw section.fail("host discovery is enabled but has no tcp_ports or udp_ports to try")
            }
            profile.hostDiscovery = discovery
        }

        if let section = try root.object("dns") {
            try section.checkKeys(["enabled", "reverse_lookups", "servers", "zone_transfer", "guess_names", "wordlist"])
            profile.dns.zoneTransfer = try section.bool("zone_transfer") ?? profile.dns.zoneTransfer
            profile.dns.guessNames = try section.bool("guess_names") ?? profile.dns.guessNames
            profile.dns.wordlist = try section.string("wordlist") ?? profile.dns.wordlist
            profile.dns.enabled = try section.bool("enabled") ?? profile.dns.enabled
            profile.dns.reverseLookups = try section.bool("reverse_lookups") ?? profile.dns.reverseLookups
            for text in try section.strings("servers") ?? [] {
                guard let address = IPAddress(text) else {
                    throw section.fail("\"dns.servers\": \"\(text)\" is not an IP address", at: section.node("servers"))
                }
                profile.dns.servers.append(address)
            }
        }

        if let section = try root.object("information_gathering") {
            try section.checkKeys(["port_scan", "tcp_ports", "udp_ports", "scope"])
            var gathering = profile.informationGathering
            gathering.portScan = try section.bool("port_scan") ?? gathering.portScan
            if let scope = try section.string("scope") {
                guard let known = GatheringScope(rawValue: scope) else {
                    let names = GatheringScope.allCases.map(\.rawValue).joined(separator: ", ")
                    throw section.fail("\"information_gathering.scope\": \"\(scope)\" is not one of \(names)", at: section.node("scope"))
                }
                gathering.scope = known
            }
            gathering.tcpPorts = try section.ports("tcp_ports", proto: .tcp) ?? gathering.tcpPorts
            gathering.udpPorts = try section.ports("udp_ports", proto: .udp) ?? gathering.udpPorts
            profile.informationGathering = gathering
        }

        if let section = try root.object("probes") {
            try section.checkKeys(["enabled", "include", "exclude", "intensity", "args"])
            profile.probes.enabled = try section.bool("enabled") ?? profile.probes.enabled
            profile.probes.intensity = try section.int("intensity", range: 0...9) ?? profile.probes.intensity
            profile.probes.include = try section.strings("include") ?? profile.probes.include
            profile.probes.exclude = try section.strings("exclude") ?? profile.probes.exclude
            profile.probes.origins = section.stringLocations("exclude").merging(section.stringLocations("include")) { a, _ in a }
            if let args = try section.object("args") {
                for (key, value) in args.mapping {
                    guard let probe = key.string, let table = value.mapping else {
                        throw args.fail("\"probes.args\" maps a probe name to a mapping of arguments", at: key)
                    }
                    var values: [String: String] = [:]
                    for (argKey, argValue) in table {
                        guard let argName = argKey.string, let text = argValue.scalar?.string else {
                            throw args.fail("\"probes.args.\(probe)\": arguments must be plain values", at: argKey)
                        }
                        values[argName] = text
                    }
                    profile.probes.args[probe] = values
                }
            }
        }

        if let section = try root.object("performance") {
            try section.checkKeys([
                "rate", "parallel_hosts", "concurrency", "initial_rtt_timeout_ms", "min_rtt_timeout_ms",
                "max_rtt_timeout_ms", "retries", "packet_delay_ms", "probe_timeout_ms", "host_parallelism",
            ])
            var perf = profile.performance
            perf.rate = try section.int("rate", range: 0...10_000_000) ?? perf.rate
            perf.parallelHosts = try section.int("parallel_hosts", range: 1...65536) ?? perf.parallelHosts
            perf.concurrency = try section.int("concurrency", range: 1...1_000_000) ?? perf.concurrency
            perf.initialRTTTimeoutMs = try section.int("initial_rtt_timeout_ms", range: 1...600_000) ?? perf.initialRTTTimeoutMs
            perf.minRTTTimeoutMs = try section.int("min_rtt_timeout_ms", range: 1...600_000) ?? perf.minRTTTimeoutMs
            perf.maxRTTTimeoutMs = try section.int("max_rtt_timeout_ms", range: 1...600_000) ?? perf.maxRTTTimeoutMs
            perf.retries = try section.int("retries", range: 0...20) ?? perf.retries
            perf.packetDelayMs = try section.int("packet_delay_ms", range: 0...600_000) ?? perf.packetDelayMs
            perf.probeTimeoutMs = try section.int("probe_timeout_ms", range: 100...3_600_000) ?? perf.probeTimeoutMs
            perf.hostParallelism = try section.int("host_parallelism", range: 1...1024) ?? perf.hostParallelism
            if perf.minRTTTimeoutMs > perf.maxRTTTimeoutMs {
                throw section.fail("\"performance.min_rtt_timeout_ms\" (\(perf.minRTTTimeoutMs)) is above max_rtt_timeout_ms (\(perf.maxRTTTimeoutMs))",
                                   at: section.node("min_rtt_timeout_ms"))
            }
            profile.performance = perf
        }
        return profile
    }

    /// The profile as YAML, every key spelled out: what `profiles show` prints.
    public func yaml() -> String {
        func list(_ ports: [UInt16], _ proto: TransportProtocol) -> String {
            if ports.isEmpty { return "[]" }
            // The N most common ports read back as top:N, the way a profile writes them.
            if ports.count < 65535, Set(PortSpec.topPorts(ports.count, proto: proto)) == Set(ports) { return "\"top:\(ports.count)\"" }
            return "\"\(PortRanges.compress(ports))\""
        }
        func strings(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
        func ordered(_ ports: [UInt16]) -> String { strings(ports.map(String.init)) }
        var lines = [
            "name: \(name)",
            "description: \"\(description.replacingAll("\"", with: "\\\""))\"",
            "host_discovery:",
            "  enabled: \(hostDiscovery.enabled)",
            "  methods: \(strings(hostDiscovery.methods.map(\.rawValue)))",
            "  tcp_ports: \(ordered(hostDiscovery.tcpPorts))",
            "  udp_ports: \(ordered(hostDiscovery.udpPorts))",
            "  traceroute: \(hostDiscovery.traceroute)",
            "dns:",
            "  enabled: \(dns.enabled)",
            "  reverse_lookups: \(dns.reverseLookups)",
            "  servers: \(strings(dns.servers.map(\.description)))",
            "  zone_transfer: \(dns.zoneTransfer)",
            "  guess_names: \(dns.guessNames)",
            "  wordlist: \"\(dns.wordlist)\"",
            "information_gathering:",
            "  port_scan: \(informationGathering.portScan)",
            "  scope: \(informationGathering.scope.rawValue)",
            "  tcp_ports: \(list(informationGathering.tcpPorts, .tcp))",
            "  udp_ports: \(list(informationGathering.udpPorts, .udp))",
            "probes:",
            "  enabled: \(probes.enabled)",
            "  include: \(strings(probes.include))",
            "  exclude: \(strings(probes.exclude))",
            "  intensity: \(probes.intensity)",
        ]
        if probes.args.isEmpty {
            lines.append("  args: {}")
        } else {
            lines.append("  args:")
            for (probe, args) in probes.args.sorted(by: { $0.key < $1.key }) {
                lines.append("    \(probe):")
                for (key, value) in args.sorted(by: { $0.key < $1.key }) { lines.append("      \(key): \"\(value)\"") }
            }
        }
        lines += ["performance:"] + (performance.rate.map { ["  rate: \($0)"] } ?? [])
        lines += [
            "  parallel_hosts: \(performance.parallelHosts)",
            "  concurrency: \(performance.concurrency)",
            "  initial_rtt_timeout_ms: \(performance.initialRTTTimeoutMs)",
            "  min_rtt_timeout_ms: \(performance.minRTTTimeoutMs)",
            "  max_rtt_timeout_ms: \(performance.maxRTTTimeoutMs)",
            "  retries: \(performance.retries)",
            "  packet_delay_ms: \(performance.packetDelayMs)",
            "  probe_timeout_ms: \(performance.probeTimeoutMs)",
            "  host_parallelism: \(performance.hostParallelism)",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Writes port lists compactly: `[1,2,3,5]` becomes `1-3,5`.
public enum PortRanges {
    public static func compress(_ ports: [UInt16]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = Array(Set(ports)).sorted()
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
