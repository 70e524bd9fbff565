import ArgumentParser
import CartographCore
import CartographStore
import Foundation

/// `cartograph scanners`: the agents, their network, last heartbeat and current map.
struct ScannersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scanners",
        abstract: "List the scanner agents of the team store: network, state, last heartbeat, current map."
    )

    @OptionGroup var store: StoreOptions

    @Option(name: .long, help: ArgumentHelp("Only this network's scanners.", valueName: "name"))
    var network: String?

    func run() throws {
        let fleet = try FleetAccess.open(store)
        defer { fleet.close() }
        let scanners: [ScannerRecord], now: Date
        do {
            scanners = try fleet.scanners(network: network)
            now = try fleet.now()
        } catch {
            throw CLIError(error.description, code: .noInput)
        }
        guard !scanners.isEmpty else {
            print("no scanners have registered\(network.map { " in network \($0)" } ?? "") (start one: cartograph agent --network NAME)")
            return
        }
        var rows = [["NETWORK", "SCANNER", "STATE", "HEARTBEAT", "JOB", "MAP", "HOST", "PID"]]
        for scanner in scanners {
            let age = Int(now.timeIntervalSince(scanner.heartbeatAt).rounded())
            let state = scanner.state != "stopped" && !scanner.isAlive(now: now, staleAfter: FleetAccess.staleAfter) ? "gone" : scanner.state
            rows.append([scanner.network, scanner.name, state, "\(max(age, 0)) s ago", scanner.job.map(String.init) ?? "-",
                         scanner.map.map(String.init) ?? "-", scanner.host, String(scanner.pid)])
        }
        print(Table.render(rows), terminator: "")
    }
}

/// `cartograph queue`: queued and running maps; `queue cancel ID`.
struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "List the queued and running maps of the team store, or cancel one.",
        subcommands: [List.self, Cancel.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List queued and running maps (with --all, ended ones too).")

        @OptionGroup var store: StoreOptions

        @Option(name: .long, help: ArgumentHelp("Only this network's maps.", valueName: "name"))
        var network: String?

        @Flag(name: .long, help: "Ended jobs too (done, failed, cancelled).")
        var all = false

        func run() throws {
            let fleet = try FleetAccess.open(store)
            defer { fleet.close() }
            let jobs: [QueuedJob]
            do { jobs = try fleet.jobs(network: network, all: all) } catch { throw CLIError(error.description, code: .noInput) }
            guard !jobs.isEmpty else {
                print(all ? "the queue has never held a map" : "nothing is queued or running")
                return
            }
            var rows = [["JOB", "STATUS", "NETWORK", "SCANNER", "MAP", "TRIES", "TARGET"]]
            for job in jobs {
                let scanner = job.claimedBy ?? job.scanner.map { job.strict ? $0 : "\($0)?" } ?? "any"
                let target = job.target + (job.shard.map { " (shard \($0 + 1) of \(job.shards ?? 0) of job \(job.splitOf ?? 0))" } ?? "")
                    + (job.error.map { ": \($0)" } ?? "")
                rows.append([String(job.id), job.status.rawValue, job.network, scanner, job.mapId.map(String.init) ?? "-",
                             String(job.attempts), target])
            }
            print(Table.render(rows), terminator: "")
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a queued or running map (a shared map with its shards).")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The job's id (cartograph queue).")
        var job: Int64

        func run() throws {
            let fleet = try FleetAccess.open(store)
            defer { fleet.close() }
            let cancelled: Bool
            do { cancelled = try fleet.cancel(job: job) } catch { throw CLIError(error.description, code: .noInput) }
            guard cancelled else { throw CLIError("queue cancel: there is no queued or running job \(job)", code: .usage) }
            print("cancelled job \(job); a scanner running it stops at its next lease renewal, keeping what it found")
        }
    }
}

