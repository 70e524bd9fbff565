import ArgumentParser
import CartographCore
import CartographEngine
import CartographProbes
import CartographSession
import CartographStore
import Foundation

/// What a queued map is, as its job carries it: everything an agent on another machine needs,
/// with nothing read from this machine's files (the profile travels as its settings, asset groups
/// and target files as the map's target).
struct MapRequest: Codable {
    /// The map's target as reports write it (`example.com:[…]`, `none:[…]`): planned again by the agent.
    var target: String
    var group: String?
    /// Every exclusion in force when it was queued (flags, files, the inventory), as blocks.
    var excluded: [String]
    var profile: Profile
    var title: String?
    var launchedBy: String
    var engine: MapCommand.EngineChoice
    /// The key of the permutation a shared map is split by.
    var seed: UInt64

    var json: String { String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self) }

    static func decode(_ text: String, job: Int64) throws(CLIError) -> MapRequest {
        do {
            return try JSONDecoder().decode(MapRequest.self, from: Data(text.utf8))
        } catch {
            throw CLIError("job \(job): its request cannot be read (\(error)); was it queued by another version?", code: .dataError)
        }
    }

    /// The map to run: the target planned again, less the exclusions, cut to the job's shard.
    func spec(for job: QueuedJob) throws(CLIError) -> (MapSpec, AddressSet) {
        var excludedSet = AddressSet()
        do {
            for block in excluded { for range in try TargetParser.parseBlocks(block) { excludedSet.insert(range) } }
            let plan = try Planner.plan(targets: try TargetParser.parseList(target), excluded: excludedSet)
            guard plan.count == 1, var spec = plan.first else {
                throw CLIError("job \(job.id): target \(target) planned as \(plan.count) maps, not one", code: .dataError)
            }
            spec.group = group
            if let shard = job.shard, let shards = job.shards { spec = spec.shard(shard, of: shards, seed: seed) }
            return (spec, excludedSet)
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("job \(job.id): target \(target): \(error)", code: .dataError)
        }
    }
}

/// The team store's fleet tables, opened from the store options (PostgreSQL only).
enum FleetAccess {
    static func open(_ store: StoreOptions) throws(CLIError) -> Fleet {
        do { return try Fleet(url: store.location) } catch { throw CLIError(error.description, code: .usage) }
    }

    /// How long a scanner may go without a heartbeat before it counts as gone.
    static let staleAfter: TimeInterval = Fleet.staleAfter
}

/// `cartograph map --resume ID`: the stored map's own target, settings and network.
struct Resumption {
    var profile: Profile
    var targets: [Target]
    var network: Inventory.Network

    static func load(_ id: Int64, from options: StoreOptions) throws(CLIError) -> Resumption {
        let store = try options.open(readOnly: true)
        let stored: MapResult?, settings: Profile?
        do {
            stored = try store.map(id: id)
            settings = try store.settings(id: id)
        } catch {
            throw CLIError("--resume \(id): \(error.description)", code: .noInput)
        }
        guard let stored else { throw CLIError("--resume \(id): there is no map \(id) in \(options.printable)", code: .usage) }
        guard stored.status != .complete else {
            throw CLIError("--resume \(id): map \(id) is complete; there is nothing to resume", code: .usage)
        }
        guard let settings else { throw CLIError("--resume \(id): map \(id) has no stored settings", code: .dataError) }
        do {
            let targets = try TargetParser.parseList(stored.target)
            let network = ((try? store.networks()) ?? []).first { $0.name == stored.network } ?? Inventory.Network(name: stored.network)
            return Resumption(profile: settings, targets: targets, network: network)
        } catch {
            throw CLIError("--resume \(id): its target \(stored.target): \(error.description)", code: .dataError)
        }
    }
}

/// `cartograph map --queue` and `--scanner`: the plan goes to the queue, one job per map.
struct Enqueueing {
    let command: MapCommand
    let inventory: Inventory
    let network: Inventory.Network

