import CartographCore
import Foundation

/// Finds and reads the inventory: `--inventory FILE`, else the default location if a file is
/// there, else an empty inventory.
enum InventoryLoading {
    static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.config"
        return base + "/cartograph/inventory.yaml"
    }

    static func load(_ path: String?) throws(CLIError) -> Inventory {
        let file = path ?? defaultPath
        guard FileManager.default.fileExists(atPath: file) else {
            if path != nil { throw CLIError("inventory file \(file) does not exist", code: .noInput) }
            return Inventory()
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CLIError("cannot read inventory file \(file)", code: .noInput)
        }
        do {
            return try Inventory.parse(yaml: String(decoding: data, as: UTF8.self), file: file)
        } catch {
            throw CLIError("inventory \(error.description)", code: .dataError)
        }
    }
}
