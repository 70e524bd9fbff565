import ArgumentParser
import CartographCore
import CartographProbes
import Foundation

struct ProbesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probes",
        abstract: "List and show the Lua probes.",
        subcommands: [List.self, Show.self]
    )

    struct Options: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Also load probes from this directory (repeatable).", valueName: "dir"))
        var probeDir: [String] = []

        func load() throws(CLIError) -> ProbeLibrary {
            var directories: [String] = []
            if let shipped = Resources.probesDirectory { directories.append(shipped) }
            directories += probeDir
            do {
                let library = try ProbeLibrary.load(directories: directories)
                for error in library.errors { printError("warning: probe \(error.description)") }
                return library
            } catch {
                throw CLIError("probe directory \(error.file): \(error.message)", code: .noInput)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List probes: name, categories, ports, file.")
        @OptionGroup var options: Options

        func run() throws {
            let library = try options.load()
            let rows = [["NAME", "CATEGORIES", "PORTS", "FILE"]] + library.definitions.map {
                [$0.name, $0.categories.joined(separator: ","),
                 $0.ports.isEmpty ? "-" : "\($0.proto.rawValue):\(PortRanges.compress($0.ports))", $0.file]
            }
            var widths = [0, 0, 0, 0]
            for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
            for row in rows {
                print(row.enumerated().map { i, cell in
                    i == 3 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                }.joined(separator: "  "))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one probe's declaration.")
        @OptionGroup var options: Options
        @Argument(help: "The probe's name.") var name: String

        func run() throws {
            let library = try options.load()
            guard let probe = library.definition(named: name) else {
                var message = "no probe named \"\(name)\""
                if let near = Suggestion.nearest(name, in: library.definitions.map(\.name)) { message += "; did you mean \"\(near)\"?" }
                throw CLIError(message, code: .usage)
            }
            print("name:        \(probe.name)")
            print("description: \(probe.description)")
            print("categories:  \(probe.categories.joined(separator: ", "))")
            print("protocol:    \(probe.proto.rawValue)")
            print("ports:       \(probe.ports.isEmpty ? "(none declared)" : PortRanges.compress(probe.ports))")
            print("rarity:      \(probe.rarity)")
            print("file:        \(probe.file)")
        }
    }
}