    /// One job per map of the plan, routed as `--queue` or `--scanner` asks.
    func jobs(_ plan: [MapSpec], profile: Profile, excluded: AddressSet) throws(CLIError) -> [NewJob] {
        var jobs: [NewJob] = []
        for spec in plan {
            let request = MapRequest(target: spec.target, group: spec.group, excluded: excluded.ranges.map(\.description),
                                     profile: profile, title: command.title, launchedBy: Identity.user,
                                     engine: command.engine, seed: UInt64.random(in: .min ... .max))
            var job = NewJob(network: network.name, scanner: nil, strict: false, target: spec.target, request: request.json)
            switch command.scanner {
            case nil:
                break
            case "default":
                guard let scanner = defaultScanner(for: spec) else {
                    throw CLIError("--scanner default: map \(spec.target) has no default scanner: \(spec.group.map { "asset group \($0)" } ?? "it is in no asset group that") names none, and \(inventory.file) names none for network \(network.name)",
                                   code: .usage)
                }
                job.scanner = scanner
                job.strict = true
            case "all":
                // A domain's addresses come from its DNS at run time: one scanner maps it.
                job.allScanners = spec.domain == nil
            case let name?:
                job.scanner = name
                job.strict = true
            }
            jobs.append(job)
        }
        return jobs
    }

    /// Queues the plan's maps and says where each went.
    func enqueue(_ plan: [MapSpec], profile: Profile, excluded: AddressSet) throws(CLIError) {
        let jobs = try self.jobs(plan, profile: profile, excluded: excluded)
        let fleet = try FleetAccess.open(command.store)
        defer { fleet.close() }
        let ids: [Int64], known: [ScannerRecord], live: [String]
        do {
            known = try fleet.scanners(network: network.name)
            let now = try fleet.now()
            live = known.filter { $0.isAlive(now: now, staleAfter: FleetAccess.staleAfter) }.map(\.name)
            if command.scanner == "all" && live.isEmpty {
                throw CLIError("--scanner all: no scanner of network \(network.name) is up (cartograph scanners lists them)", code: .usage)
            }
            for scanner in Set(jobs.compactMap(\.scanner)).sorted() where !known.contains(where: { $0.name == scanner }) {
                printError("note: no scanner \"\(scanner)\" has registered in network \(network.name) yet; its maps wait for it")
            }
            ids = try fleet.enqueue(jobs, createdBy: Identity.user)
        } catch let error as CLIError {
            throw error
        } catch let error as StoreError {
            throw CLIError(error.description, code: .failure)
        } catch {
            throw CLIError("\(error)", code: .failure)
        }
        for (id, job) in zip(ids, jobs) {
            let runner = job.allScanners ? "shared by the network's scanners (\(live.joined(separator: ", ")))"
                : job.scanner.map { "for scanner \($0)" } ?? "for any scanner of the network"
            print("queued job \(id): \(job.target) in network \(job.network), \(runner)")
        }
    }

    /// An asset group's default scanner, else the inventory's scanner for the network.
    func defaultScanner(for spec: MapSpec) -> String? {
        let group = spec.group.flatMap { name in inventory.groups.first { $0.name == name } }
            ?? spec.domain.flatMap { domain in inventory.groups.first { $0.domains.contains(domain) } }
        return group?.scanner ?? network.scanner
    }
}

// MARK: - cartograph agent

/// Set by SIGTERM or SIGINT in the agent: it stops its map, keeps the checkpoint, and gives the
/// job back to the queue.
private let agentStopping = CancellationFlag()

struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run as a scanner agent: take the network's queued maps from the team store and run them.",
        discussion: """
        The agent registers in the PostgreSQL store (--db or $CARTOGRAPH_DB), heartbeats, fires \
        due schedules, and claims queued maps of its network one at a time under a lease it \
        renews while it maps. A map whose agent died (its lease ran out) is taken over by another \
        agent of the network and continued from its last checkpoint. SIGTERM or Ctrl-C: the map \
        in hand stops, keeps what it found, and goes back to the queue; a second one ends the agent.
        """
    )

    @Option(name: .long, help: ArgumentHelp("The network this agent maps in.", valueName: "name"))
    var network: String

    @Option(name: .long, help: ArgumentHelp("This scanner's name (default: $CARTOGRAPH_SCANNER, else the host name).", valueName: "name"))
    var scanner: String?

    @OptionGroup var store: StoreOptions

    @Option(name: .long, help: ArgumentHelp("Inventory file: approved hosts and registered netblocks (default as for map).", valueName: "file"))
    var inventory: String?

    @Option(name: .long, help: ArgumentHelp("Also load probes from this directory (repeatable).", valueName: "dir"))
    var probeDir: [String] = []

    @Option(name: .long, help: ArgumentHelp("Seconds a claimed map stays this agent's without a renewal (renewed every third of it).", valueName: "s"))
    var lease: Double = 30

    @Option(name: .long, help: ArgumentHelp("Seconds between heartbeats (and between looks at the schedules).", valueName: "s"))
    var heartbeat: Double = 5

    @Option(name: .long, help: ArgumentHelp("Seconds between looks at an empty queue.", valueName: "s"))
    var poll: Double = 2

    @Flag(name: .long, help: "Stop once nothing is queued or running in the network (for batch runs and tests).")
    var exitWhenIdle = false

    @Flag(name: .long, help: "Print each stage's notes as maps run.")
    var verbose = false

    func validate() throws {
        if let problem = Inventory.Network.nameProblem(network) { throw ValidationError("--network: \(problem)") }
        if let scanner, let problem = Inventory.Network.nameProblem(scanner) { throw ValidationError("--scanner: \(problem)") }
        if scanner == "default" { throw ValidationError("--scanner: \"default\" is reserved (cartograph map --scanner default routes by asset group)") }
        if !(lease >= 1) { throw ValidationError("--lease must be at least 1 second") }
        if !(heartbeat > 0) || !(poll > 0) { throw ValidationError("--heartbeat and --poll must be more than 0") }
    }

    func run() throws {
        let name = scanner ?? Identity.scanner
        let fleet = try FleetAccess.open(store)
        let maps: any MapStore = try store.open()
        let library = try ProbesCommand.Options.load(extra: probeDir, notices: true)
        let inventory = try InventoryLoading.load(self.inventory)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let staleAfter = max(FleetAccess.staleAfter, heartbeat * 3)
        do {
            try fleet.register(network: network, name: name, host: hostName, pid: getpid(),
                               version: Cartograph.configuration.version, staleAfter: staleAfter)
        } catch {
            throw CLIError(error.description, code: .usage)
        }
        Self.installSignals()
        log("scanner \(name) in network \(network) is up (store \(store.printable))")

        // The heartbeat says what this agent is doing; it runs on its own thread, so a long map
        // still heartbeats.
        let doing = Doing()
        let beats = Thread { [network, heartbeat] in
            while !agentStopping.isCancelled {
                let now = doing.now
                do throws(StoreError) { try fleet.heartbeat(network: network, name: name, job: now.job, map: now.map) } catch {
                    printError("agent \(name): heartbeat: \(error.description)")
                }
                Self.sleep(heartbeat, unless: agentStopping)
            }
        }
        beats.start()

        while !agentStopping.isCancelled {
            let job: QueuedJob?
            do {
                try fleet.fireDueSchedules().forEach { log("a schedule queued job \($0)") }
                job = try fleet.claim(network: network, scanner: name, lease: lease, staleAfter: staleAfter)
            } catch {
                printError("agent \(name): \(error.description)")
                Self.sleep(poll, unless: agentStopping)
                continue
            }
            guard let job else {
                // Idle: nothing queued, and nothing running that a lost lease could hand over.
                if exitWhenIdle, let pending = try? fleet.jobs(network: network), pending.isEmpty { break }
                Self.sleep(poll, unless: agentStopping)
                continue
            }
            doing.set(job.id, job.mapId)
            let runner = JobRunner(job: job, scanner: name, fleet: fleet, store: maps, library: library,
                                   inventory: inventory, lease: lease, verbose: verbose, log: log)
            runner.run(doing: doing)
            doing.set(nil, nil)
        }
        agentStopping.cancel()
        try? fleet.stopped(network: network, name: name)
        log("scanner \(name) stopped")
    }

    func log(_ line: String) { printError(line) }

    static func sleep(_ seconds: Double, unless flag: CancellationFlag) {
        let end = Date().addingTimeInterval(seconds)
        while !flag.isCancelled, Date() < end { usleep(50_000) }
    }

    /// The first SIGTERM or SIGINT stops the map in hand (it goes back to the queue); a second
    /// ends the process at once.
    static func installSignals() {
        unblockStopSignals()
        for stop in [SIGINT, SIGTERM] {
            signal(stop) { _ in
                agentStopping.cancel()
                signal(SIGINT, SIG_DFL)
                signal(SIGTERM, SIG_DFL)
            }
        }
    }
}