/// `cartograph schedule add|list|remove`.
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Maps that the network's agents queue on a schedule.",
        subcommands: [Add.self, List.self, Remove.self],
        defaultSubcommand: List.self
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a schedule: TARGETS mapped every --every, from --at on.",
            discussion: """
            Targets, profile and options are read now (asset groups expand, the profile is kept as \
            its settings), and every firing queues the same maps for the network's agents, as \
            'cartograph map --queue' would. The agents fire due schedules: each firing is queued \
            once however many agents are up; firings missed while no agent ran are not made up.
            """
        )

        @Argument(help: "The schedule's name.")
        var name: String

        @Option(name: .long, help: ArgumentHelp("How often: a number with s, m, h or d (30m, 6h, 1d).", valueName: "interval"))
        var every: String

        @Option(name: .long, help: ArgumentHelp("The first firing: HH:MM (UTC, today or tomorrow) or an ISO 8601 time (default: now).", valueName: "time"))
        var at: String?

        @Argument(parsing: .allUnrecognized, help: "Targets and map options (as for cartograph map, e.g. 198.18.1.0/24 --profile fast --scanner default).")
        var mapArguments: [String] = []

        func validate() throws {
            if let problem = Inventory.Network.nameProblem(name) { throw ValidationError("schedule name: \(problem)") }
            if Self.seconds(every) == nil { throw ValidationError("--every \(every): give a number with s, m, h or d (30m, 6h, 1d)") }
        }

        static func seconds(_ text: String) -> Int64? {
            guard let unit = text.last, let number = Int64(text.dropLast()), number > 0 else { return nil }
            switch unit {
            case "s": return number
            case "m": return number * 60
            case "h": return number * 3600
            case "d": return number * 86400
            default: return nil
            }
        }

        static func first(_ text: String?, now: Date) throws(CLIError) -> Date {
            guard let text else { return now }
            let parts = text.split(separator: ":")
            if parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0..<24).contains(hour), (0..<60).contains(minute) {
                var calendar = Calendar(identifier: .gregorian)
                calendar.timeZone = TimeZone(identifier: "UTC")!
                let today = calendar.date(bySettingHour: hour, minute: minute, second: 0, of: now) ?? now
                return today > now ? today : today.addingTimeInterval(86400)
            }
            if let date = ISO8601DateFormatter().date(from: text) { return date }
            throw CLIError("--at \(text): give HH:MM (UTC) or an ISO 8601 time such as 2026-12-03T02:00:00Z", code: .usage)
        }

        func run() throws {
            // The map command reads the targets and options, and queues nothing: its plan becomes
            // the schedule's jobs.
            var map: MapCommand
            do {
                map = try MapCommand.parse(CommandLineHabitsForSchedule.rewrite(mapArguments) + ["--queue"])
                try map.validate()
            } catch let error as CLIError {
                throw error
            } catch {
                throw CLIError("schedule add \(name): \(MapCommand.fullMessage(for: error).terminalSafe)", code: .usage)
            }
            let jobs = try map.plannedJobs()
            let fleet = try FleetAccess.open(map.store)
            defer { fleet.close() }
            let seconds = Self.seconds(every) ?? 0
            let start = try Self.first(at, now: (try? fleet.now()) ?? Date())
            do {
                try fleet.addSchedule(name: name, everySeconds: seconds, first: start, network: map.network, scanner: map.scanner,
                                      jobs: jobs, createdBy: Identity.user)
            } catch {
                throw CLIError(error.description, code: .usage)
            }
            print("schedule \(name): \(jobs.count) map(s) every \(every) in network \(map.network), first at \(start.utc("yyyy-MM-dd HH:mm:ss 'UTC'"))")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the schedules.")

        @OptionGroup var store: StoreOptions

        func run() throws {
            let fleet = try FleetAccess.open(store)
            defer { fleet.close() }
            let schedules: [ScheduleRecord]
            do { schedules = try fleet.schedules() } catch { throw CLIError(error.description, code: .noInput) }
            guard !schedules.isEmpty else {
                print("no schedules (add one: cartograph schedule add NAME --every 1d TARGETS)")
                return
            }
            var rows = [["SCHEDULE", "EVERY", "NEXT", "NETWORK", "SCANNER", "FIRED", "MAPS"]]
            for schedule in schedules {
                rows.append([schedule.name, Self.interval(schedule.everySeconds), schedule.nextAt.utc("yyyy-MM-dd HH:mm:ss 'UTC'"), schedule.network,
                             schedule.scanner ?? "any", String(schedule.fired), schedule.jobs.map(\.target).joined(separator: " ")])
            }
            print(Table.render(rows), terminator: "")
        }

        static func interval(_ seconds: Int64) -> String {
            for (size, unit) in [(Int64(86400), "d"), (3600, "h"), (60, "m")] where seconds % size == 0 { return "\(seconds / size)\(unit)" }
            return "\(seconds)s"
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "remove", abstract: "Remove a schedule (maps it queued stay queued).")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The schedule's name.")
        var name: String

        func run() throws {
            let fleet = try FleetAccess.open(store)
            defer { fleet.close() }
            let removed: Bool
            do { removed = try fleet.removeSchedule(name: name) } catch { throw CLIError(error.description, code: .noInput) }
            guard removed else { throw CLIError("schedule remove: there is no schedule \"\(name)\"", code: .usage) }
            print("removed schedule \(name)")
        }
    }
}

/// nmap's forms in a schedule's map arguments mean what they mean to `cartograph map`.
enum CommandLineHabitsForSchedule {
    static func rewrite(_ arguments: [String]) throws(CLIError) -> [String] {
        switch CommandLineHabits.rewrite(["map"] + arguments) {
        case .arguments(let rewritten): return Array(rewritten.dropFirst())
        case .refused(let line): throw CLIError(line, code: .usage)
        }
    }
}

/// Left-aligned columns, two spaces apart.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell.terminalSafe : cell.terminalSafe.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
