import Foundation
import Yams

extension Inventory {
    /// Parses an inventory file's text; errors name `file:line` and the key.
    public static func parse(yaml text: String, file: String) throws(ConfigError) -> Inventory {
        let root = try ConfigReader.document(text, file: file)
        try root.checkKeys(["domains", "none", "asset_groups", "excluded", "networks", "scope", "notifications"])
        var inventory = Inventory()
        inventory.file = file

        if let scope = try root.string("scope") {
            guard let known = Scope(rawValue: scope) else {
                throw root.fail("\"scope\" must be \"any\" or \"registered\", not \"\(scope)\"", at: root.node("scope"))
            }
            inventory.scope = known
        }

        if let domains = try root.object("domains") {
            for (key, value) in domains.mapping {
                guard let name = key.string else { throw domains.fail("domain names must be text", at: key) }
                do { try TargetParser.validateHostname(name, token: name) } catch {
                    throw domains.fail("\"domains.\(name)\": \(error.reason)", at: key)
                }
                let section = try domains.object(name) ?? ConfigReader(file: file, path: "domains.\(name)", mapping: [:], line: key.mark?.line)
                try section.checkKeys(["netblocks", "approved"])
                var domain = Domain(name: name.lowercased())
                domain.netblocks = try section.blocks("netblocks")
                domain.approved = try section.blocks("approved")
                _ = value
                inventory.domains.append(domain)
            }
        }

        if let none = try root.object("none") {
            try none.checkKeys(["netblocks", "approved"])
            inventory.noneNetblocks = try none.blocks("netblocks")
            inventory.noneApproved = try none.blocks("approved")
        }

        if let groups = try root.object("asset_groups") {
            for (key, _) in groups.mapping {
                guard let name = key.string, !name.isEmpty,
                      name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                    throw groups.fail("asset group names are letters, digits, '-', '_' or '.'", at: key)
                }
                guard let section = try groups.object(name) else { throw groups.fail("\"asset_groups.\(name)\" must be a mapping", at: key) }
                try section.checkKeys(["domains", "ips", "scanner"])
                var group = AssetGroup(name: name)
                group.domains = (try section.strings("domains") ?? []).map { $0.lowercased() }
                for domain in group.domains {
                    do { try TargetParser.validateHostname(domain, token: domain) } catch {
                        throw section.fail("\"asset_groups.\(name).domains\": \(error.reason)", at: section.node("domains"))
                    }
                }
                group.ips = try section.blocks("ips")
                group.scanner = try section.string("scanner")
                inventory.groups.append(group)
            }
        }

        if let excluded = root.node("excluded"), !root.isNull(excluded) {
            guard let list = excluded.sequence else { throw root.fail("\"excluded\" must be a list", at: excluded) }
            for item in list {
                let line = item.mark?.line
                let location = line.map { "\(file):\($0)" } ?? file
                if let text = item.scalar?.string {
                    inventory.exclusions.append(Exclusion(block: try root.block(text, key: "excluded", at: item), location: location))
                    continue
                }
                guard let mapping = item.mapping else { throw root.fail("items of \"excluded\" are addresses or mappings", at: item) }
                let entry = ConfigReader(file: file, path: "excluded", mapping: mapping, line: line)
                try entry.checkKeys(["address", "expires", "comment"])
                guard let address = try entry.string("address") else { throw entry.fail("\"excluded\": each entry needs an \"address\"") }
                var exclusion = Exclusion(block: try entry.block(address, key: "excluded.address", at: entry.node("address")), location: location)
                if let expires = try entry.string("expires") {
                    guard let date = Self.day(expires) else {
                        throw entry.fail("\"excluded.expires\": \"\(expires)\" is not a date (YYYY-MM-DD)", at: entry.node("expires"))
                    }
                    exclusion.expires = date
                }
                exclusion.comment = try entry.string("comment")
                inventory.exclusions.append(exclusion)
            }
        }

        if let networks = try root.object("networks") {
            for (key, _) in networks.mapping {
                guard let name = key.string, !name.isEmpty else { throw networks.fail("network names must be text", at: key) }
                if let problem = Network.nameProblem(name) { throw networks.fail("\"networks\": \(problem)", at: key) }
                var network = Network(name: name)
                if let section = try networks.object(name) {
                    try section.checkKeys(["scanner", "description"])
                    network.scanner = try section.string("scanner")
                    network.description = try section.string("description")
                }
                inventory.networks.append(network)
            }
        }
        if let section = try root.object("notifications") {
            inventory.notifications = try NotificationSettings.parse(section.located(at: root.keyNode("notifications")))
        }
        return inventory
    }

    static func day(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.date(from: text)
    }
}

extension ConfigReader {
    /// A list of address blocks (addresses, CIDR, ranges).
    func blocks(_ key: String) throws(ConfigError) -> [AddressRange] {
        var result: [AddressRange] = []
        for text in try strings(key) ?? [] { result.append(try block(text, key: keyPath(key), at: node(key))) }
        return result
    }

    func block(_ text: String, key: String, at node: Node?) throws(ConfigError) -> AddressRange {
        do {
            return try TargetParser.parseBlock(text)
        } catch {
            throw fail("\"\(key)\": \(error.reason) (\"\(text)\")", at: node)
        }
    }
}
