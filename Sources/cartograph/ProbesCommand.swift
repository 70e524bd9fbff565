import ArgumentParser
import CartographCore
import CartographDNS
import CartographProbes
import Foundation

struct ProbesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probes",
        abstract: "List and show the Lua probes.",
        subcommands: [List.self, Show.self, Test.self, New.self]
    )

    struct Options: ParsableArguments {
        @Option(name: .long, help: ArgumentHelp("Also load probes from this directory (repeatable).", valueName: "dir"))
        var probeDir: [String] = []

        func load() throws(CLIError) -> ProbeLibrary { try Self.load(extra: probeDir, notices: false) }

        /// The shipped probes, the user's (`~/.config/cartograph/probes`) and `extra`, with their
        /// warnings on stderr.
        static func load(extra: [String], notices: Bool) throws(CLIError) -> ProbeLibrary {
            let library = try read(extra: extra).get()
            tell(library, notices: notices)
            return library
        }

        /// The probes compiled, saying nothing yet (any thread may read them).
        static func read(extra: [String]) -> Result<ProbeLibrary, CLIError> {
            let directories: [String]
            do { directories = try Resources.probeDirectories() + extra } catch { return .failure(error) }
            do {
                return .success(try ProbeLibrary.load(directories: directories))
            } catch {
                return .failure(CLIError("probe directory \(error.file): \(error.message)", code: .noInput))
            }
        }

        /// The library's warnings (and `notices`) on stderr.
        static func tell(_ library: ProbeLibrary, notices: Bool) {
            for warning in library.warnings { printError("warning: \(warning)") }
            for error in library.errors { printError("warning: probe \(error.description)") }
            if notices { for notice in library.notices { printError("note: \(notice)") } }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List probes: name, categories, ports, file.")
        @OptionGroup var options: Options

        func run() throws {
            let library = try options.load()
            let allRows = [["NAME", "CATEGORIES", "PORTS", "FILE"]] + library.definitions.map {
                [$0.name, $0.categories.joined(separator: ","),
                 $0.ports.isEmpty ? "-" : "\($0.proto.rawValue):\(PortRanges.compress($0.ports))", $0.file]
            }
            let rows = allRows.map { $0.map(\.terminalSafe) }   // probe files are anyone's text
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
        @Argument(help: "The probe's name.", completion: Completions.probes) var name: String

        func run() throws {
            let library = try options.load()
            guard let probe = library.definition(named: name) else {
                var message = "no probe named \"\(name)\""
                if let near = Suggestion.nearest(name, in: library.probeNamesByCommonness) { message += "; did you mean \"\(near)\"?" }
                throw CLIError(message, code: .usage)
            }
            print("name:        \(probe.name.terminalSafe)")
            print("description: \(probe.description.terminalSafe)")
            print("categories:  \(probe.categories.joined(separator: ", ").terminalSafe)")
            print("protocol:    \(probe.proto.rawValue)")
            print("ports:       \(probe.ports.isEmpty ? "(none declared)" : PortRanges.compress(probe.ports))")
            print("rarity:      \(probe.rarity)")
            print("file:        \(probe.file.terminalSafe)")
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run one probe file against one port and print every send and receive, then the result.",
            discussion: "The port goes through the same steps as in a map (passive banner read, TLS detection) with only this probe loaded. Exit 0 when the probe identified the service, 1 otherwise."
        )

        @Argument(help: "A probe's name (as 'probes list' shows it) or a probe file.", completion: Completions.probes) var file: String
        @Argument(help: "HOST:PORT, e.g. 127.0.0.1:22, [::1]:443 or server.example:25.") var target: String
        @OptionGroup var options: Options
        @Flag(name: .long, help: "The port is UDP.") var udp = false
        @Option(name: .long, help: ArgumentHelp("A probe argument (repeatable).", valueName: "key=value")) var arg: [String] = []
        @Option(name: .long, help: ArgumentHelp("Wall-clock limit of the probe.", valueName: "ms")) var timeout: Int = 8000

        func validate() throws {
            if timeout <= 0 { throw ValidationError("--timeout must be a positive number of milliseconds, not \(timeout)") }
        }

        func run() throws {
            let (address, port) = try Self.parseTarget(target)
            let file = try probeFile()
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CLIError("cannot read probe file \(file)", code: .noInput)
            }
            var libraries: [(path: String, text: String)] = []
            let libDirectory = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent("lib")
            for directory in [libDirectory, Resources.probesDirectory.map { $0 + "/lib" }].compactMap({ $0 }) {
                for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() where name.hasSuffix(".lua") {
                    if let text = FileManager.default.contents(atPath: "\(directory)/\(name)") {
                        libraries.append(("\(directory)/\(name)", String(decoding: text, as: UTF8.self)))
                    }
                }
            }
            let library = ProbeLibrary.load(files: [(path: file, text: String(decoding: data, as: UTF8.self))], libraries: libraries)
            if let error = library.errors.first { throw CLIError("probe \(error.description)", code: .dataError) }
            guard let probe = library.definitions.first else { throw CLIError("\(file) declares no probe", code: .dataError) }
            var settings = ProbeSettings()
            settings.trace = true
            settings.probeTimeoutMs = timeout
            settings.intensity = 9
            var args: [String: String] = [:]
            for pair in arg {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw CLIError("--arg wants key=value, not \"\(pair)\"", code: .usage) }
                args[parts[0]] = parts[1]
            }
            settings.args = [probe.name: args]
            let job = PortJob(address: address, port: port, proto: udp ? .udp : .tcp)
            guard probe.proto == job.proto else {
                throw CLIError("\(probe.name) is a \(probe.proto.rawValue) probe; the port is \(job.proto.rawValue) (use --udp for UDP)", code: .usage)
            }
            let identifier = ServiceIdentifier(library: library, probes: [probe], settings: settings, workers: 1)
            guard let result = try identifier.identify([job], cancel: CancellationFlag()).first else { return }
            for line in result.trace { print(line.terminalSafe) }
            for line in result.log { print("log: \(line.terminalSafe)") }
            guard let match = result.match else {
                print("result: no match")
                throw ExitCode(1)
            }
            var fields = ["name=\(match.name)"]
            if let product = match.product { fields.append("product=\(product)") }
            if let version = match.version { fields.append("version=\(version)") }
            if let extra = match.extraInfo { fields.append("extra=\(extra)") }
            if !match.cpe.isEmpty { fields.append("cpe=\(match.cpe.joined(separator: ","))") }
            if let device = match.deviceType { fields.append("device_type=\(device)") }
            if !match.osHints.isEmpty { fields.append("os=\(match.osHints.joined(separator: ","))") }
            if !match.hostnames.isEmpty { fields.append("hostnames=\(match.hostnames.joined(separator: ","))") }
            fields.append(match.certain ? "certain" : "tentative")
            print("result: " + fields.map(\.terminalSafe).joined(separator: "  "))
        }

        /// The file to test: a path as given, else the file of the probe of that name.
        func probeFile() throws(CLIError) -> String {
            if file.contains("/") || file.hasSuffix(".lua") || FileManager.default.fileExists(atPath: file) { return file }
            let library = try options.load()
            guard let probe = library.definition(named: file) else {
                var message = "no probe named \"\(file)\" and no such file"
                if let near = Suggestion.nearest(file, in: library.definitions.map(\.name)) { message += "; did you mean \"\(near)\"?" }
                throw CLIError(message, code: .usage)
            }
            return probe.file
        }

        static func parseTarget(_ text: String) throws(CLIError) -> (IPAddress, UInt16) {
            var host = text, portText = ""
            if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
                host = String(text[text.index(after: text.startIndex)..<close])
                portText = String(text[close...].dropFirst(2))
            } else if let colon = text.lastIndex(of: ":") {
                host = String(text[..<colon])
                portText = String(text[text.index(after: colon)...])
            }
            guard let port = UInt16(portText), port > 0 else {
                throw CLIError("\"\(text)\": port \"\(portText)\" is not a number from 1 to 65535", code: .usage)
            }
            if let address = IPAddress(host) { return (address, port) }
            guard !host.isEmpty, (try? TargetParser.validateName(host)) != nil else {
                throw CLIError("\"\(text)\": expected HOST:PORT, e.g. 127.0.0.1:22, [::1]:443 or server.example:25", code: .usage)
            }
            switch SystemResolver.addresses(of: host) {
            case .success(let addresses) where !addresses.isEmpty:
                return (addresses.first { $0.family == .v4 } ?? addresses[0], port)
            case .success:
                throw CLIError("\"\(text)\": \(host) has no addresses", code: .noInput)
            case .failure(let error):
                throw CLIError("\"\(text)\": \(error.description)", code: .noInput)
            }
        }
    }

    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a commented scaffold for a new probe.")
        @Argument(help: "The new probe's name (lowercase letters, digits, '-', '_').") var name: String
        @Option(name: .long, help: ArgumentHelp("Directory to write NAME.lua into.", valueName: "dir")) var dir: String = "."

        func run() throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw CLIError("probe name \"\(name)\" must be lowercase letters, digits, '-' or '_'", code: .usage)
            }
            let path = (dir as NSString).appendingPathComponent("\(name).lua")
            guard !FileManager.default.fileExists(atPath: path) else {
                throw CLIError("\(path) exists already; not overwritten", code: .usage)
            }
            guard FileManager.default.createFile(atPath: path, contents: Data(ProbeScaffold.text(name: name).utf8)) else {
                throw CLIError("cannot write \(path)", code: .noInput)
            }
            print("wrote \(path); try it with: cartograph probes test \(path) HOST:PORT")
        }
    }
}

/// The file `probes new` writes.
enum ProbeScaffold {
    static func text(name: String) -> String {
        """
        -- \(name): what service this probe identifies, and how (one or two lines).
        return {
          name = "\(name)",               -- shown as the service's discovery method
          description = "TODO: one line saying what this probe identifies",
          categories = { "default", "safe", "version" },
          ports = { 4000 },               -- TODO: ports the service usually runs on
          rarity = 5,                     -- 1: try early on other ports .. 7: try last
          -- tls = true,                  -- uncomment if the service may run over TLS

          run = function(host, port, args)
            -- What the passive banner read saw, if it ran: port.banner (bytes) or port.silent.
            local sock, err = socket.connect(host, port, { tls = port.tls })
            if not sock then return nil end
            sock:send("HELLO\\r\\n")            -- TODO: what the service expects first
            local line = sock:receive_line(3000)
            sock:close()
            if not line then return nil end
            local version = line:match("^OK (%S+)")  -- TODO: recognise the answer
            if not version then return nil end     -- nil: not this service, try the next probe
            return { name = "\(name)", product = "TODO", version = version }
          end,
        }

        """
    }
}