/// What the agent is doing, for its heartbeat thread.
final class Doing: @unchecked Sendable {
    private let lock = NSLock()
    private var job: Int64?, map: Int64?
    var now: (job: Int64?, map: Int64?) { lock.withLock { (job, map) } }
    func set(_ job: Int64?, _ map: Int64?) { lock.withLock { (self.job, self.map) = (job, map) } }
}

/// One claimed job, run with the same map session as `cartograph map`: a new map, or the job's
/// map continued from its checkpoint when the job was taken over.
final class JobRunner {
    let job: QueuedJob
    let scanner: String
    let fleet: Fleet
    let store: any MapStore
    let library: ProbeLibrary
    let inventory: Inventory
    let lease: Double
    let verbose: Bool
    let log: (String) -> Void

    init(job: QueuedJob, scanner: String, fleet: Fleet, store: any MapStore, library: ProbeLibrary, inventory: Inventory,
         lease: Double, verbose: Bool, log: @escaping (String) -> Void) {
        self.job = job
        self.scanner = scanner
        self.fleet = fleet
        self.store = store
        self.library = library
        self.inventory = inventory
        self.lease = lease
        self.verbose = verbose
        self.log = log
    }

    func run(doing: Doing) {
        let shardNote = job.shard.map { " (shard \($0 + 1) of \(job.shards ?? 0))" } ?? ""
        log("job \(job.id): \(job.target)\(shardNote)" + (job.mapId.map { ", continuing map \($0) (taken over)" } ?? ""))
        let request: MapRequest, spec: MapSpec, excluded: AddressSet
        do {
            request = try MapRequest.decode(job.request, job: job.id)
            (spec, excluded) = try request.spec(for: job)
        } catch {
            end(.failed, error: error.message)
            return
        }
        let cancel = CancellationFlag()
        if agentStopping.isCancelled { cancel.cancel() }

        let context: MapContext
        do {
            context = try MapCommand.context(profile: request.profile, library: library, excluded: excluded, inventory: inventory,
                                             engine: request.engine, cancel: cancel,
                                             note: { [verbose, log, job] line in if verbose { log("job \(job.id): \(line)") } })
        } catch {
            end(.failed, error: error.message)
            return
        }
        // The lease is renewed while the map runs; a renewal refused means the job was cancelled
        // or taken over, and the map stops.
        let lost = CancellationFlag(), done = CancellationFlag()
        // A SIGTERM stops the map; the lease is still renewed until the job is given back.
        let renewals = Thread { [fleet, job, scanner, lease] in
            var due = Date().addingTimeInterval(lease / 3)
            while !done.isCancelled {
                usleep(50_000)
                if agentStopping.isCancelled { cancel.cancel() }
                guard Date() >= due, !done.isCancelled else { continue }
                due = Date().addingTimeInterval(lease / 3)
                if (try? fleet.renew(job: job.id, scanner: scanner, lease: lease)) == false {
                    lost.cancel()
                    cancel.cancel()
                    break
                }
            }
        }
        renewals.start()

        var hooks = MapSession.Hooks()
        hooks.began = { [fleet, job, scanner] skeleton, _ in
            guard let id = skeleton.id else { return }
            doing.set(job.id, id)
            try? fleet.attach(job: job.id, map: id, scanner: scanner)
        }
        hooks.message = { [log, job] in log("job \(job.id): \($0)") }
        let title = (request.title ?? spec.target) + (job.shard.map { " (shard \($0 + 1) of \(job.shards ?? 0))" } ?? "")
        let launch = MapSession.Launch(title: title, network: Inventory.Network(name: job.network), scanner: scanner,
                                       launchedBy: request.launchedBy, launchedAt: job.createdAt)
        let session = MapSession(store: store, launch: launch, inventory: inventory, reportPath: nil, hooks: hooks)
        let outcome = session.run([spec], context: context, resuming: job.mapId)
        done.cancel()
        while renewals.isExecuting { usleep(10_000) }

        let result = outcome.maps.first
        let summary = result.map { "\($0.hosts.count) host(s), map \($0.id.map(String.init) ?? "not stored")" } ?? "no map"
        if lost.isCancelled {
            log("job \(job.id): no longer this scanner's (cancelled, or taken over): stopped with \(summary)")
        } else if result?.status == .interrupted || (agentStopping.isCancelled && result?.status != .complete) {
            try? fleet.release(job: job.id, scanner: scanner)
            log("job \(job.id): stopped with \(summary); back in the queue, to continue from its checkpoint")
        } else if outcome.failed || outcome.unsaved {
            end(.failed, error: result?.warnings.last ?? "the map could not be stored")
        } else {
            log("job \(job.id): done, \(summary)")
            end(.done, error: nil)
        }
    }

