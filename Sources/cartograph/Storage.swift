import ArgumentParser
import CartographCore
import CartographReport
import CartographStore
import Foundation

/// `--db`, shared by every command that reads or writes the store.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The map store: a SQLite file, or a PostgreSQL URL (postgresql://…) (default: $CARTOGRAPH_DB, else $XDG_DATA_HOME/cartograph/maps.sqlite).", valueName: "path|url"))
    var db: String?

    /// The store's path or URL, as given (a URL may carry a password: print `printable`).
    var location: String { db ?? MapStores.defaultLocation() }
    /// The store as messages name it: a URL without its password.
    var printable: String { MapStores.printable(location) }

    /// `readOnly`: the command only reads, so a store that cannot be written is still read
    /// (and what it could not do is said in a note).
    func open(readOnly: Bool = false) throws(CLIError) -> any MapStore {
        do {
            let store = try MapStores.open(location, readOnly: readOnly)
            for note in store.notes { printError("note: \(note)") }
            return store
        } catch {
            throw CLIError(error.description, code: .noInput)
        }
    }

    /// Refuses a report path that is the store (or its -wal or -shm file), by resolved path and,
    /// for files that exist, by device and inode; and one that cannot be written (a missing
    /// directory, no permission, a directory). Runs before anything else, so nothing is lost.
    func checkReport(_ output: String, option: String = "-o") throws(CLIError) {
        let target = FileIdentity(output)
        let path = location
        for file in MapStores.isPostgres(path) ? [] : [path, path + "-wal", path + "-shm"] where target.same(as: FileIdentity(file)) {
            throw CLIError("\(option) \(output): that is the map store \(file); give the report another path", code: .usage)
        }
        // Opened for writing without truncating and without waiting for a FIFO's reader; a
        // file made here is written by the report later.
        let fd = Foundation.open(output, O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY, 0o600)
        if fd >= 0 {
            close(fd)
        } else if errno != ENXIO {   // ENXIO: a FIFO nobody reads yet
            throw CLIError("\(option) \(output): cannot write the report there: \(String(cString: strerror(errno)))", code: .usage)
        }
    }
}

/// Where a path leads: its resolved path (the parent resolved when the file does not exist)
/// and, when it exists, its device and inode.
struct FileIdentity {
    var resolved: String
    var node: (dev_t, ino_t)?

    init(_ path: String) {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        func real(_ path: String) -> String? {
            guard let pointer = realpath(path, nil) else { return nil }
            defer { free(pointer) }
            return String(cString: pointer)
        }
        let url = URL(fileURLWithPath: absolute).standardizedFileURL
        if let whole = real(absolute) {
            resolved = whole
        } else {
            let parent = url.deletingLastPathComponent().path
            resolved = (real(parent) ?? parent) + "/" + url.lastPathComponent
        }
        var info = stat()
        node = stat(absolute, &info) == 0 ? (info.st_dev, info.st_ino) : nil
    }

    func same(as other: FileIdentity) -> Bool {
        if let a = node, let b = other.node { return a == b }
        return resolved == other.resolved
    }
}

/// Report formats, for `map` and `maps report`.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, jsonl, csv, xml, html

    /// The format and destination of `--format F -o FILE`: without `--format`, the file's
    /// extension says (`.xml`, `.json`, `.jsonl`, `.csv`, `.html`, `.txt`); `-o -` is stdout.
    static func destination(format: ReportFormat?, output: String?) -> (ReportFormat, String?) {
        let path = output == "-" ? nil : output
        if let format { return (format, path) }
        let ext = path.map { ($0 as NSString).pathExtension.lowercased() } ?? ""
        let inferred: ReportFormat? = switch ext {
        case "xml": .xml
        case "json": .json
        case "jsonl", "ndjson": .jsonl
        case "csv": .csv
        case "html", "htm": .html
        default: nil
        }
        return (inferred ?? .text, path)
    }

    func render(_ report: MapReport) throws(CLIError) -> String {
        switch self {
        case .text: return TextReport.render(report)
        case .json:
            do { return try JSONReport.render(report) } catch {
                throw CLIError("cannot encode the report: \(error)", code: .failure)
            }
        case .jsonl: return JSONLinesReport.render(report)
        case .csv: return CSVReport.render(report)
        case .xml:
            return XMLReport.render(report, arguments: Self.printableArguments(CommandLine.arguments).joined(separator: " "),
                                    version: Cartograph.configuration.version)
        case .html: return HTMLReport.render(report)
        }
    }
}

