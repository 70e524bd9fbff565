import ArgumentParser
import CartographCore
import CartographEngine
import CartographIO
import CartographNet
import CartographProbes
import CartographReport
import CartographNotify
import CartographSession
import CartographStore
import Foundation

/// Set by the first Ctrl-C; every stage checks it and stops sending.
let interruption = CancellationFlag()

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Map targets: sweep for live hosts, discover open ports, identify services.",
        discussion: """
        Targets: IPv4 and IPv6 addresses, CIDR blocks (10.0.0.0/24), ranges (10.0.0.1-10.0.0.50, \
        10.0.0.1-50), host and domain names, DOMAIN:[NETBLOCK, ...] and none:[NETBLOCK, ...]. Each \
        domain is its own map; all bare addresses form one map written none:[...]. nmap's octet \
        patterns work too: 10.0.1-6.2, 10.0.0.*.

        nmap habits: -oX/-oN/-oJ FILE, -T0..-T5, --top-ports N, -sS, -sT, -sU, -sV, -sn, -Pn, \
        --open, -v and -p with service names (-p ssh,http) mean what they mean to nmap; \
        docs/nmap-habits.md lists each form and what it becomes.
        """
    )

    @Argument(help: "Targets to map.")
    var targets: [String] = []

    @Option(name: .customLong("iL", withSingleDash: true), help: ArgumentHelp("Read targets from a file ('-' for stdin).", valueName: "file"), completion: .file())
    var inputList: String?

    @Option(name: .long, help: ArgumentHelp("Addresses never to send a packet to (comma-separated).", valueName: "list"))
    var exclude: [String] = []

    @Option(name: .long, help: ArgumentHelp("Read addresses to exclude from a file.", valueName: "file"), completion: .file())
    var excludeFile: [String] = []

    @Option(name: .long, help: ArgumentHelp("Inventory file (default: $XDG_CONFIG_HOME/cartograph/inventory.yaml, if it exists).", valueName: "file"), completion: .file(extensions: ["yaml", "yml"]))
    var inventory: String?

    @Option(name: .long, help: ArgumentHelp("What an asset group @NAME maps: domains, ips or both.", valueName: "which"))
    var groupTargets: GroupChoice = .both

    enum GroupChoice: String, ExpressibleByArgument, CaseIterable { case domains, ips, both }

    @Option(name: .long, help: ArgumentHelp("Option profile: a name ('cartograph profiles list') or a path.", valueName: "name|path"), completion: Completions.profiles)
    var profile: String = "default"

    @Option(name: .short, help: ArgumentHelp("Ports to scan, nmap syntax: 22,80  1-1024  -  T:22,U:53  top:100  ssh,http.", valueName: "ports"))
    var ports: String?

    @Option(name: .long, help: ArgumentHelp("Probes to run: names or categories, comma-separated; 'none' turns identification off.", valueName: "list"), completion: Completions.probesAndCategories)
    var probes: String?

    @Option(name: .long, help: ArgumentHelp("Also load probes from this directory (repeatable).", valueName: "dir"), completion: .directory)
    var probeDir: [String] = []

    @Flag(name: [.customShort("n"), .long], help: "Disable DNS traffic: no lookups of any kind.")
    var noDns = false

    @Option(name: .long, help: ArgumentHelp("DNS servers to ask, comma-separated (default: the profile's, else /etc/resolv.conf's).", valueName: "list"))
    var dnsServers: String?

    @Option(name: .long, help: ArgumentHelp("Sending rate. With --engine syn: packets per second (default 100000; 0: as fast as the path takes them, backing off on loss). With --engine connect: connection attempts per second (default and 0: no limit but the profile's concurrency).", valueName: "n"))
    var rate: Int?

    @Option(name: .long, help: ArgumentHelp("Packet engine: syn (raw packets; needs root or CAP_NET_RAW), connect, or auto (syn when it can run).", valueName: "engine"))
    var engine: EngineChoice = .auto

    enum EngineChoice: String, ExpressibleByArgument, CaseIterable, Codable { case auto, syn, connect }

    @Flag(name: .long, help: "Print the plan (maps, targets, address counts) and send nothing.")
    var dryRun = false

    @Flag(name: .long, help: "With --dry-run: also build every packet of each map's live host sweep, send none, and report the rate.")
    var dryRunPackets = false

    @Option(name: .long, help: ArgumentHelp("Report format: text, json, jsonl (a line per host, port and service as found, then per map), csv, xml (nmap) or html (default: from the -o file's extension, else text).", valueName: "format"))
    var format: ReportFormat?

    @Option(name: [.short, .long], help: ArgumentHelp("Write the report to a file ('-': stdout).", valueName: "file"), completion: .file())
    var output: String?

    @Flag(name: .long, help: "Report only open ports, and only hosts with one (nmap's --open).")
    var open = false

    // nmap's forms, rewritten into these by CommandLineHabits; not shown in the help.
    @Option(name: .long, help: ArgumentHelp("nmap's -T0..-T5 on the profile's performance settings.", visibility: .hidden))
    var timing: Int?

    @Flag(name: .long, help: ArgumentHelp("nmap's -sn: the sweep only, no port scan.", visibility: .hidden))
    var noPortScan = false

    @Flag(name: .long, help: ArgumentHelp("nmap's -Pn: no sweep, every address taken as live.", visibility: .hidden))
    var noSweep = false

    @Flag(name: .long, help: ArgumentHelp("nmap's -v: stage notes on stderr even when it is not a terminal.", visibility: .hidden))
    var verbose = false

    @Option(name: .long, help: ArgumentHelp("The network the targets are in; the same address in two networks is two hosts.", valueName: "name"))
    var network: String = "default"

    @Option(name: .long, help: ArgumentHelp("A title for the map (default: its target).", valueName: "text"))
    var title: String?

    @OptionGroup var store: StoreOptions

    @Flag(name: .long, help: "Queue the maps for the network's scanner agents instead of running them here (needs a PostgreSQL store; see 'cartograph agent').")
    var queue = false

    @Option(name: .long, help: ArgumentHelp("Queue the maps for a scanner agent: a scanner's NAME, default (each asset group's default scanner, else the inventory's scanner for the network), or all (each map shared among every live scanner of the network).", valueName: "name|default|all"))
    var scanner: String?

    @Option(name: .long, help: ArgumentHelp("Continue a stored map that stopped before it ended (interrupted, failed, or its scanner died) from its last checkpoint, with its own settings.", valueName: "id"))
    var resume: Int64?

    @Option(name: .long, help: ArgumentHelp("Notification settings (default: the inventory's notifications:, else $XDG_CONFIG_HOME/cartograph/notifications.yaml if it exists).", valueName: "file"))
    var notifications: String?

    @Option(name: .long, help: ArgumentHelp("Progress on stderr: auto (a live line on a terminal), line, json (for wrappers) or none. A summary ends every map.", valueName: "mode"))
    var progress: ProgressMode = .auto

    /// The maps go to the queue, not to this process.
    var queued: Bool { queue || scanner != nil }

    func validate() throws {
        if let resume {
            if !targets.isEmpty || inputList != nil {
                throw ValidationError("--resume \(resume) continues a stored map with its own targets: give no targets")
            }
            if queued { throw ValidationError("--resume runs here: it cannot be combined with --queue or --scanner") }
        } else if targets.isEmpty && inputList == nil {
            throw ValidationError("no targets: give targets as arguments or with -iL FILE")
        }
        if queued && (output != nil || format != nil) {
            throw ValidationError("a queued map has no report here (-o, --format): report it from the store once it is done (cartograph maps show ID)")
        }
        if let scanner, scanner != "all", scanner != "default", let problem = Inventory.Network.nameProblem(scanner) {
            throw ValidationError("--scanner: \(problem)")
        }
        if let rate, rate < 0 { throw ValidationError("--rate must be 0 or more, not \(rate)") }
        if let timing, !(0...5).contains(timing) { throw ValidationError("-T\(timing): the timing levels are -T0 to -T5") }
    }

    func run() throws {
        let launchedAt = Date()
        let probes = ProbesAhead(extra: probeDir)
        if !dryRun && !queued && engine != .connect { EarlyCapture.open() }
        defer { EarlyCapture.release() }
        let (format, output) = ReportFormat.destination(format: self.format, output: self.output)
        let openOnly = open
        // The report's path is checked before anything is sent: never the store, always writable.
        // Then Ctrl-C is handled from here on, so one that comes while the probes load or the
        // store opens still ends the process with a report (of no map yet) and exit 130.
        if let output, !dryRun { try store.checkReport(output) }
        if noPortScan && ports != nil { throw CLIError("-sn maps without a port scan; drop -p (or -sn)", code: .usage) }
        // JSON lines are written as the map runs; the end only adds what did not end.
        let stream = format == .jsonl && !dryRun && !queued ? try JSONLinesStream(path: output, goneAway: { interruption.cancel() }) : nil
        let watchdog = InterruptWatchdog(flag: interruption) { maps throws(CLIError) in
            if let stream { return stream.finish(maps) }
            try emit(try format.render(MapReport(maps: maps, openOnly: openOnly)), to: output)
        }
        if !dryRun && !queued { watchdog.install() }
        let prepared = try prepare(probes: probes)
        let (profile, inventory, excluded, network, plan, library) = (prepared.profile, prepared.inventory, prepared.excluded,
                                                                     prepared.network, prepared.plan, prepared.library)
        let notifier = try NotificationLoading.load(notifications, inventory: inventory).map { settings in
            Notifier(settings: settings, environment: ProcessInfo.processInfo.environment,
                     version: Cartograph.configuration.version, log: { printError($0) })
        }
        if dryRun {
            print(DryRun.describe(plan, profile: profile), terminator: "")
            if dryRunPackets { DryRun.generate(plan, profile: profile) }
            return
        }

        if queued {
            try Enqueueing(command: self, inventory: inventory, network: network).enqueue(plan, profile: profile, excluded: excluded)
            return
        }
        if prepared.droppedPort53 { printError("note: DNS traffic is disabled, so port 53 is left out of the sweep and the scan") }

        // A store that cannot be opened costs the history, not the map: the report still comes.
        var store: (any MapStore)?
        do { store = try self.store.open() } catch {
            printError("warning: \(error.message); maps will not be saved")
        }
        let meter = ProgressMeter()
        let display = ProgressDisplay(meter: meter, mode: progress, verbose: verbose)
        var context = try Self.context(profile: profile, library: library, excluded: excluded, inventory: inventory,
                                       engine: engine, note: { line in display.note(line) })
        context.progress = meter
        var hooks = MapSession.Hooks()
        hooks.began = { skeleton, writer in
            stream?.began(skeleton)
            watchdog.began(skeleton, writer: writer)
        }
        if let stream { hooks.event = { stream.event($1, mapId: $0, newHosts: $2) } }
        hooks.checkpoint = { watchdog.checkpoint($0) }
        hooks.running = { $0 ? display.start() : display.stop() }
        hooks.message = { display.message($0) }
        hooks.ended = { completion, result in
            display.summary(completion, coverageUnconfirmed: result.warnings.contains { $0.hasPrefix("coverage not confirmed") })
            stream?.ended(completion)
            watchdog.ended(result)
        }
        let launch = MapSession.Launch(title: title, network: network, scanner: Identity.scanner, launchedBy: Identity.user,
                                       launchedAt: launchedAt)
        let session = MapSession(store: store, launch: launch, inventory: inventory, reportPath: output, hooks: hooks)
        if resume != nil && store == nil { throw CLIError("--resume: the store \(self.store.printable) cannot be opened", code: .noInput) }
        let outcome = session.run(plan, context: context, resuming: resume)
        // The watchdog may have written the report of an interrupted run already; it ends the process.
        guard watchdog.claimReport() else { while true { pause() } }
        if stream == nil { try emit(try format.render(MapReport(maps: outcome.maps, openOnly: openOnly)), to: output) }
        watchdog.reported()
        session.notify(outcome, with: notifier)
        if interruption.isCancelled { throw CLIError("interrupted; the report and the store hold what was found", code: .interrupted) }
        if outcome.failed { throw CLIError("one or more maps failed", code: .failure) }
        if outcome.unsaved { throw CLIError("the store \(self.store.printable) could not keep every map; the report has them", code: .failure) }
    }

    /// What every map of this invocation runs with, read and checked before anything is sent:
    /// the profile with the command line's overrides (or a resumed map's own settings), the
    /// inventory, the exclusions, the network, the plan and the probes.
    struct Prepared {
        var profile: Profile
        var droppedPort53: Bool
        var inventory: Inventory
        var excluded: AddressSet
        var network: Inventory.Network
        var plan: [MapSpec]
        var library: ProbeLibrary
    }

    func prepare(probes: ProbesAhead? = nil) throws(CLIError) -> Prepared {
        // A resumed map runs with the settings and target it was stored with.
        var resumed: Resumption?
        if let resume { resumed = try Resumption.load(resume, from: store) }
        var profile: Profile
        if let resumed {
            profile = resumed.profile
        } else {
            profile = try ProfileLoading.load(self.profile)
            try applyOverrides(to: &profile)
        }
        let (withoutDNS, droppedPort53) = profile.withoutDNSPort()
        profile = withoutDNS
        let targets: [Target]
        if let resumed { targets = resumed.targets } else { targets = try readTargets() }
        let inventory = try InventoryLoading.load(self.inventory)
        var excluded = try readExclusions()
        excluded.formUnion(inventory.excluded(on: Date()))
        for exclusion in inventory.expired(on: Date()) {
            printError("note: \(exclusion.location): exclusion of \(exclusion.block) expired; it no longer applies")
        }
        let network: Inventory.Network
        if let resumed { network = resumed.network } else { network = try checkNetwork(in: inventory) }
        let plan: [MapSpec]
        do {
            plan = try Planner.plan(targets: targets, excluded: excluded, inventory: inventory,
                                    groupTargets: GroupTargets(rawValue: groupTargets.rawValue) ?? .both)
        } catch {
            throw CLIError(error.message, code: .usage)
        }
        if !profile.dns.enabled, let domain = plan.compactMap(\.domain).first {
            throw CLIError("target \"\(domain)\" is a name, but DNS traffic is disabled (-n or the profile): give addresses instead",
                           code: .usage)
        }
        // Loaded before a dry run too, so that a probe list naming no probe fails there as well.
        let library = try (probes ?? ProbesAhead(extra: probeDir)).library()
        try checkProbeNames(profile.probes, in: library)
        return Prepared(profile: profile, droppedPort53: droppedPort53, inventory: inventory, excluded: excluded,
                        network: network, plan: plan, library: library)
    }

    /// The jobs `--queue` or `--scanner` would queue (for `schedule add`: its firings' maps).
    func plannedJobs() throws(CLIError) -> [NewJob] {
        let prepared = try prepare()
        return try Enqueueing(command: self, inventory: prepared.inventory, network: prepared.network)
            .jobs(prepared.plan, profile: prepared.profile, excluded: prepared.excluded)
    }

    /// The network to map in: any name when the inventory declares none, else one it declares
    /// (or `default`). Says so when another scanner is meant to serve it.
    func checkNetwork(in inventory: Inventory) throws(CLIError) -> Inventory.Network {
        if let problem = Inventory.Network.nameProblem(network) { throw CLIError("--network: \(problem)", code: .usage) }
        let declared = inventory.networks.map(\.name)
        guard let found = inventory.networks.first(where: { $0.name == network }) else {
            if declared.isEmpty || network == "default" { return Inventory.Network(name: network) }
            let hint = Suggestion.nearest(network, in: declared).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw CLIError("--network: \(inventory.file) declares no network \"\(network)\"\(hint); it declares \(declared.joined(separator: ", "))",
                           code: .usage)
        }
        if let scanner = found.scanner, scanner != Identity.scanner {
            printError("note: the inventory says scanner \"\(scanner)\" serves network \(network); this is \"\(Identity.scanner)\"")
        }
        return found
    }

    /// What every map needs besides its spec, for this command and for a scanner agent: the
    /// profile, the probes, the exclusions, the inventory's registered netblocks, the name
    /// guessing words, the host classifier and the packet engines.
    static func context(profile: Profile, library: ProbeLibrary, excluded: AddressSet, inventory: Inventory,
                        engine: EngineChoice, cancel: CancellationFlag = interruption,
                        note: @escaping (String) -> Void) throws(CLIError) -> MapContext {
        var context = MapContext(profile: profile, probes: library, excluded: excluded, cancel: cancel, note: note)
        if profile.dns.enabled && profile.dns.guessNames { context.guessWords = try readWordlist(profile.dns.wordlist) }
        context.registered = inventory.registeredAddresses
        context.classifier = LuaHostClassifier(library: library)
        if try useRawEngine(engine) {
            let timing = RawTiming()
            context.sweepEngine = RawSweepEngine(timing: timing)
            context.scanEngine = SynScanEngine(timing: timing)
        } else {
            let rawOnly = profile.hostDiscovery.methods.filter(\.needsRawPackets).map(\.rawValue)
            if profile.hostDiscovery.enabled && !rawOnly.isEmpty {
                printError("note: \(rawOnly.joined(separator: ", ")) need\(rawOnly.count == 1 ? "s" : "") raw packets; the connect engine sweeps with TCP connects to the discovery ports")
            }
        }
        return context
    }

    /// Raw packets when asked for or, with `auto`, when the process may send them.
    static func useRawEngine(_ engine: EngineChoice) throws(CLIError) -> Bool {
        switch engine {
        case .connect: return false
        case .syn:
            guard RawPrivileges.available else {
                throw CLIError("--engine syn needs root or CAP_NET_RAW; run as root or use --engine connect", code: .usage)
            }
            return true
        case .auto:
            if RawPrivileges.available { return true }
            printError("note: raw packets need root or CAP_NET_RAW; using TCP connect (--engine connect)")
            return false
        }
    }

    func applyOverrides(to profile: inout Profile) throws(CLIError) {
        if let timing { profile.performance.applyTiming(timing) }
        if noSweep { profile.hostDiscovery.enabled = false }
        if noPortScan { profile.informationGathering.portScan = false }
        if let ports {
            do {
                let selection = try PortSpec.parse(ports, names: Self.serviceNames())
                profile.informationGathering.portScan = true
                profile.informationGathering.tcpPorts = selection.tcp
                profile.informationGathering.udpPorts = selection.udp
            } catch {
                throw CLIError(error.description, code: .usage)
            }
        }
        if let probes {
            let names = probes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if names.count > 1, names.contains("none") {
                throw CLIError("--probes: \"none\" turns identification off and cannot be combined with other names", code: .usage)
            }
            if names.isEmpty {
                throw CLIError("--probes: the list is empty; name probes or categories, or give \"none\" to turn identification off", code: .usage)
            }
            if names == ["none"] {
                profile.probes.enabled = false
            } else {
                profile.probes.enabled = true
                profile.probes.include = names
            }
        }
        if noDns { profile.dns.enabled = false }
        if let dnsServers {
            profile.dns.servers = []
            for text in dnsServers.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                guard let address = IPAddress(text) else {
                    throw CLIError("--dns-servers: \"\(text)\" is not an IP address", code: .usage)
                }
                profile.dns.servers.append(address)
            }
        }
        if let rate { profile.performance.rate = rate }
    }

    /// Port names for `-p ssh,http`: /etc/services when the system has it.
    static func serviceNames() -> ServiceNames {
        guard let data = FileManager.default.contents(atPath: "/etc/services") else { return .builtIn }
        return ServiceNames.parse(services: String(decoding: data, as: UTF8.self), source: "/etc/services")
    }

    func readTargets() throws(CLIError) -> [Target] {
        var result: [Target] = []
        for argument in targets {
            do {
                result += try TargetParser.parseList(argument)
            } catch {
                throw CLIError(error.description, code: .usage)
            }
        }
        if let inputList {
            let text = try readFile(inputList, what: "target list")
            do {
                result += try TargetParser.parseFile(contents: text, path: inputList == "-" ? "stdin" : inputList)
            } catch {
                throw CLIError(error.description, code: .dataError)
            }
        }
        if result.isEmpty { throw CLIError("no targets to map", code: .usage) }
        return result
    }

    func readExclusions() throws(CLIError) -> AddressSet {
        var set = AddressSet()
        for list in exclude {
            do {
                for block in try TargetParser.parseBlocks(list) { set.insert(block) }
            } catch {
                throw CLIError("--exclude: \(error.description)", code: .usage)
            }
        }
        for file in excludeFile {
            let text = try readFile(file, what: "exclude file")
            do {
                for block in try TargetParser.parseBlockFile(contents: text, path: file) { set.insert(block) }
            } catch {
                throw CLIError(error.description, code: .dataError)
            }
        }
        return set
    }

    func readFile(_ path: String, what: String) throws(CLIError) -> String { try Self.readFile(path, what: what) }

    static func readFile(_ path: String, what: String) throws(CLIError) -> String {
        if path == "-" {
            return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(what) \(path)", code: .noInput)
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The words for name guessing: the profile's list, or the shipped one.
    static func readWordlist(_ path: String) throws(CLIError) -> [String] {
        let file = path.isEmpty ? (Resources.profilesDirectory.map { $0 + "/wordlists/hostnames.txt" } ?? "") : path
        let text = try readFile(file, what: "word list")
        var words: [String] = []
        for (number, line) in TargetParser.listLines(text) {
            let word = line.trimmingCharacters(in: .whitespaces).lowercased()
            guard !word.isEmpty else { continue }
            guard word.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) else {
                throw CLIError("\(file):\(number): \"\(word)\" is not a host name label", code: .dataError)
            }
            words.append(word)
        }
        return words
    }

    /// A probe list (the profile's or `--probes`) that names no probe or category is a mistake:
    /// it would silently identify nothing. The profile's names carry their `file:line`.
    func checkProbeNames(_ selection: Profile.ProbeSelection, in library: ProbeLibrary) throws(CLIError) {
        guard selection.enabled else { return }
        for (names, fromFlag) in [(selection.include, probes != nil), (selection.exclude, false)] {
            guard let unknown = library.unknownName(in: names) else { continue }
            if fromFlag { throw CLIError("--probes: \(unknown.message)", code: .usage) }
            let place = selection.origins[unknown.name] ?? profile
            throw CLIError("profile \(place): \(unknown.message)", code: .dataError)
        }
    }
}

