import CartographCore
import Foundation

/// Turns `--profile NAME|PATH` into a checked profile. Names are looked up in the user's
/// profiles first, then the shipped ones (see `Resources`).
enum ProfileLoading {
    /// Every profile name with the file it reads, a user's profile in place of a shipped one.
    static func available() -> [(name: String, path: String)] {
        var found: [String: String] = [:]
        for dir in Resources.profileDirectories.reversed() {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where file.hasSuffix(".yaml") {
                found[String(file.dropLast(5))] = "\(dir)/\(file)"
            }
        }
        return found.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    static func availableNames() -> [String] { available().map(\.name) }

    /// The file of a profile name, or a one-line error naming where it was looked for.
    static func locate(_ name: String) throws(CLIError) -> String {
        if let path = available().first(where: { $0.name == name })?.path { return path }
        guard let shipped = Resources.profilesDirectory, FileManager.default.fileExists(atPath: shipped) else {
            throw CLIError("cannot find the shipped profiles (a Profiles directory); looked in \(Resources.missingPlaces("Profiles")) and \(Resources.userProfilesDirectory); set CARTOGRAPH_HOME or reinstall (bash Scripts/install.sh)", code: .noInput)
        }
        let names = availableNames()
        var message = "unknown profile \"\(name)\" (available: \(names.joined(separator: ", ")))"
        if let near = Suggestion.nearest(name, in: names) { message += "; did you mean \"\(near)\"?" }
        throw CLIError(message, code: .usage)
    }

    static func isPath(_ nameOrPath: String) -> Bool {
        nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml")
    }

    static func load(_ nameOrPath: String) throws(CLIError) -> Profile {
        let path: String
        if isPath(nameOrPath) {
            path = nameOrPath
            guard FileManager.default.fileExists(atPath: path) else {
                throw CLIError("profile file \(path) does not exist", code: .noInput)
            }
        } else {
            path = try locate(nameOrPath)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read profile file \(path)", code: .noInput)
        }
        let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        do {
            return try Profile.parse(yaml: String(decoding: data, as: UTF8.self), file: path, name: base)
        } catch {
            throw CLIError("profile \(error.description)", code: .dataError)
        }
    }
}
