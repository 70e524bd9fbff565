import Foundation

/// Finds the shipped `Profiles/` and `Probes/` directories: `$CARTOGRAPH_HOME`, then the source
/// tree the binary was built in (walking up from the executable), then the install prefixes.
enum Resources {
    static let home: String? = {
        let fm = FileManager.default
        func holdsResources(_ dir: String) -> Bool {
            fm.fileExists(atPath: dir + "/Profiles") && fm.fileExists(atPath: dir + "/Probes")
        }
        if let env = ProcessInfo.processInfo.environment["CARTOGRAPH_HOME"], !env.isEmpty { return env }
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = (exe as NSString).deletingLastPathComponent
            while dir != "/" && !dir.isEmpty {
                if holdsResources(dir) { return dir }
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
        for prefix in ["/usr/local/share/cartograph", "/usr/share/cartograph"] where holdsResources(prefix) {
            return prefix
        }
        return nil
    }()

    static var profilesDirectory: String? { home.map { $0 + "/Profiles" } }
    static var probesDirectory: String? { home.map { $0 + "/Probes" } }
}
