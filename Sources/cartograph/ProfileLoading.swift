import CartographCore
import Foundation

/// Turns `--profile NAME|PATH` into a checked profile.
enum ProfileLoading {
    static func availableNames() -> [String] {
        guard let dir = Resources.profilesDirectory,
              let files = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return files.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    static func load(_ nameOrPath: String) throws(CLIError) -> Profile {
        let isPath = nameOrPath.contains("/") || nameOrPath.hasSuffix(".yaml") || nameOrPath.hasSuffix(".yml")
        let path: String
        if isPath {
            path = nameOrPath
            guard FileManager.default.fileExists(atPath: path) else {
                throw CLIError("profile file \(path) does not exist", code: .noInput)
            }
        } else {
            guard let dir = Resources.profilesDirectory else {
                throw CLIError("cannot find the Profiles directory; set CARTOGRAPH_HOME", code: .noInput)
            }
            path = "\(dir)/\(nameOrPath).yaml"
            guard FileManager.default.fileExists(atPath: path) else {
                let names = availableNames()
                var message = "unknown profile \"\(nameOrPath)\" (available: \(names.joined(separator: ", ")))"
                if let near = Suggestion.nearest(nameOrPath, in: names) { message += "; did you mean \"\(near)\"?" }
                throw CLIError(message, code: .usage)
            }
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
