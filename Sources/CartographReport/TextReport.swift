import CartographCore
import Foundation

extension ServiceResult {
    /// Product, version and extra information as the reports print them: `OpenSSH 9.2p1 (protocol 2.0)`.
    var versionText: String {
        [product, version, extraInfo.map { "(\($0))" }].compactMap { $0 }.joined(separator: " ")
    }
}

/// The human-readable report: one block per map, one table of open ports per host.
///
/// Every string in it that did not come from Cartograph itself (targets, titles, names,
/// banners, warnings that quote them) is written `terminalSafe`: the report is read on terminals.
public enum TextReport {
    public static func render(_ report: MapReport) -> String {
        report.maps.map(render).joined(separator: "\n")
    }

    static func render(_ map: MapResult) -> String {
        var out = ""
        let duration = map.finishedAt.timeIntervalSince(map.startedAt)
        out += "Map " + (map.id.map { "\($0): " } ?? "") + map.target.terminalSafe
        if let title = map.title, title != map.target { out += " \"\(title.terminalSafe)\"" }
        out += " (network \(map.network.terminalSafe))\n"
        out += "  profile \(map.profile.terminalSafe), \(map.status.rawValue), started \(timestamp(map.startedAt)), "
        out += "took \(String(format: "%.1f", duration)) s\n"
        // Routers a traceroute found on the way are listed, but are not among the addresses mapped.
        let onTheWay = map.hosts.filter(\.isOnTheWay).count
        let live = map.hosts.count - onTheWay
        out += "  \(live) live host\(live == 1 ? "" : "s") of \(map.addressesScanned) address"
        out += map.addressesScanned == "1" ? "" : "es"
        if map.excludedAddresses != "0" { out += " (\(map.excludedAddresses) excluded)" }
        if onTheWay > 0 { out += ", and \(onTheWay) router\(onTheWay == 1 ? "" : "s") on the way" }
        out += "\n"
        for warning in map.warnings { out += "  warning: \(warning.terminalSafe)\n" }
        for host in map.hosts {
            out += "\n"
            let names = host.hostnames.map(\.name.terminalSafe)
            out += host.address.terminalSafe + (names.isEmpty ? "" : " (\(names.joined(separator: ", ")))")
            out += "  found by \(compactMethods(host.discovery).terminalSafe)"
            if host.excluded == true { out += " (excluded: not scanned)" }
            if host.new == true { out += " [new]" }
            if host.rogue == true { out += " [rogue]" }
            out += "\n"
            var facts: [String] = []
            if let type = host.deviceType, type != DeviceType.unknown.rawValue {
                facts.append("\(type.terminalSafe) (\(host.deviceTypeConfidence ?? 0)%)")
            }
            if let os = host.os { facts.append("\(os.terminalSafe) (\(host.osConfidence ?? 0)%)") }
            if let hops = host.hops { facts.append(hops == 0 ? "adjacent (no router in between)" : "\(hops) router\(hops == 1 ? "" : "s") away") }
            if let forwards = host.forwards, !forwards.isEmpty { facts.append("forwards to \(forwards.joined(separator: ", ").terminalSafe)") }
            if !facts.isEmpty { out += "  " + facts.joined(separator: "; ") + "\n" }
            if host.services.isEmpty {
                out += "  no open ports"
            } else {
                let rows = [["PORT", "STATE", "SERVICE", "VERSION", "METHOD"]] + host.services.map { service in
                    [
                        "\(service.port)/\(service.protocol.rawValue)", service.state,
                        (service.name ?? "unknown") + (service.certain == false ? "?" : ""),
                        service.versionText,
                        service.method,
                    ]
                }
                out += table(rows, indent: "  ")
            }
            var hidden: [String] = []
            if host.closedPorts > 0 { hidden.append("\(host.closedPorts) closed") }
            if host.filteredPorts > 0 { hidden.append("\(host.filteredPorts) filtered") }
            if !hidden.isEmpty { out += "\n  not shown: \(hidden.joined(separator: ", ")) ports" }
            out += "\n"
        }
        return out
    }

    /// Discovery methods with their ports folded: `tcp-syn:22, tcp-syn:80` reads `tcp-syn:22,80`.
    static func compactMethods(_ methods: [String]) -> String {
        var order: [String] = []
        var ports: [String: [String]] = [:]
        for method in methods {
            let parts = method.split(separator: ":", maxSplits: 1).map(String.init)
            if ports[parts[0]] == nil { order.append(parts[0]) }
            ports[parts[0], default: []] += parts.count > 1 ? [parts[1]] : []
        }
        return order.map { name in ports[name]!.isEmpty ? name : "\(name):\(ports[name]!.joined(separator: ","))" }
            .joined(separator: ", ")
    }

    /// Rows as aligned columns; each cell is written `terminalSafe`.
    public static func table(_ rows: [[String]], indent: String) -> String {
        let rows = rows.map { $0.map(\.terminalSafe) }
        var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            indent + row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: date)
    }
}
