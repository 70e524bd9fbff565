import ArgumentParser
import CartographCore
import CartographProbes
import Foundation

/// The command line: parses, wires the stages together, prints.
@main
struct Cartograph: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cartograph",
        abstract: "Maps networks: live hosts, open ports, and what runs on them.",
        version: "0.1.0",
        subcommands: [MapCommand.self, MapsCommand.self, HostsCommand.self, ProfilesCommand.self, ProbesCommand.self,
                      AgentCommand.self, ScannersCommand.self, QueueCommand.self, ScheduleCommand.self],
        defaultSubcommand: nil
    )

    /// Runs the command; bad input ends with one line on stderr and a documented exit code.
    static func main() {
        // Hidden: the probe worker process that identification starts (see ProbeSupervisor).
        if CommandLine.arguments.count == 2 && CommandLine.arguments[1] == "probe-worker" {
            Foundation.exit(ProbeWorkerProcess.main())
        }
        do {
            let arguments: [String]
            switch CommandLineHabits.rewrite(Array(CommandLine.arguments.dropFirst())) {
            case .arguments(let rewritten): arguments = rewritten
            case .refused(let line): throw CLIError(line, code: .usage)
            }
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let error as CLIError {
            printError(error.message)
            Foundation.exit(error.code.rawValue)
        } catch {
            // The argument parser's messages quote the command line; its help and usage are
            // several lines, so only their line breaks are kept.
            let code = exitCode(for: error)
            let message = fullMessage(for: error).terminalSafeLines
            if !message.isEmpty {
                let stream = code == .success ? FileHandle.standardOutput : FileHandle.standardError
                stream.write(Data((message + "\n").utf8))
            }
            Foundation.exit(code.rawValue)
        }
    }
}

/// Exit codes (also listed in the README).
enum ExitStatus: Int32 {
    case ok = 0
    /// A map failed while running.
    case failure = 1
    /// A bad command line: flags, targets, port lists, an unknown profile name.
    case usage = 64
    /// A bad input file: a profile, a target list, an exclude file.
    case dataError = 65
    /// A file or directory named on the command line cannot be read.
    case noInput = 66
    /// Stopped by Ctrl-C; what was found is still written.
    case interrupted = 130
}

/// An error the user can act on, printed as one line.
struct CLIError: Error {
    let message: String
    let code: ExitStatus
    init(_ message: String, code: ExitStatus) {
        self.message = message
        self.code = code
    }
}

/// One line on stderr, `cartograph: ` first. Errors, notes and warnings quote targets, file
/// contents and what remote hosts said, so the line is written `terminalSafe`: it stays one line
/// and moves no cursor.
func printError(_ line: String) {
    FileHandle.standardError.write(Data("cartograph: \(line.terminalSafe)\n".utf8))
}
