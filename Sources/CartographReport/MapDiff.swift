import CartographCore
import Foundation

/// What changed between two maps: new and vanished hosts, opened and closed ports, changed
/// identification. Each change names its host (and port). Excluded hosts are left out: they
/// were never scanned, so their absence of ports says nothing.
///
/// Only what the newer map scanned can have changed: a port is closed only if the newer map's
/// port list holds it and the host was scanned; a host is gone only if its address is in the
/// newer map's netblocks and the newer map ran to the end. Anything else the older map found
/// and the newer one did not look at is `not scanned`, never closed or vanished.
public struct MapDiff: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case hostNew = "host-new"
        case hostVanished = "host-vanished"
        case portOpened = "port-opened"
        case portClosed = "port-closed"
        case serviceChanged = "service-changed"
        /// The older map found the host, the newer one did not look for it (outside its
        /// netblocks, or the newer map did not run to the end).
        case hostNotScanned = "host-not-scanned"
        /// The older map found the port open, the newer one did not scan it.
        case portNotScanned = "port-not-scanned"
    }

    /// What a map looked at, from the settings stored with it. Unknown settings (nil) mean
    /// every port counts as scanned, as a map made in memory with its profile at hand.
    public struct Coverage: Sendable {
        var portScan = true
        var scope: Profile.GatheringScope = .all
        var tcp: PortBits?
        var udp: PortBits?
        /// The map's netblocks, parsed from its target; nil when it has none to parse.
        var netblocks: AddressSet?
        var complete: Bool
        var profile: String

        public init(map: MapResult, settings: Profile?) {
            complete = map.status == .complete
            profile = map.profile
            if let settings {
                portScan = settings.informationGathering.portScan
                scope = settings.informationGathering.scope
                tcp = PortBits(settings.informationGathering.tcpPorts)
                udp = PortBits(settings.informationGathering.udpPorts)
            }
            if let open = map.target.firstIndex(of: "["), let close = map.target.lastIndex(of: "]"), open < close,
               let blocks = try? TargetParser.parseBlocks(String(map.target[map.target.index(after: open)..<close])) {
                netblocks = AddressSet(blocks)
            }
        }

        /// Whether the map scanned this port on this host (a host it found).
        func scanned(_ port: PortID, on host: HostResult) -> Bool {
            guard portScan, scope != .none else { return false }
            // A narrower scope scans some hosts only: one with ports seen was among them.
            if scope != .all && host.services.isEmpty && host.closedPorts + host.filteredPorts == 0 { return false }
            switch port.proto {
            case .tcp: return tcp?.contains(port.port) ?? true
            case .udp: return udp?.contains(port.port) ?? true
            }
        }

        /// Whether the map looked for this address and ran to the end, so not finding it means it is gone.
        func lookedFor(_ address: String) -> Bool {
            guard complete, let netblocks, let parsed = IPAddress(address) else { return false }
            return netblocks.contains(parsed)
        }
    }

    public struct Change: Codable, Sendable, Equatable {
        public var kind: Kind
        public var address: String
        public var port: UInt16?
        public var `protocol`: TransportProtocol?
        /// The identification before and after (`ssh OpenSSH 9.2p1`), where it applies.
        public var before: String?
        public var after: String?
        /// The host is not among the inventory's approved hosts (in the newer map).
        public var rogue: Bool?
        /// The host had never been seen in its network before the newer map.
        public var firstSeen: Bool?
    }

    public var old: Side
    public var new: Side
    public var changes: [Change]
    /// Where the two maps did not look at the same things (port lists, profiles), and whether
    /// the newer map ran to the end.
    public var notes: [String]
    /// The two maps ran different port lists, scan settings or profiles.
    public var scannedDifferently: Bool

    /// Which map a side is.
    public struct Side: Codable, Sendable, Equatable {
        public var id: Int64?
        public var target: String
        public var network: String
        public var startedAt: Date
        public var status: MapResult.Status
    }

    /// `oldSettings` and `newSettings`: the profiles the maps ran with, as stored with them.
    public init(old: MapResult, new: MapResult, oldSettings: Profile? = nil, newSettings: Profile? = nil) {
        func side(_ map: MapResult) -> Side {
            Side(id: map.id, target: map.target, network: map.network, startedAt: map.startedAt, status: map.status)
        }
        self.old = side(old)
        self.new = side(new)
        changes = []
        let coverage = Coverage(map: new, settings: newSettings)
        let before = Coverage(map: old, settings: oldSettings)
        notes = Self.notes(old: before, new: coverage)
        scannedDifferently = !notes.isEmpty
        if !coverage.complete {
            notes.append("the newer map is \(new.status.rawValue): hosts it did not find are not called vanished")
        }
        changes = Self.changes(old: old, new: new, coverage: coverage)
    }

    static func notes(old: Coverage, new: Coverage) -> [String] {
        var notes: [String] = []
        if old.profile != new.profile { notes.append("the maps ran different profiles (\(old.profile), then \(new.profile))") }
        func describe(_ ports: PortBits?, _ name: String, _ other: PortBits?) -> String? {
            guard let ports, let other, ports != other else { return nil }
            let dropped = other.subtracting(ports).count, added = ports.subtracting(other).count
            return "\(name): \(dropped) port\(dropped == 1 ? "" : "s") no longer scanned, \(added) newly scanned"
        }
        let differences = [describe(new.tcp, "TCP", old.tcp), describe(new.udp, "UDP", old.udp)].compactMap { $0 }
        if !differences.isEmpty {
            notes.append("the maps scanned different port lists (\(differences.joined(separator: "; "))); ports the newer map did not scan are not called closed")
        }
        if old.portScan != new.portScan || old.scope != new.scope {
            notes.append("the maps scanned differently (port scan \(old.portScan ? "on" : "off"), scope \(old.scope.rawValue); then port scan \(new.portScan ? "on" : "off"), scope \(new.scope.rawValue))")
        }
        return notes
    }

    static func changes(old: MapResult, new: MapResult, coverage: Coverage) -> [Change] {
        var changes: [Change] = []
        let excludedNow = Set(new.hosts.filter { $0.excluded == true }.map(\.address))

        let before = Dictionary(old.hosts.filter { $0.excluded != true }.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new.hosts.filter { $0.excluded != true }.map { ($0.address, $0) }, uniquingKeysWith: { a, _ in a })
        let addresses = Set(before.keys).union(after.keys).sorted(by: IPAddress.textOrder)
        for address in addresses {
            switch (before[address], after[address]) {
            case (nil, let host?):
                changes.append(Change(kind: .hostNew, address: address, after: Self.summary(host),
                                      rogue: host.rogue, firstSeen: host.new))
                for service in host.services {
                    changes.append(Change(kind: .portOpened, address: address, port: service.port, protocol: service.protocol,
                                          after: Self.identification(service), rogue: host.rogue))
                }
            case (let host?, nil):
                let gone = coverage.lookedFor(address) && !excludedNow.contains(address)
                changes.append(Change(kind: gone ? .hostVanished : .hostNotScanned, address: address,
                                      before: Self.summary(host), rogue: host.rogue))
                for service in host.services {
                    changes.append(Change(kind: gone ? .portClosed : .portNotScanned, address: address, port: service.port,
                                          protocol: service.protocol, before: Self.identification(service), rogue: host.rogue))
                }
            case (let was?, let now?):
                let oldPorts = Dictionary(was.services.map { (PortID($0), $0) }, uniquingKeysWith: { a, _ in a })
                let newPorts = Dictionary(now.services.map { (PortID($0), $0) }, uniquingKeysWith: { a, _ in a })
                for port in Set(oldPorts.keys).union(newPorts.keys).sorted() {
                    switch (oldPorts[port], newPorts[port]) {
                    case (nil, let service?):
                        changes.append(Change(kind: .portOpened, address: address, port: port.port, protocol: port.proto,
                                              after: Self.identification(service), rogue: now.rogue))
                    case (let service?, nil):
                        let closed = coverage.scanned(port, on: now)
                        changes.append(Change(kind: closed ? .portClosed : .portNotScanned, address: address, port: port.port,
                                              protocol: port.proto, before: Self.identification(service), rogue: now.rogue))
                    case (let a?, let b?) where Self.identification(a) != Self.identification(b):
                        changes.append(Change(kind: .serviceChanged, address: address, port: port.port, protocol: port.proto,
                                              before: Self.identification(a), after: Self.identification(b), rogue: now.rogue))
                    default:
                        break
                    }
                }
            case (nil, nil):
                break
            }
        }
        return changes
    }

    struct PortID: Hashable, Comparable {
        var proto: TransportProtocol
        var port: UInt16
        init(_ service: ServiceResult) {
            proto = service.protocol
            port = service.port
        }
        static func < (a: PortID, b: PortID) -> Bool { (a.proto.rawValue, a.port) < (b.proto.rawValue, b.port) }
    }

    /// How a service was identified, in one phrase: `ssh OpenSSH 9.2p1 (protocol 2.0)`.
    static func identification(_ service: ServiceResult) -> String {
        [service.name ?? "unknown", service.versionText].filter { !$0.isEmpty }.joined(separator: " ")
    }

    static func summary(_ host: HostResult) -> String {
        let names = host.hostnames.map(\.name)
        let ports = host.services.map { "\($0.port)/\($0.protocol.rawValue)" }
        return ([names.isEmpty ? nil : names.joined(separator: ", ")]
            + [ports.isEmpty ? "no open ports" : ports.joined(separator: ", ")]).compactMap { $0 }.joined(separator: "; ")
    }

    /// The diff for people: a heading, then one line per change, each naming host and port.
    /// Targets, names and identifications are written `terminalSafe`.
    public func renderText() -> String {
        func name(_ side: Side) -> String { side.id.map { "map \($0)" } ?? "map" }
        func safe(_ text: String?) -> String { (text ?? "").terminalSafe }
        var out = "\(name(old)) → \(name(new)): \(safe(new.target)) in network \(safe(new.network))\n"
        out += "  \(name(old)) started \(TextReport.timestamp(old.startedAt)) (\(old.status.rawValue)), "
        out += "\(name(new)) started \(TextReport.timestamp(new.startedAt)) (\(new.status.rawValue))\n"
        if old.target != new.target || old.network != new.network {
            out += "  note: the maps differ in target or network (\(safe(old.target)) in \(safe(old.network)))\n"
        }
        for note in notes { out += "  note: \(safe(note))\n" }
        if changes.isEmpty { return out + "no changes\n" }
        for change in changes {
            let flags = [change.rogue == true ? "rogue" : nil, change.firstSeen == true ? "first seen in this network" : nil]
                .compactMap { $0 }
            let suffix = flags.isEmpty ? "" : " [\(flags.joined(separator: ", "))]"
            let port = change.port.map { " \($0)/\(change.protocol?.rawValue ?? "tcp")" } ?? ""
            let address = safe(change.address)
            switch change.kind {
            case .hostNew: out += "+ host \(address): new (\(safe(change.after)))\(suffix)\n"
            case .hostVanished: out += "- host \(address): vanished (was \(safe(change.before)))\(suffix)\n"
            case .portOpened: out += "+ \(address)\(port): opened, \(safe(change.after))\(suffix)\n"
            case .portClosed: out += "- \(address)\(port): closed, was \(safe(change.before))\(suffix)\n"
            case .hostNotScanned:
                out += "? host \(address): not scanned in the newer map (was \(safe(change.before)))\(suffix)\n"
            case .portNotScanned:
                out += "? \(address)\(port): not scanned in the newer map, was \(safe(change.before))\(suffix)\n"
            case .serviceChanged:
                out += "~ \(address)\(port): \(safe(change.before)) → \(safe(change.after))\(suffix)\n"
            }
        }
        return out
    }
}

extension MapCompletion.Trend {
    /// The trend line from a diff: only what the newer map scanned counts, and routers found on
    /// the way are not counted as hosts.
    public init(diff: MapDiff, old: MapResult, new: MapResult) {
        let onTheWay = Set((old.hosts + new.hosts).filter(\.isOnTheWay).map(\.address))
        func count(_ kind: MapDiff.Kind, hosts: Bool = false) -> Int {
            diff.changes.filter { $0.kind == kind && !(hosts && onTheWay.contains($0.address)) }.count
        }
        let newHosts = count(.hostNew, hosts: true), vanished = count(.hostVanished, hosts: true)
        let opened = count(.portOpened), closed = count(.portClosed)
        self.init(previousMapId: diff.old.id, hostsDelta: newHosts - vanished, openPortsDelta: opened - closed,
                  newHosts: newHosts, vanishedHosts: vanished, openedPorts: opened, closedPorts: closed,
                  changedServices: count(.serviceChanged),
                  notScanned: count(.portNotScanned) + count(.hostNotScanned, hosts: true),
                  differs: diff.scannedDifferently)
    }
}
