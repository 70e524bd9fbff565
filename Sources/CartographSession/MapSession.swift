import CartographCore
import CartographEngine
import CartographNotify
import CartographReport
import CartographStore
import Foundation

/// One invocation's maps, run and kept: the store row each map gets before it starts (so a map
/// cut short is still there), its checkpoints, the final save, the stamp of who ran it where,
/// rogue hosts against the inventory, the trend against the previous map of its target, and the
/// notifications once the report is out. The command line hosts it, and so will a scanner
/// agent; each gives it hooks for its own progress display and interruption handling.
public final class MapSession {
    /// Who runs the maps, where, and under which title.
    public struct Launch: Sendable {
        public var title: String?
        public var network: Inventory.Network
        public var scanner: String
        public var launchedBy: String
        public var launchedAt: Date

        public init(title: String?, network: Inventory.Network, scanner: String, launchedBy: String, launchedAt: Date) {
            self.title = title
            self.network = network
            self.scanner = scanner
            self.launchedBy = launchedBy
            self.launchedAt = launchedAt
        }
    }

    /// What the host is told as the maps run. Every hook is called on the session's thread.
    public struct Hooks {
        /// A map is about to run: its first row, and the writer of its checkpoints if stored.
        public var began: (MapResult, CheckpointWriter?) -> Void = { _, _ in }
        /// The map so far, stamped, each time the scheduler hands over a checkpoint.
        public var checkpoint: (MapResult) -> Void = { _ in }
        /// The scheduler starts (true) or stops (false) running a map.
        public var running: (Bool) -> Void = { _ in }
        /// A line for the user (a map failed, the store could not keep it).
        public var message: (String) -> Void = { _ in }
        /// What the running map's stages find, as the scheduler folds it in: the map's id in the
        /// store (nil when not stored), the event, and the hosts it made live first.
        public var event: ((Int64?, MapEvent, [IPAddress]) -> Void)?
        /// A map ended and is kept: its summary and its final result.
        public var ended: (MapCompletion, MapResult) -> Void = { _, _ in }

        public init() {}
    }

    /// What the maps came to.
    public struct Outcome {
        public var maps: [MapResult] = []
        public var completions: [MapCompletion] = []
        /// A map failed while running (its findings are still kept).
        public var failed = false
        /// A map could not be stored (the report still has it).
        public var unsaved = false
    }

    let store: (any MapStore)?
    let launch: Launch
    let inventory: Inventory
    let reportPath: String?
    let hooks: Hooks

    /// `reportPath` is where the report will be written, for the summary; without it the summary
    /// points at the stored map.
    public init(store: (any MapStore)?, launch: Launch, inventory: Inventory, reportPath: String?, hooks: Hooks) {
        self.store = store
        self.launch = launch
        self.inventory = inventory
        self.reportPath = reportPath
        self.hooks = hooks
    }

    /// Runs each map of `plan` in turn with `context`, stopping before the next one once
    /// `context.cancel` is set. `resuming`: the plan is one stored map that stopped before it
    /// ended, continued under its id from its last checkpoint (`MapStore.reopen`).
    public func run(_ plan: [MapSpec], context: MapContext, resuming: Int64? = nil) -> Outcome {
        var outcome = Outcome()
        for spec in plan {
            if context.cancel.isCancelled { break }
            let (completion, result) = runOne(spec, context: context, resuming: resuming, outcome: &outcome)
            outcome.completions.append(completion)
            outcome.maps.append(result)
            hooks.ended(completion, result)
        }
        return outcome
    }

    /// Sends each map's notifications. Called after the report is written and every map is
    /// stored: a notification that fails is logged and retried, and can never cost a map.
    public func notify(_ outcome: Outcome, with notifier: Notifier?) {
        guard let notifier else { return }
        for completion in outcome.completions { _ = notifier.notify(completion) }
    }

