import ArgumentParser
import CartographCore
import CartographReport
import CartographStore
import Foundation

/// `cartograph maps`: the stored maps, listed, shown, deleted, reported and compared.
struct MapsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maps",
        abstract: "List, show, delete, report and compare stored maps.",
        subcommands: [List.self, Show.self, Delete.self, Report.self, Diff.self]
    )

    enum ListFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per stored map, newest first.")

        @OptionGroup var store: StoreOptions

        @Option(name: .long, help: ArgumentHelp("Only maps of this network.", valueName: "name"))
        var network: String?

        @Option(name: .long, help: ArgumentHelp("Output format.", valueName: "format"))
        var format: ListFormat = .text

        func run() throws {
            try checkNetworkName(network, allowingAll: false)
            let store = try self.store.open(readOnly: true)
            let maps: [MapSummary]
            do { maps = try store.list(network: network) } catch { throw CLIError(error.description, code: .noInput) }
            if format == .json {
                print(try MapReport.jsonText(maps))
                return
            }
            if maps.isEmpty {
                print("no maps in \(store.location.terminalSafe)")
                return
            }
            let now = Date()
            var rows = [["ID", "TARGET", "NETWORK", "PROFILE", "STARTED", "AGO", "DURATION", "HOSTS", "PORTS", "STATUS"]]
            for map in maps {
                let end = map.finishedAt ?? now
                rows.append([
                    String(map.id), map.title == map.target ? map.target : "\(map.title) (\(map.target))", map.network,
                    map.profile, TextReport.timestamp(map.startedAt), humanDuration(now.timeIntervalSince(map.launchedAt)),
                    humanDuration(end.timeIntervalSince(map.startedAt)), String(map.hosts), String(map.openPorts),
                    map.status.rawValue,
                ])
            }
            print(TextReport.table(rows, indent: ""))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A stored map: who ran it, when, with which settings, and what it found.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The map's id, or 'latest'.")
        var id: MapID = MapID(argument: "latest")!

        func run() throws {
            let store = try self.store.open(readOnly: true)
            let id = try self.id.resolve(in: store)
            let map = try store.load(id)
            // Every stored string is the user's or a remote host's: each is written terminalSafe.
            var out = "map \(id): \((map.title ?? map.target).terminalSafe)\n"
            out += "  target     \(map.target.terminalSafe)" + (map.assetGroup.map { " (asset group @\($0.terminalSafe))" } ?? "") + "\n"
            out += "  network    \(map.network.terminalSafe)\n"
            out += "  scanner    \((map.scanner ?? "?").terminalSafe), launched by \((map.launchedBy ?? "?").terminalSafe)\n"
            if let launched = map.launchedAt { out += "  launched   \(TextReport.timestamp(launched))\n" }
            out += "  started    \(TextReport.timestamp(map.startedAt))\n"
            out += "  finished   \(TextReport.timestamp(map.finishedAt)) (took \(humanDuration(map.finishedAt.timeIntervalSince(map.startedAt))))\n"
            out += "  status     \(map.status.rawValue)\n"
            out += "  profile    \(map.profile.terminalSafe); its settings as used:\n"
            let settings: Profile?
            do { settings = try store.settings(id: id) } catch { throw CLIError(error.description, code: .noInput) }
            if let settings {
                out += settings.yaml().split(separator: "\n", omittingEmptySubsequences: false)
                    .map { $0.isEmpty ? "" : "    " + String($0).terminalSafe }.joined(separator: "\n")
            }
            print(out)
            print(TextReport.render(MapReport(maps: [map])), terminator: "")
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a stored map with its hosts and services.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "The map's id.")
        var id: Int64

        func run() throws {
            let store = try self.store.open()
            let deleted: Bool
            do { deleted = try store.delete(id: id) } catch { throw CLIError(error.description, code: .failure) }
            guard deleted else { throw CLIError("no map \(id) in \(store.location)", code: .noInput) }
            print("deleted map \(id)")
        }
    }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Report a stored map (default: the latest) in any format.")

        @OptionGroup var store: StoreOptions

        @Argument(help: "Map ids (default: the latest map).")
        var ids: [MapID] = []

        @Option(name: .long, help: ArgumentHelp("text, json, jsonl, csv, xml (nmap) or html (default: from the -o file's extension, else text).", valueName: "format"))
        var format: ReportFormat?

        @Option(name: .long, help: ArgumentHelp("Without ids: the latest map of every target in this network, or in 'all'.", valueName: "name|all"))
        var network: String?

        func validate() throws {
            if network != nil && !ids.isEmpty { throw ValidationError("give map ids or --network, not both") }
        }

        @Option(name: [.short, .long], help: ArgumentHelp("Write the report to a file ('-': stdout).", valueName: "file"))
        var output: String?

        func run() throws {
            let (format, output) = ReportFormat.destination(format: format, output: output)
            try checkNetworkName(network, allowingAll: true)
            if let output { try store.checkReport(output) }
            let store = try self.store.open(readOnly: true)
            var maps: [MapResult] = []
            if let network {
                let latest: [Int64]
                do { latest = try store.latestPerTarget(network: network == "all" ? nil : network) } catch {
                    throw CLIError(error.description, code: .noInput)
                }
                if latest.isEmpty { throw CLIError("no maps of network \"\(network)\" in \(store.location)", code: .noInput) }
                for id in latest { maps.append(try store.load(id)) }
            }
            for id in ids.isEmpty && network == nil ? [MapID(argument: "latest")!] : ids {
                maps.append(try store.load(try id.resolve(in: store)))
            }
            try emit(try format.render(MapReport(maps: maps)), to: output)
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two maps: new and vanished hosts, opened and closed ports, changed services.",
            discussion: """
            Without ids: the two latest complete maps of the latest complete map's target and network. \
            Only what the newer map scanned is compared: a port it did not scan is 'not scanned', never closed.
            """
        )

        @OptionGroup var store: StoreOptions

        @Argument(help: "The older and the newer map's ids.")
        var ids: [Int64] = []

        @Option(name: .long, help: ArgumentHelp("Output format.", valueName: "format"))
        var format: ListFormat = .text

        @Flag(name: .long, help: "Also compare maps still running (their findings are partial).")
        var includeRunning = false

        func validate() throws {
            if !ids.isEmpty && ids.count != 2 { throw ValidationError("give two map ids (OLD NEW), or none for the latest two") }
        }

        func run() throws {
            let store = try self.store.open(readOnly: true)
            let pair: (Int64, Int64)
            if ids.count == 2 {
                pair = (ids[0], ids[1])
                for id in ids where !includeRunning {
                    let status: MapResult.Status?
                    do { status = try store.status(id: id) } catch { throw CLIError(error.description, code: .noInput) }
                    if status == .running {
                        throw CLIError("map \(id) is still running; wait for it, or give --include-running to compare what it has so far",
                                       code: .usage)
                    }
                }
            } else {
                _ = try MapID(argument: "latest")!.resolve(in: store)   // says so when the store is empty
                let latest: (Int64, Int64)?
                do { latest = try store.latestPair(includeRunning: includeRunning) } catch {
                    throw CLIError(error.description, code: .noInput)
                }
                guard let latest else {
                    throw CLIError("the latest complete map's target has fewer than two complete maps in its network\(includeRunning ? "" : " (running maps are skipped without --include-running)"); give two ids (see 'cartograph maps list')", code: .noInput)
                }
                pair = latest
            }
            let settings: (Profile?, Profile?)
            do { settings = (try store.settings(id: pair.0), try store.settings(id: pair.1)) } catch {
                throw CLIError(error.description, code: .noInput)
            }
            let diff = MapDiff(old: try store.load(pair.0), new: try store.load(pair.1),
                               oldSettings: settings.0, newSettings: settings.1)
            switch format {
            case .text: print(diff.renderText(), terminator: "")
            case .json: print(try MapReport.jsonText(diff))
            }
        }
    }
}

