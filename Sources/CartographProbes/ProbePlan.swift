/// The probes that may try one port, decided before it starts: the probes declaring the port,
/// the TLS-aware ones, and every other probe of the protocol (up to the profile's intensity), each
/// list by rarity. `Pipeline` decides when each runs.
struct ProbePlan: Sendable, Codable {
    var declared: [String]
    /// Probes that can speak over TLS (`tls = true`): those declaring the port, then the others, by rarity.
    var tlsAware: [String]
    var others: [String]
    /// TCP ports get the passive banner read and TLS detection; UDP ports do not.
    var passive: Bool
}

/// One port's identification as a set of overlapping steps whose results count in a fixed order.
///
/// The declared probes start at once, alongside the passive banner read; TLS detection starts
/// when the read has waited its short silence. Once the declared probes are done and the read
/// has either heard the service or gone silent, the other probes follow in order, `window` at a
/// time (with `port.banner`, or with `port.silent`). A TLS handshake ends the runs in the clear
/// still waiting (a TLS server has nothing to say to them) and adds the TLS-aware probes over
/// TLS. A greeting that comes after the short silence runs the other probes again with it. The result is the first certain match
/// in that order, taken as soon as every run before it is done, else the first tentative one:
/// the same answer as running the steps one after another, without waiting for each in turn.
///
/// A pure value: the worker feeds it what the steps learn and runs the steps it asks for.
struct Pipeline {
    /// What a probe run's `port` table says.
    struct View: Equatable {
        var banner: [UInt8]?
        var silent = false
        var tls = false
    }

    /// One probe run, in the order its result counts.
    struct Run {
        let name: String
        let view: View
        var done = false
        var match: ProbeMatch?
        /// Its wait for an answer was cut short by the port's silence (see `ProbeWorker`).
        var cut = false
        /// This run is the second try of a cut one.
        var retry = false
        /// A run of the patient round: its waits are never cut by the port's silence.
        var patient = false
    }

    /// A step for the worker to start, or a run to end (it is done as far as the answer goes).
    enum Action: Equatable {
        case probe(run: Int, name: String, view: View)
        case banner
        case tlsDetect
        case drop(run: Int)
    }

    enum Banner: Equatable {
        case off, listening, silent, heard([UInt8]), ended
    }

    enum TLS { case untried, detecting, found, absent }

    /// Runs of the other probes going on at once on one port: enough that a wrong guess costs
    /// no turn of its own, few enough that the likely probes (by rarity) usually end the search
    /// before the unlikely ones start.
    static let window = 4

    let plan: ProbePlan
    private(set) var runs: [Run] = []
    /// Runs waiting for room in the window, in order.
    private var queue: [(name: String, view: View)] = []
    private(set) var banner: Banner = .off
    private(set) var tls: TLS = .untried
    /// The service said something (data, a close, a handshake answer) on some connection.
    private(set) var heard = false
    private var restOpened = false
    /// The silent port's time to answer ran out: a greeting the banner read may still get no
    /// longer holds the port open.
    private var silenceOver = false
    /// The patient round began (see `patientRound`).
    private(set) var patient = false

    init(plan: ProbePlan) { self.plan = plan }

    /// The first steps: every declared probe, and the banner read on TCP.
    mutating func start() -> [Action] {
        var actions = plan.declared.map { add($0, View()) }
        if plan.passive {
            banner = .listening
            actions.append(.banner)
        }
        return actions + openRest()
    }

    /// The banner read waited its short silence; it goes on listening.
    mutating func bannerSilent() -> [Action] {
        if banner == .listening { banner = .silent }
        return detectTLS() + openRest()
    }

    /// The banner read ended: with what the service said first, or nil.
    mutating func bannerEnded(_ bytes: [UInt8]?) -> [Action] {
        guard let bytes, !bytes.isEmpty else {
            if case .heard = banner { return [] }
            banner = .ended
            return detectTLS() + openRest()
        }
        // In the patient round the first banner read had ended with nothing: late too.
        let late = (banner == .silent || patient) && restOpened
        banner = .heard(bytes)
        heard = true
        guard late else { return openRest() }
        // A greeting after the short silence: the others ran with port.silent; run them again.
        return later(plan.others.map { ($0, View(banner: bytes)) })
    }

    /// TLS detection ended: a handshake completed, or not.
    mutating func tlsDetected(_ found: Bool) -> [Action] {
        tls = found ? .found : .absent
        guard found else { return openRest() }
        heard = true
        // What still waits in the clear gets nothing from a TLS server: it ends, unanswered.
        var actions: [Action] = []
        for index in runs.indices where !runs[index].done && !runs[index].view.tls {
            runs[index].done = true
            actions.append(.drop(run: index))
        }
        queue.removeAll { !$0.view.tls }
        // Over TLS, declared probes run again: before, they spoke in the clear.
        return actions + openRest() + later(plan.tlsAware.map { ($0, View(tls: true)) })
    }

    /// Probe run `index` ended with `match` (nil: not its service, or it failed); `cut` when a
    /// wait of it was ended by the port's silence.
    mutating func finished(run index: Int, match: ProbeMatch?, cut: Bool) -> [Action] {
        guard runs.indices.contains(index) else { return [] }
        runs[index].done = true
        runs[index].match = match
        runs[index].cut = cut && match == nil
        var actions = openRest()
        if runs[index].cut && heard && !runs[index].retry { actions += retry(index) }
        return actions + later([])
    }