    private func runOne(_ spec: MapSpec, context: MapContext, resuming: Int64?,
                        outcome: inout Outcome) -> (MapCompletion, MapResult) {
        var skeleton = self.skeleton(of: spec, profile: context.profile.name)
        // The probe library's warnings (writable directories, files that failed to load) are in
        // the map's row from the start.
        skeleton.warnings = context.probes.mapWarnings
        let approved = inventory.approvedHosts(domain: spec.domain)
        var id: Int64?
        var runContext = context
        context.prepare(spec)
        if let store, let resuming {
            do {
                let checkpoint = try store.reopen(id: resuming, pid: getpid())
                id = resuming
                // Its own stamp, as stored; its findings so far go to the scheduler to continue from.
                skeleton.title = checkpoint.title
                skeleton.scanner = checkpoint.scanner
                skeleton.launchedBy = checkpoint.launchedBy
                skeleton.launchedAt = checkpoint.launchedAt
                skeleton.startedAt = checkpoint.startedAt
                skeleton.assetGroup = checkpoint.assetGroup
                runContext.resume = checkpoint
            } catch {
                context.release()
                hooks.message("map \(resuming) cannot be resumed: \(error.description)")
                outcome.failed = true
                outcome.unsaved = true
                var result = skeleton
                result.status = .failed
                result.warnings.append("failed: \(error.description)")
                return (MapCompletion(map: result), result)
            }
        } else if let store {
            do { id = try store.begin(skeleton, settings: context.profile, network: launch.network) } catch {
                hooks.message("warning: \(error.description); this map is not saved")
            }
        }
        if id == nil { outcome.unsaved = true }
        skeleton.id = id
        let writer = id.flatMap { id in store.map { CheckpointWriter(store: $0, id: id) } }
        hooks.began(skeleton, writer)
        if let event = hooks.event { runContext.observe = { event(id, $0, $1) } }
        runContext.checkpoint = { [hooks] partial in
            let stamped = Self.stamp(partial, like: skeleton, approved: approved)
            hooks.checkpoint(stamped)
            writer?.submit(stamped)
        }
        var result: MapResult
        hooks.running(true)
        do {
            result = Self.stamp(try MapRunner(context: runContext).run(spec), like: skeleton, approved: approved)
        } catch {
            hooks.message("map \(spec.target) failed: \(error)")
            outcome.failed = true
            // What the last checkpoint had found stays: the map failed, its findings did not.
            result = writer?.finish().newest ?? skeleton
            result.status = .failed
            result.finishedAt = Date()
            result.warnings.append("failed: \(error)")
        }
        context.release()   // what `prepare` opened and no stage took (a map cut short, say)
        if let checkpointFailure = writer?.finish().failure {
            hooks.message("warning: \(checkpointFailure); checkpoints were not all saved")
        }
        if let id, let store {
            do { result = try store.save(result, id: id) } catch {
                hooks.message("warning: \(error.description); this map is not saved")
                outcome.unsaved = true
            }
        }
        hooks.running(false)
        var completion = MapCompletion(map: result)
        completion.error = result.status == .failed ? result.warnings.last : nil
        completion.trend = store.flatMap { Self.trend(of: result, in: $0) }
        completion.report = reportPath.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            ?? id.flatMap { id in store.map { "map \(id) in \($0.location) (cartograph maps show \(id))" } }
        return (completion, result)
    }

    /// The map's row before it runs: who, where, when, and under which title.
    func skeleton(of spec: MapSpec, profile: String) -> MapResult {
        var skeleton = MapResult(target: spec.target, profile: profile, status: .running, startedAt: Date(),
                                 finishedAt: Date(), addressesScanned: String(spec.addresses.count),
                                 excludedAddresses: String(spec.excludedCount), hosts: [], warnings: [])
        skeleton.assetGroup = spec.group
        skeleton.title = launch.title ?? spec.target
        skeleton.network = launch.network.name
        skeleton.scanner = launch.scanner
        skeleton.launchedBy = launch.launchedBy
        skeleton.launchedAt = launch.launchedAt
        return skeleton
    }

    /// `map` with the skeleton's stamp, and its hosts marked rogue where the inventory lists the
    /// approved ones.
    static func stamp(_ map: MapResult, like skeleton: MapResult, approved: AddressSet?) -> MapResult {
        var map = map
        map.title = skeleton.title
        map.network = skeleton.network
        map.scanner = skeleton.scanner
        map.launchedBy = skeleton.launchedBy
        map.launchedAt = skeleton.launchedAt
        if let approved {
            // Routers a traceroute found on the way are not the map's hosts to approve.
            for index in map.hosts.indices where map.hosts[index].excluded != true && !map.hosts[index].isOnTheWay {
                let address = IPAddress(map.hosts[index].address)
                map.hosts[index].rogue = address.map { !approved.contains($0) }
            }
        }
        return map
    }

    /// The map against the previous one of its target in its network, when the store has one.
    static func trend(of map: MapResult, in store: any MapStore) -> MapCompletion.Trend? {
        guard let id = map.id, let previousID = try? store.previous(of: id), let previous = try? store.map(id: previousID) else {
            return nil
        }
        let diff = MapDiff(old: previous, new: map, oldSettings: try? store.settings(id: previousID),
                           newSettings: try? store.settings(id: id))
        return MapCompletion.Trend(diff: diff, old: previous, new: map)
    }
}
