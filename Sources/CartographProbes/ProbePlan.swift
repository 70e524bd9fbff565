/// The order in which probes try one port, decided before it starts and adjusted by what the
/// passive steps learn: the probes declaring the port; a passive banner read; when the service
/// stayed silent, TLS detection; then the TLS-aware probes over TLS, or else every other probe
/// of the protocol (up to the profile's intensity), by rarity.
struct ProbePlan: Sendable, Codable {
    var declared: [String]
    /// Probes that can speak over TLS (`tls = true`), by rarity.
    var tlsAware: [String]
    var others: [String]
    /// TCP ports get the passive banner read and TLS detection; UDP ports do not.
    var passive: Bool
}

/// Where one port is in its plan.
struct Pipeline {
    enum Phase { case declared, banner, tls, rest, done }

    var phase: Phase = .declared
    var index = 0
    var tried: Set<String> = []
    /// Whether the passive banner read ran; `banner` is what it got (nil: the service was silent).
    var bannerRead = false
    var banner: [UInt8]?
    /// Set when TLS detection completed a handshake.
    var tls = false
    var tentative: (match: ProbeMatch, method: String)?

    /// The next step to run, or nil when the plan is exhausted.
    mutating func next(_ plan: ProbePlan) -> ProbeWorker.Step? {
        while true {
            switch phase {
            case .declared:
                if index < plan.declared.count {
                    index += 1
                    tried.insert(plan.declared[index - 1])
                    return .probe(plan.declared[index - 1])
                }
                phase = plan.passive ? .banner : .rest
                index = 0
            case .banner:
                phase = .tls
                return .banner
            case .tls:
                phase = .rest
                if banner == nil { return .tlsDetect }
            case .rest:
                let list = tls ? plan.tlsAware : plan.others
                while index < list.count {
                    index += 1
                    let name = list[index - 1]
                    // Over TLS, declared probes run again: before, they spoke in the clear.
                    if tried.insert(name).inserted || tls { return .probe(name) }
                }
                phase = .done
            case .done:
                return nil
            }
        }
    }
}