    /// The port stayed silent for as long as it is given to answer (see `ProbeWorker.capped`).
    mutating func silenceEnded() { silenceOver = true }

    /// Whether the port is owed a patient round: it would end unnamed on TCP without having
    /// said a word, so its silence may have been a slow service (a greeting held back by the
    /// server's own reverse lookup, a daemon whose pages must come back from swap) rather than
    /// a silent one. The round begins once the first banner read has ended (`bannerLingering`).
    func owesPatience(_ outcome: (match: ProbeMatch?, method: String?)) -> Bool {
        outcome.match == nil && !heard && !patient && plan.passive && tls != .found
    }

    /// The banner read went silent and still listens for a late greeting.
    var bannerLingering: Bool { banner == .silent }

    /// One patient round: a banner read that listens the long wait, and the probes declaring
    /// the port (else the first `window` others), none of them cut by the port's silence. A
    /// word from the service on any of them runs the rest again, as after a late greeting.
    mutating func patientRound() -> [Action] {
        patient = true
        banner = .listening
        let names = plan.declared.isEmpty ? Array(plan.others.prefix(Self.window)) : plan.declared
        var actions: [Action] = [.banner]
        for name in names {
            var run = Run(name: name, view: View())
            run.patient = true
            runs.append(run)
            actions.append(.probe(run: runs.count - 1, name: name, view: run.view))
        }
        return actions
    }

    /// The service answered something: runs cut short by its silence get a second try.
    mutating func heardService() -> [Action] {
        guard !heard else { return [] }
        heard = true
        return runs.indices.filter { runs[$0].done && runs[$0].cut && !runs[$0].retry }.flatMap { retry($0) }
    }

    /// Whether the port's silence may cut a wait short: the banner read found it silent and
    /// nothing has been heard from it since.
    var silent: Bool {
        guard !heard else { return false }
        return banner == .silent || banner == .ended
    }

    /// The answer, once it cannot change: the first certain match with every run before it
    /// done, or, when nothing is left to run, the first tentative one (or none).
    /// Once a handshake completed, the runs over TLS count before the runs in the clear: what a
    /// TLS server answers in the clear is an error page of its own.
    var outcome: (match: ProbeMatch?, method: String?)? {
        let ordered = order
        if let position = ordered.firstIndex(where: { runs[$0].match?.certain == true }),
           ordered[..<position].allSatisfy({ runs[$0].done }) {
            let run = runs[ordered[position]]
            return (run.match, run.name)
        }
        guard restOpened, tls != .detecting, queue.isEmpty, runs.allSatisfy(\.done) else { return nil }
        // A silent port waits out its time to answer for a greeting that comes late; in the
        // patient round, for the whole of the banner read's long wait.
        if banner == .silent && !silenceOver { return nil }
        if patient && (banner == .listening || banner == .silent) { return nil }
        let tentative = ordered.first { runs[$0].match != nil }.map { runs[$0] }
        return (tentative?.match, tentative?.name)
    }

    /// What the runs that ended found so far, for a port cut short: the first certain match,
    /// else the first tentative one (over TLS first when a handshake completed).
    var bestSoFar: (match: ProbeMatch?, method: String?) {
        let ordered = order
        let best = (ordered.first { runs[$0].match?.certain == true } ?? ordered.first { runs[$0].match != nil }).map { runs[$0] }
        return (best?.match, best?.name)
    }

    /// The runs' indices in the order their results count: as started, except that after a
    /// completed handshake the runs over TLS come first.
    private var order: [Int] {
        guard tls == .found else { return Array(runs.indices) }
        return runs.indices.filter { runs[$0].view.tls } + runs.indices.filter { !runs[$0].view.tls }
    }

    private mutating func add(_ name: String, _ view: View) -> Action {
        runs.append(Run(name: name, view: view))
        return .probe(run: runs.count - 1, name: name, view: view)
    }

    private mutating func retry(_ index: Int) -> [Action] {
        runs[index].retry = true
        var again = Run(name: runs[index].name, view: runs[index].view)
        again.retry = true
        runs.append(again)
        return [.probe(run: runs.count - 1, name: again.name, view: again.view)]
    }

    /// Queues `more` behind the runs waiting, and starts as many as the window has room for.
    private mutating func later(_ more: [(String, View)]) -> [Action] {
        queue += more.map { (name: $0.0, view: $0.1) }
        let declared = min(plan.declared.count, runs.count)
        var running = runs[declared...].filter { !$0.done }.count
        var actions: [Action] = []
        while running < Self.window, !queue.isEmpty {
            let next = queue.removeFirst()
            actions.append(add(next.name, next.view))
            running += 1
        }
        return actions
    }

    /// The other probes start once the declared ones are done and the banner read has heard
    /// the service or waited its short silence.
    private mutating func openRest() -> [Action] {
        guard !restOpened, runs.allSatisfy(\.done) else { return [] }
        switch banner {
        case .listening:
            return []
        case .heard(let bytes):
            restOpened = true
            return later(plan.others.map { ($0, View(banner: bytes)) })
        case .silent, .ended, .off:
            restOpened = true
            // Over TLS only the TLS-aware probes run (tlsDetected queued them).
            if tls == .found { return [] }
            return later(plan.others.map { ($0, View(silent: plan.passive)) })
        }
    }

    /// TLS detection starts once the banner read found the port silent, beside whatever runs.
    private mutating func detectTLS() -> [Action] {
        guard plan.passive, tls == .untried else { return [] }
        tls = .detecting
        return [.tlsDetect]
    }
}
