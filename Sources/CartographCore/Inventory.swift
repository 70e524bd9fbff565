import Foundation

/// What a user keeps between runs: registered domains and netblocks, asset groups, excluded and
/// approved hosts, and networks. Read from YAML (`Inventory+YAML.swift`).
public struct Inventory: Sendable, Equatable {
    public struct Domain: Sendable, Equatable {
        public var name: String
        public var netblocks: [AddressRange] = []
        /// Hosts known and expected; the others are "rogue" in reports and diffs.
        public var approved: [AddressRange] = []
    }

    public struct AssetGroup: Sendable, Equatable {
        public var name: String
        public var domains: [String] = []
        public var ips: [AddressRange] = []
        public var scanner: String?
    }

    public struct Exclusion: Sendable, Equatable {
        public var block: AddressRange
        /// The day the exclusion ends (it no longer applies from then on).
        public var expires: Date?
        public var comment: String?
        /// `file:line` where it was written, for messages.
        public var location: String
    }

    public struct Network: Sendable, Equatable {
        public var name: String
        public var scanner: String?
        public var description: String?
        public init(name: String, scanner: String? = nil, description: String? = nil) {
            self.name = name
            self.scanner = scanner
            self.description = description
        }

        /// Why `name` cannot name a network, or nil when it can. One rule for the inventory and
        /// every `--network`: a name `--network` could never select is refused where it is written.
        /// `all` means every network to `hosts` and `maps report`; white space and control
        /// characters cannot be told apart in listings; a leading `-` reads as a flag.
        public static func nameProblem(_ name: String) -> String? {
            if name.isEmpty { return "a network name cannot be empty" }
            if name == "all" { return "\"all\" is reserved (it means every network)" }
            if name.unicodeScalars.contains(where: { TerminalSafety.needsEscape($0) || $0.properties.isWhitespace }) {
                return "\"\(name)\" is not a network name: no spaces or control characters"
            }
            if name.hasPrefix("-") { return "\"\(name)\" is not a network name: it cannot start with \"-\"" }
            return nil
        }
    }

    /// Which targets `map` accepts.
    public enum Scope: String, Sendable, Equatable {
        /// Anything.
        case any
        /// Only registered domains (and their subdomains) and addresses inside registered
        /// netblocks (the domains' and the None domain's).
        case registered
    }

    public var file: String = "(none)"
    public var domains: [Domain] = []
    /// The None domain's netblocks: addresses that belong to no domain.
    public var noneNetblocks: [AddressRange] = []
    /// Approved hosts that belong to no domain: the none map's.
    public var noneApproved: [AddressRange] = []
    public var groups: [AssetGroup] = []
    public var exclusions: [Exclusion] = []
    public var networks: [Network] = []
    public var scope: Scope = .any
    /// Who to tell when a map ends (`notifications:`); nil when the inventory says nothing.
    public var notifications: NotificationSettings?

    public init() {}

    public func domain(named name: String) -> Domain? {
        domains.first { $0.name == name.lowercased() }
    }

    /// The registered domain `name` is or lies under (`www.example.com` under `example.com`).
    public func registeredDomain(for name: String) -> Domain? {
        let name = name.lowercased()
        return domains.filter { name == $0.name || name.hasSuffix("." + $0.name) }.max { $0.name.count < $1.name.count }
    }

    /// The approved hosts of a domain's map (nil: the None domain's), or nil when the inventory
    /// approves none there: then no host is called rogue.
    public func approvedHosts(domain: String?) -> AddressSet? {
        let approved = domain.map { registeredDomain(for: $0)?.approved ?? [] } ?? noneApproved
        return approved.isEmpty ? nil : AddressSet(approved)
    }

    /// Every registered netblock: the domains' and the None domain's.
    public var registeredAddresses: AddressSet {
        AddressSet(domains.flatMap(\.netblocks) + noneNetblocks)
    }

    /// The exclusions in force on `date` (expired ones no longer apply).
    public func excluded(on date: Date) -> AddressSet {
        AddressSet(exclusions.filter { $0.expires.map { $0 > date } ?? true }.map(\.block))
    }

    /// Exclusions that have expired by `date`, for a note.
    public func expired(on date: Date) -> [Exclusion] {
        exclusions.filter { $0.expires.map { $0 <= date } ?? false }
    }
}