/// `cartograph hosts`: the latest known state of each host, one line per (network, address).
struct HostsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        abstract: "The latest known state of each host, one line per network and address."
    )

    @OptionGroup var store: StoreOptions

    @Option(name: .long, help: ArgumentHelp("A network's name, or 'all'.", valueName: "name|all"))
    var network: String = "all"

    @Option(name: .long, help: ArgumentHelp("Output format.", valueName: "format"))
    var format: MapsCommand.ListFormat = .text

    func run() throws {
        try checkNetworkName(network, allowingAll: true)
        let store = try self.store.open(readOnly: true)
        let states: [HostState]
        do {
            states = try store.hosts(network: network == "all" ? nil : network)
            if states.isEmpty && network != "all" {
                let known = try store.networks().map(\.name)
                if !known.contains(network) {
                    let hint = Suggestion.nearest(network, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
                    throw CLIError("no network \"\(network)\" in \(store.location)\(hint); known: \(known.joined(separator: ", "))", code: .usage)
                }
            }
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(error)", code: .noInput)
        }
        if format == .json {
            print(try MapReport.jsonText(states))
            return
        }
        var rows = [["NETWORK", "ADDRESS", "NAMES", "OPEN PORTS", "SEEN", "MAP", "FLAGS"]]
        for state in states {
            let host = state.host
            let ports = host.services.map { "\($0.port)/\($0.protocol.rawValue) \($0.name ?? "unknown")" }
            rows.append([
                state.network, host.address, host.hostnames.map(\.name).joined(separator: ","),
                ports.isEmpty ? "-" : ports.joined(separator: ", "), TextReport.timestamp(state.seenAt), String(state.mapId),
                host.rogue == true ? "rogue" : "",
            ])
        }
        print(states.isEmpty ? "no hosts in \(store.location.terminalSafe)" : TextReport.table(rows, indent: ""))
    }
}