    private func end(_ status: JobStatus, error: String?) {
        if let error { log("job \(job.id): failed: \(error)") }
        do {
            guard let ending = try fleet.finish(job: job.id, scanner: scanner, status: status, error: error) else {
                log("job \(job.id): no longer this scanner's; its end is not recorded")
                return
            }
            if let parent = ending.splitOf, let shardMaps = ending.shardMaps {
                merge(parent: parent, shardMaps: shardMaps, failedShards: ending.shardsFailed)
            }
        } catch {
            log("job \(job.id): \(error.description)")
        }
    }

    /// The last shard of a shared map to end merges the shards' maps into the map itself, then
    /// removes them: the shards are disjoint, so every host is in exactly one of them.
    private func merge(parent: Int64, shardMaps: [Int64], failedShards: Int) {
        do {
            var parts: [MapResult] = []
            for id in shardMaps { if let part = try store.map(id: id) { parts.append(part) } }
            guard let first = parts.first, let parentJob = try fleet.job(id: parent) else {
                try fleet.merged(job: parent, map: nil, failed: true, error: "no shard left a map")
                return
            }
            let request = try? MapRequest.decode(parentJob.request, job: parent)
            let settings = try store.settings(id: first.id ?? 0) ?? request?.profile ?? Profile()
            var hosts: [String: HostResult] = [:]
            for part in parts { for host in part.hosts where hosts[host.address] == nil { hosts[host.address] = host } }
            let statuses = Set(parts.map(\.status))
            let status: MapResult.Status = failedShards > 0 || statuses.contains(.failed) ? .failed
                : statuses == [.complete] ? .complete : .interrupted
            let scanned = parts.reduce(UInt128(0)) { $0 + (UInt128($1.addressesScanned) ?? 0) }
            var merged = MapResult(target: parentJob.target, profile: first.profile, status: .running,
                                   startedAt: parts.map(\.startedAt).min() ?? first.startedAt, finishedAt: Date(),
                                   addressesScanned: String(scanned), excludedAddresses: first.excludedAddresses,
                                   hosts: hosts.values.sorted { (IPAddress($0.address) ?? IPAddress("0.0.0.0")!) < (IPAddress($1.address) ?? IPAddress("0.0.0.0")!) },
                                   warnings: Array(Set(parts.flatMap(\.warnings))).sorted())
            merged.title = request?.title ?? parentJob.target
            merged.network = parentJob.network
            merged.scanner = Set(parts.compactMap(\.scanner)).sorted().joined(separator: ", ")
            merged.launchedBy = first.launchedBy
            merged.launchedAt = first.launchedAt
            merged.assetGroup = first.assetGroup
            let id = try store.begin(merged, settings: settings, network: Inventory.Network(name: parentJob.network))
            merged.status = status
            merged.finishedAt = parts.map(\.finishedAt).max() ?? Date()
            try store.save(merged, id: id)
            for part in parts { if let partID = part.id { _ = try store.delete(id: partID) } }
            try fleet.merged(job: parent, map: id, failed: status == .failed,
                             error: failedShards > 0 ? "\(failedShards) shard(s) failed" : nil)
            log("job \(parent): the \(parts.count) shards are merged into map \(id) (\(merged.hosts.count) host(s))")
        } catch {
            log("job \(parent): merging its shards: \(error.description)")
            try? fleet.merged(job: parent, map: nil, failed: true, error: "merging its shards: \(error.description)")
        }
    }
}
