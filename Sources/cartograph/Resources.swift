import Foundation

/// Finds the shipped `Profiles/` and `Probes/` directories and the user's own.
///
/// The shipped ones, first found wins: `$CARTOGRAPH_HOME`; then, walking up from the executable,
/// a directory holding both `Profiles/` and `Probes/` (the source tree the binary was built in)
/// or a `share/cartograph` holding them (an install under a prefix: `PREFIX/bin/cartograph`
/// finds `PREFIX/share/cartograph`); then `/usr/local/share/cartograph` and
/// `/usr/share/cartograph`. The user's own, read as well: `$XDG_CONFIG_HOME/cartograph/profiles`
/// and `…/probes` (`~/.config/cartograph/…` without XDG_CONFIG_HOME). A user profile of a
/// shipped profile's name takes its place; user probes load after the shipped ones.
enum Resources {
    /// Every place looked for the shipped resources, in order, for error messages.
    static let searched: [String] = {
        var places: [String] = []
        if let env = ProcessInfo.processInfo.environment["CARTOGRAPH_HOME"], !env.isEmpty { places.append(env) }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = (exe as NSString).deletingLastPathComponent
            while dir != "/" && !dir.isEmpty {
                places += [dir, dir + "/share/cartograph"]
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        return places + ["/usr/local/share/cartograph", "/usr/share/cartograph"]
    }()

    static let home: String? = {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["CARTOGRAPH_HOME"], !env.isEmpty { return env }
        return searched.first { fm.fileExists(atPath: $0 + "/Profiles") && fm.fileExists(atPath: $0 + "/Probes") }
    }()

    static var profilesDirectory: String? { home.map { $0 + "/Profiles" } }
    static var probesDirectory: String? { home.map { $0 + "/Probes" } }

    /// `$XDG_CONFIG_HOME/cartograph`, else `~/.config/cartograph`.
    static var configDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        return base + "/cartograph"
    }

    static var userProfilesDirectory: String { configDirectory + "/profiles" }
    static var userProbesDirectory: String { configDirectory + "/probes" }

    /// Where profiles are read, the user's first.
    static var profileDirectories: [String] {
        [userProfilesDirectory] + (profilesDirectory.map { [$0] } ?? [])
    }

    /// The probe directories every command loads: the shipped one and the user's, if it exists.
    /// Missing shipped probes are an error naming where they were looked for: a map must never
    /// run with no probes because the binary was copied away from them.
    static func probeDirectories() throws(CLIError) -> [String] {
        guard let shipped = probesDirectory, FileManager.default.fileExists(atPath: shipped) else {
            throw CLIError("cannot find the shipped probes (a Probes directory); looked in \(missingPlaces("Probes")); set CARTOGRAPH_HOME or reinstall (bash Scripts/install.sh)", code: .noInput)
        }
        var isDirectory: ObjCBool = false
        let user = FileManager.default.fileExists(atPath: userProbesDirectory, isDirectory: &isDirectory) && isDirectory.boolValue
        return [shipped] + (user ? [userProbesDirectory] : [])
    }

    static func missingPlaces(_ what: String) -> String {
        if let home { return "\(home)/\(what)" }
        return searched.joined(separator: ", ")
    }
}
