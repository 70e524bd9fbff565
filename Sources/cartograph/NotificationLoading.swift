import CartographCore
import Foundation

/// Finds the notification settings: `--notifications FILE`, else the inventory's
/// `notifications:` section, else `$XDG_CONFIG_HOME/cartograph/notifications.yaml` when it exists.
enum NotificationLoading {
    static var defaultPath: String {
        (InventoryLoading.defaultPath as NSString).deletingLastPathComponent + "/notifications.yaml"
    }

    static func load(_ path: String?, inventory: Inventory) throws(CLIError) -> NotificationSettings? {
        if path == nil, let settings = inventory.notifications { return settings }
        let file = path ?? defaultPath
        guard FileManager.default.fileExists(atPath: file) else {
            if path != nil { throw CLIError("notifications file \(file) does not exist", code: .noInput) }
            return nil
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CLIError("cannot read notifications file \(file)", code: .noInput)
        }
        do {
            return try Inventory.parseNotifications(yaml: String(decoding: data, as: UTF8.self), file: file)
        } catch {
            throw CLIError("notifications \(error.description)", code: .dataError)
        }
    }
}
