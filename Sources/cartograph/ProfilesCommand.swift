import ArgumentParser
import CartographCore
import Foundation

struct ProfilesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profiles",
        abstract: "List, show and copy option profiles.",
        discussion: "Profiles are read from $XDG_CONFIG_HOME/cartograph/profiles (~/.config/cartograph/profiles) first, then from the shipped Profiles directory; a profile of your own with a shipped profile's name takes its place.",
        subcommands: [List.self, Show.self, New.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the profiles: name, file, description.")

        func run() throws {
            let profiles = ProfileLoading.available()
            if profiles.isEmpty { _ = try ProfileLoading.locate("default") }   // names where it looked
            let width = profiles.map(\.name.count).max() ?? 0
            let pathWidth = profiles.map(\.path.count).max() ?? 0
            for (name, path) in profiles {
                let profile = try ProfileLoading.load(path)
                print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                      + path.terminalSafe.padding(toLength: pathWidth, withPad: " ", startingAt: 0) + "  "
                      + profile.description.terminalSafe)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show every setting of a profile, defaults filled in.")

        @Argument(help: "A profile name or path.", completion: Completions.profiles)
        var name: String

        func run() throws {
            print(try ProfileLoading.load(name).yaml().terminalSafeLines, terminator: "")
        }
    }

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an editable copy of a profile as a profile of your own.",
            discussion: "The copy is the source file as written (comments, top:N port lists and all) with its name changed; edit it, then map with --profile NAME."
        )

        @Argument(help: "The new profile's name (letters, digits, '-', '_').")
        var name: String

        @Option(name: .long, help: ArgumentHelp("The profile to copy: a name or a path.", valueName: "name|path"), completion: Completions.profiles)
        var from: String = "default"

        @Option(name: .long, help: ArgumentHelp("Directory to write NAME.yaml into (default: $XDG_CONFIG_HOME/cartograph/profiles).", valueName: "dir"))
        var dir: String?

        func run() throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw CLIError("profile name \"\(name)\" must be letters, digits, '-' or '_'", code: .usage)
            }
            let source = ProfileLoading.isPath(from) ? from : try ProfileLoading.locate(from)
            _ = try ProfileLoading.load(source)   // a broken source is named now, not when the copy is used
            guard let data = FileManager.default.contents(atPath: source) else {
                throw CLIError("cannot read profile file \(source)", code: .noInput)
            }
            let directory = dir ?? Resources.userProfilesDirectory
            let path = (directory as NSString).appendingPathComponent("\(name).yaml")
            guard !FileManager.default.fileExists(atPath: path) else {
                throw CLIError("\(path) exists already; not overwritten", code: .usage)
            }
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw CLIError("cannot create \(directory): \(error.localizedDescription)", code: .noInput)
            }
            let text = ProfileCopy.renamed(String(decoding: data, as: UTF8.self), to: name, from: source)
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw CLIError("cannot write \(path)", code: .noInput)
            }
            print("wrote \(path) (a copy of \(source)); map with it: cartograph map --profile \(name) TARGETS")
        }
    }
}

/// The text `profiles new` writes: the source as written, its `name:` line changed (or one
/// added at the top), and a comment saying where it came from.
enum ProfileCopy {
    static func renamed(_ text: String, to name: String, from source: String) -> String {
        var lines = text.components(separatedBy: "\n")
        if let index = lines.firstIndex(where: { $0.hasPrefix("name:") }) {
            lines[index] = "name: \(name)"
        } else {
            lines.insert("name: \(name)", at: 0)
        }
        return "# Copied from \(source) by 'cartograph profiles new'; edit freely.\n" + lines.joined(separator: "\n")
    }
}
