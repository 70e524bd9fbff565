import CartographCore
import Foundation

/// What changed between two maps: new and vanished hosts, opened and closed ports, changed
/// identification. Each change names its host (and port). Excluded hosts are left out: they
/// were never scanned, so their absence of ports says nothing.
public struct MapDiff: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case hostNew = "host-new"
        case hostVanished = "host-vanished"
        case portOpened = "port-opened"
        case portClosed = "port-closed"
        case serviceChanged = "service-changed"
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

    /// Which map a side is.
    public struct Side: Codable, Sendable, Equatable {
        public var id: Int64?
        public var target: String
        public var network: String
        public var startedAt: Date
        public var status: MapResult.Status
    }

    public init(old: MapResult, new: MapResult) {
        func side(_ map: MapResult) -> Side {
            Side(id: map.id, target: map.target, network: map.network, startedAt: map.startedAt, status: map.status)
        }
        self.old = side(old)
        self.new = side(new)
        changes = []

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
                changes.append(Change(kind: .hostVanished, address: address, before: Self.summary(host), rogue: host.rogue))
                for service in host.services {
                    changes.append(Change(kind: .portClosed, address: address, port: service.port, protocol: service.protocol,
                                          before: Self.identification(service), rogue: host.rogue))
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
                        changes.append(Change(kind: .portClosed, address: address, port: port.port, protocol: port.proto,
                                              before: Self.identification(service), rogue: now.rogue))
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
            case .serviceChanged:
                out += "~ \(address)\(port): \(safe(change.before)) → \(safe(change.after))\(suffix)\n"
            }
        }
        return out
    }
}
