import Foundation

/// File access for probe directories, kept apart so the rest of the module stays pure logic.
enum ProbeFiles {
    static func list(directory: String) throws(ProbeLoadError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw ProbeLoadError(file: directory, message: "probe directory does not exist")
        }
        guard isDirectory.boolValue else { throw ProbeLoadError(file: directory, message: "not a directory") }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw ProbeLoadError(file: directory, message: "probe directory cannot be read (\(String(cString: strerror(EACCES))))")
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return names.filter { $0.hasSuffix(".lua") }.sorted().map { "\(base)/\($0)" }
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// True when every user may write `path` (mode o+w), whatever its sticky bit: a sticky
    /// directory (`/tmp`) still lets anyone add a probe.
    static func isWorldWritable(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IWOTH != 0
    }

    static func read(_ path: String) throws(ProbeLoadError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ProbeLoadError(file: path, message: "cannot read the file")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