/// The probes, compiled on a thread of their own from the command's start (15-20 ms of Lua, on
/// a core that is idle while the profile, the targets and the store are read); what they have
/// to say is said when they are taken, in the order it would be without the thread.
final class ProbesAhead {
    private let ahead = Ahead<Result<ProbeLibrary, CLIError>>()
    private let extra: [String]

    init(extra: [String]) {
        self.extra = extra
        ahead.start { ProbesCommand.Options.read(extra: extra) }
    }

    func library() throws(CLIError) -> ProbeLibrary {
        let library = try (ahead.take() ?? ProbesCommand.Options.read(extra: extra)).get()
        ProbesCommand.Options.tell(library, notices: true)
        return library
    }
}

/// The plan as `--dry-run` prints it.
enum DryRun {
    static func describe(_ plan: [MapSpec], profile: Profile) -> String {
        var out = "profile \(profile.name): "
        if profile.hostDiscovery.enabled {
            out += "sweep by \(profile.hostDiscovery.methods.map(\.rawValue).joined(separator: ", ")) "
            out += "to \(profile.hostDiscovery.tcpPorts.count) TCP port(s)"
        } else {
            out += "no sweep (every address treated as live)"
        }
        if profile.informationGathering.portScan {
            out += "; scan \(profile.informationGathering.tcpPorts.count) TCP and \(profile.informationGathering.udpPorts.count) UDP port(s)"
        } else {
            out += "; no port scan"
        }
        out += profile.probes.enabled ? "; probes \(profile.probes.include.joined(separator: ","))" : "; no probes"
        out += profile.dns.enabled ? "" : "; DNS traffic disabled"
        out += "\n"
        for (index, spec) in plan.enumerated() {
            out += "map \(index + 1): \(spec.target.terminalSafe)" + (spec.group.map { " (asset group @\($0.terminalSafe))" } ?? "") + "\n"
            if spec.domain != nil {
                out += "  addresses: from DNS, plus \(spec.addresses.count) in netblocks"
            } else {
                out += "  addresses: \(spec.addresses.count)"
            }
            out += spec.excludedCount > 0 ? " (\(spec.excludedCount) excluded)\n" : "\n"
        }
        out += "dry run: nothing was sent\n"
        return out
    }

    /// Builds the raw sweep's packets of every map without sending them, and prints the rate.
    static func generate(_ plan: [MapSpec], profile: Profile) {
        let probes = RawSweepEngine.probes(for: profile)
        for (index, spec) in plan.enumerated() where spec.domain == nil {
            let started = Date()
            let count = PacketGenerator.generate(spec.addresses, probes: probes, cancel: interruption)
            let seconds = max(Date().timeIntervalSince(started), 1e-9)
            print("map \(index + 1): \(count) sweep packets built in \(String(format: "%.2f", seconds)) s "
                  + "(\(Int(Double(count) / seconds)) packets/s), none sent")
        }
    }
}

extension MapReport {
    /// The report of `maps`; with `openOnly` (nmap's --open), only open ports (and open|filtered
    /// ones, nmap's "possibly open") and only the hosts that have one.
    init(maps: [MapResult], openOnly: Bool) {
        guard openOnly else {
            self.init(maps: maps)
            return
        }
        self.init(maps: maps.map { map in
            var map = map
            map.hosts = map.hosts.compactMap { host in
                var host = host
                host.services = host.services.filter { $0.state.hasPrefix("open") }
                return host.services.isEmpty ? nil : host
            }
            return map
        })
    }
}