extension ReportFormat {
    /// The command line as a report may record it (nmap XML's `args`): a store URL loses its password.
    static func printableArguments(_ arguments: [String]) -> [String] {
        arguments.map { argument in
            if argument.hasPrefix("--db=") { return "--db=" + MapStores.printable(String(argument.dropFirst(5))) }
            return MapStores.printable(argument)
        }
    }
}

/// Writes text to a file (`-o`) or stdout. The file is opened and truncated in place, never
/// replaced by a rename: `-o /dev/null`, a FIFO or a symlink stay what they are. A new file is
/// made 0600 (a stricter umask takes more away).
func emit(_ text: String, to output: String?) throws(CLIError) {
    guard let output else {
        FileHandle.standardOutput.write(Data(text.utf8))
        return
    }
    let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
        throw CLIError("cannot write the report to \(output): \(String(cString: strerror(errno)))", code: .failure)
    }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    var written = 0
    while written < bytes.count {
        let count = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else {
            throw CLIError("cannot write the report to \(output): \(String(cString: strerror(errno)))", code: .failure)
        }
        written += count
    }
}

/// Who and what runs a map, as the store records it.
enum Identity {
    /// This scanner's name: `$CARTOGRAPH_SCANNER`, else the host name.
    static var scanner: String {
        if let name = ProcessInfo.processInfo.environment["CARTOGRAPH_SCANNER"], !name.isEmpty { return name }
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The user who launched the map; `alice (sudo)` when sudo ran us as root.
    static var user: String {
        let name = getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
        if let sudo = ProcessInfo.processInfo.environment["SUDO_USER"], !sudo.isEmpty, sudo != name { return "\(sudo) (sudo)" }
        return name
    }
}

/// Map ids on the command line: a number, or `latest`.
struct MapID: ExpressibleByArgument {
    var value: Int64?
    init?(argument: String) {
        if argument == "latest" { value = nil; return }
        guard let number = Int64(argument), number > 0 else { return nil }
        value = number
    }

    /// How the help shows a default id (else it would print the struct).
    var defaultValueDescription: String { value.map(String.init) ?? "latest" }

    func resolve(in store: any MapStore) throws(CLIError) -> Int64 {
        if let value { return value }
        let latest: Int64?
        do { latest = try store.latestID() } catch { throw CLIError(error.description, code: .noInput) }
        guard let latest else { throw CLIError("the store \(store.location) holds no maps yet", code: .noInput) }
        return latest
    }
}

extension MapStore {
    /// A stored map, or a one-line error naming the id.
    func load(_ id: Int64) throws(CLIError) -> MapResult {
        let map: MapResult?
        do { map = try self.map(id: id) } catch { throw CLIError(error.description, code: .noInput) }
        guard let map else { throw CLIError("no map \(id) in \(location) (see 'cartograph maps list')", code: .noInput) }
        return map
    }
}

/// `--network NAME` of the listings: a name no map can have is a mistake, not an empty list.
/// `all` is accepted where the command means every network by it.
func checkNetworkName(_ name: String?, allowingAll: Bool) throws(CLIError) {
    guard let name, !(allowingAll && name == "all") else { return }
    if let problem = Inventory.Network.nameProblem(name) { throw CLIError("--network: \(problem)", code: .usage) }
}
