import ArgumentParser
import CartographCore
import Foundation

struct ProfilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "List and show option profiles.",
        subcommands: [List.self, Show.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the profiles in Profiles/.")

        func run() throws {
            let names = ProfileLoading.availableNames()
            if names.isEmpty { throw CLIError("no profiles found; set CARTOGRAPH_HOME", code: .noInput) }
            let width = names.map(\.count).max() ?? 0
            for name in names {
                let profile = try ProfileLoading.load(name)
                print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + profile.description.terminalSafe)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show every setting of a profile, defaults filled in.")

        @Argument(help: "A profile name or path.")
        var name: String

        func run() throws {
            print(try ProfileLoading.load(name).yaml().terminalSafeLines, terminator: "")
        }
    }
}
