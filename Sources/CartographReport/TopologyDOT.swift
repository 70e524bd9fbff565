import CartographCore

/// One map's topology written in Graphviz's DOT language, for `dot` to lay out.
///
/// Every label is built from sanitized text (`TopologyDOT.label`: letters, digits and a little
/// punctuation; no quote, backslash, `<`, `>` or `&`), then quoted per DOT's rules, so a host name
/// a service chose cannot end a string, add an attribute, or reach the SVG as markup. Node and
/// edge ids are ours (`m0-node-h3`), so the SVG's ids and links are too.
struct TopologyDOT {
    let map: MapResult
    let index: Int
    let topology: Topology

    init(map: MapResult, index: Int, topology: Topology? = nil) {
        self.map = map
        self.index = index
        self.topology = topology ?? Topology(map)
    }

    /// Host-list anchors and map node ids.
    var scannerID: String { "m\(index)-node-scanner" }
    func routerID(_ router: Int) -> String { "m\(index)-node-r\(router)" }
    func subnetID(_ subnet: Int) -> String { "m\(index)-node-s\(subnet)" }
    func hostID(_ position: Int) -> String { "m\(index)-node-h\(position)" }
    /// The filter a cluster node links to (the page's script shows that subnet's hosts).
    func subnetFilter(_ subnet: Int) -> String { "m\(index)-s\(subnet)" }

    /// Rogue hosts inside a clustered subnet are still drawn, up to this many.
    static let rogueNodesPerCluster = 8
    /// Crowded subnets behind one gateway share one grid node from this many on…
    static let gridFrom = 3
    /// …with this many subnets a row, and this many cells at most (the last counts the rest).
    static let gridColumns = 4
    static let gridCells = 48
    /// Hosts side by side in a subnet's box, at most (fewer for small subnets: four rows first).
    static let columns = 3

    func dot() -> String {
        var out = """
            digraph map {
            graph [rankdir=LR, ordering=out, nodesep=0.15, ranksep=0.45, pad=0.15, bgcolor="transparent", fontname="sans-serif", fontsize=10];
            node [shape=box, style="rounded,filled", fontname="sans-serif", fontsize=9, margin="0.07,0.03", penwidth=1.2];
            edge [arrowhead=none, color="#7a7a7a", penwidth=1.2];

            """
        var edges = 0
        func edge(_ from: String, _ to: String, inferred: Bool = false, label: String? = nil) {
            edges += 1
            var attributes = ["id=\(Self.quoted("m\(index)-edge-\(edges)"))", "class=\(Self.quoted(inferred ? "link inferred" : "link"))"]
            if inferred { attributes.append("style=dashed") }
            if let label { attributes += ["label=\(Self.quoted(label))", "fontsize=8", "fontcolor=\"#666666\""] }
            out += "\(Self.quoted(from)) -> \(Self.quoted(to)) [\(attributes.joined(separator: ", "))];\n"
        }

        let scannerName = map.scanner.map { Self.label($0, limit: 32) }
        out += node(scannerID, classes: "scanner", label: ["scanner"] + (scannerName.map { [$0] } ?? []),
                    attributes: ["fillcolor=\"#333333\"", "fontcolor=\"#ffffff\"", "color=\"#333333\"", "shape=box"])
        for (number, router) in topology.routers.enumerated() {
            out += routerNode(number, router)
        }
        for link in topology.links {
            edge(link.from.map(routerID) ?? scannerID, routerID(link.to), inferred: link.inferred)
        }
        func linkGateway(_ gateway: Topology.Gateway, to id: String) {
            switch gateway {
            case .scanner: edge(scannerID, id)
            case let .router(router): edge(routerID(router), id)
            case let .unknown(hops):
                edge(scannerID, id, inferred: true, label: hops.map { "\($0) router\($0 == 1 ? "" : "s") not seen" } ?? "route not traced")
            }
        }
        // Behind a gateway with several crowded subnets, they share one node: a grid of counts.
        let crowded = Dictionary(grouping: topology.subnets.indices.filter { topology.subnets[$0].clustered }) { topology.subnets[$0].gateway }
            .filter { $0.value.count >= Self.gridFrom }
        var tables = 0
        for (number, subnet) in topology.subnets.enumerated() {
            if subnet.clustered, let group = crowded[subnet.gateway] {
                guard group.first == number else { continue }
                let id = "m\(index)-node-t\(tables)"
                tables += 1
                out += subnetGrid(id, group)
                linkGateway(subnet.gateway, to: id)
                continue
            }
            let hosts = subnet.clustered ? Array(subnet.hosts.filter { map.hosts[$0].rogue == true }.prefix(Self.rogueNodesPerCluster)) : subnet.hosts
            if hosts.isEmpty {
                out += subnetNode(number, subnet)
            } else {
                // A box around the subnet and its hosts, in rows of up to `columns`: invisible
                // edges put a row's hosts in successive ranks, so a big subnet is not one tall column.
                out += "subgraph \(Self.quoted("cluster_m\(index)_s\(number)")) {\n"
                out += "graph [label=\"\", style=\"rounded\", color=\"#c8c8c8\", bgcolor=\"#fafafa\", margin=6];\n"
                out += subnetNode(number, subnet)
                for position in hosts { out += hostNode(position) }
                let columns = max(1, min(Self.columns, (hosts.count + 3) / 4))
                // Rows last to first: with `ordering=out` and left-to-right ranks, dot stacks a
                // node's later edges above its earlier ones, and the list reads top down.
                for row in stride(from: 0, to: hosts.count, by: columns).reversed() {
                    let cells = [subnetID(number)] + hosts[row..<min(row + columns, hosts.count)].map(hostID)
                    for (a, b) in zip(cells, cells.dropFirst()) { out += "\(Self.quoted(a)) -> \(Self.quoted(b)) [style=invis];\n" }
                }
                out += "}\n"
            }
            linkGateway(subnet.gateway, to: subnetID(number))
        }
        out += "}\n"
        return out
    }

    func node(_ id: String, classes: String, label: [String], link: String? = nil, tooltip: String? = nil,
              attributes: [String] = []) -> String {
        var all = ["id=\(Self.quoted(id))", "class=\(Self.quoted(classes))",
                   "label=\(Self.quoted(label.joined(separator: "\n")))"]
        if let link { all.append("URL=\(Self.quoted("#" + link))") }
        if let tooltip { all.append("tooltip=\(Self.quoted(tooltip))") }
        return "\(Self.quoted(id)) [\((all + attributes).joined(separator: ", "))];\n"
    }

    func routerNode(_ number: Int, _ router: Topology.Router) -> String {
        let members = router.members.map { map.hosts[$0] }
        let names = Array(Set(members.flatMap { $0.hostnames.map { Self.label($0.name, limit: 32) } })).sorted()
        let addresses = members.map { Self.label($0.address, limit: 45) }
        var label = ["router"] + names.prefix(1)
        label += addresses.prefix(4)
        if addresses.count > 4 { label.append("+\(addresses.count - 4) more addresses") }
        let ports = members.reduce(0) { $0 + $1.services.count }
        if ports > 0 { label.append(Self.ports(ports)) }
        let flags = Self.flags(members.contains { $0.new == true }, members.contains { $0.rogue == true })
        label += flags.lines
        let tip = Self.label((["router"] + names + addresses).joined(separator: " "), limit: 400)
        return node(routerID(number), classes: "router" + flags.classes, label: label, link: HTMLReport.hostID(map: index, host: router.members[0]),
                    tooltip: tip, attributes: ["shape=box3d", "style=filled", "margin=\"0.12,0.08\"", "fillcolor=\"\(HTMLReport.color(for: DeviceType.router.rawValue))\"",
                                               "color=\"\(flags.rogue ? "#cc0000" : "#555555")\"", "penwidth=\(flags.rogue ? 3 : 1.5)"])
    }

    func subnetNode(_ number: Int, _ subnet: Topology.Subnet) -> String {
        let hosts = subnet.hosts.map { map.hosts[$0] }
        let count = "\(hosts.count) host\(hosts.count == 1 ? "" : "s")"
        let spread = subnet.blocks > 1 ? " in \(subnet.blocks) /\(subnet.prefix.contains(":") ? 64 : 24)s" : ""
        guard subnet.clustered else {
            return node(subnetID(number), classes: "subnet", label: [subnet.prefix, count + spread],
                        attributes: ["shape=tab", "fillcolor=\"#eeeeee\"", "color=\"#888888\""])
        }
        // A cluster: the type counts as coloured cells (HTML-like label; its text is ours or sanitized).
        let types = Dictionary(grouping: hosts) { $0.deviceType ?? DeviceType.unknown.rawValue }
            .map { (type: $0.key, count: $0.value.count) }
            .sorted { ($0.count, $1.type) > ($1.count, $0.type) }
        var cells = types.prefix(6).map { type in
            "<TD BGCOLOR=\"\(HTMLReport.color(for: type.type))\">\(type.count) \(Self.label(type.type, limit: 20))</TD>"
        }
        if types.count > 6 { cells.append("<TD>\(types.dropFirst(6).reduce(0) { $0 + $1.count }) other</TD>") }
        let new = hosts.filter { $0.new == true }.count, rogue = hosts.filter { $0.rogue == true }.count
        let ports = hosts.reduce(0) { $0 + $1.services.count }
        var rows = ["<TR><TD COLSPAN=\"\(cells.count)\"><B>\(subnet.prefix)</B>&#160;· \(count)\(spread)</TD></TR>",
                    "<TR>" + cells.joined() + "</TR>"]
        var facts = [Self.ports(ports)]
        if new > 0 { facts.append("\(new) new") }
        if rogue > 0 { facts.append("\(rogue) ROGUE") }
        rows.append("<TR><TD COLSPAN=\"\(cells.count)\">\(facts.joined(separator: " · "))</TD></TR>")
        let label = "<<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"2\" CELLPADDING=\"2\">" + rows.joined() + "</TABLE>>"
        return "\(Self.quoted(subnetID(number))) [id=\(Self.quoted(subnetID(number))), class=\"subnet cluster\(rogue > 0 ? " rogue" : "")\", "
            + "label=\(label), URL=\(Self.quoted("#" + subnetFilter(number))), tooltip=\"show these hosts in the list\", "
            + "shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"\(rogue > 0 ? "#cc0000" : "#888888")\", penwidth=\(rogue > 0 ? 2.5 : 1.2)];\n"
    }

    /// Crowded subnets behind one gateway as one node: a grid of cells, each a subnet with its
    /// host count, its device types as coloured counts, and its new and rogue hosts; each cell
    /// links to the host list filtered to that subnet.
    func subnetGrid(_ id: String, _ all: [Int]) -> String {
        let total = all.reduce(0) { $0 + topology.subnets[$1].hosts.count }
        // The most crowded subnets, in address order; the rest are counted in the last cell.
        let numbers = all.count <= Self.gridCells ? all
            : all.sorted { topology.subnets[$0].hosts.count > topology.subnets[$1].hosts.count }.prefix(Self.gridCells - 1).sorted()
        let subnets = numbers.map { topology.subnets[$0] }
        let columns = min(Self.gridColumns, numbers.count)
        var cells: [String] = []
        for (number, subnet) in zip(numbers, subnets) {
            let hosts = subnet.hosts.map { map.hosts[$0] }
            let types = Dictionary(grouping: hosts) { $0.deviceType ?? DeviceType.unknown.rawValue }
                .map { (type: $0.key, count: $0.value.count) }
                .sorted { ($0.count, $1.type) > ($1.count, $0.type) }
            let bar = types.prefix(5).map { "<TD BGCOLOR=\"\(HTMLReport.color(for: $0.type))\">\($0.count)</TD>" }.joined()
                + (types.count > 5 ? "<TD>+\(types.dropFirst(5).reduce(0) { $0 + $1.count })</TD>" : "")
            let span = min(types.count, 5) + (types.count > 5 ? 1 : 0)
            let new = hosts.filter { $0.new == true }.count, rogue = hosts.filter { $0.rogue == true }.count
            var facts = [Self.ports(hosts.reduce(0) { $0 + $1.services.count })]
            if new > 0 { facts.append("\(new) new") }
            if rogue > 0 { facts.append("\(rogue) ROGUE") }
            let inner = "<TABLE BORDER=\"0\" CELLSPACING=\"1\" CELLPADDING=\"1\">"
                + "<TR><TD COLSPAN=\"\(span)\"><B>\(subnet.prefix)</B></TD></TR>"
                + "<TR><TD COLSPAN=\"\(span)\">\(hosts.count) hosts\(subnet.blocks > 1 ? " in \(subnet.blocks) netblocks" : "")</TD></TR>"
                + "<TR>\(bar)</TR><TR><TD COLSPAN=\"\(span)\">\(facts.joined(separator: " · "))</TD></TR></TABLE>"
            cells.append("<TD ID=\"m\(index)-cell-s\(number)\" HREF=\"#\(subnetFilter(number))\" TOOLTIP=\"show these hosts in the list\" "
                + "BORDER=\"\(rogue > 0 ? 3 : 1)\" COLOR=\"\(rogue > 0 ? "#cc0000" : "#aaaaaa")\" STYLE=\"rounded\">\(inner)</TD>")
        }
        if numbers.count < all.count {
            let rest = all.count - numbers.count
            let hosts = total - subnets.reduce(0) { $0 + $1.hosts.count }
            cells.append("<TD BORDER=\"1\" COLOR=\"#aaaaaa\" STYLE=\"rounded\">+\(rest) more subnets<BR/>\(hosts) hosts<BR/>(in the list)</TD>")
        }
        var rows = ["<TR><TD COLSPAN=\"\(columns)\"><B>\(all.count) subnets · \(total) hosts</B></TD></TR>"]
        for row in stride(from: 0, to: cells.count, by: columns) {
            rows.append("<TR>" + cells[row..<min(row + columns, cells.count)].joined() + "</TR>")
        }
        let label = "<<TABLE BORDER=\"0\" CELLSPACING=\"4\" CELLPADDING=\"3\">" + rows.joined() + "</TABLE>>"
        return "\(Self.quoted(id)) [id=\(Self.quoted(id)), class=\"subnets\", label=\(label), shape=box, "
            + "style=\"rounded,filled\", fillcolor=\"#ffffff\", color=\"#888888\"];\n"
    }

    func hostNode(_ position: Int) -> String {
        let host = map.hosts[position]
        let type = host.deviceType ?? DeviceType.unknown.rawValue
        var label = [Self.label(host.address, limit: 45)]
        if let name = host.hostnames.first { label.append(Self.label(name.name, limit: 28)) }
        label.append("\(Self.label(type, limit: 20)) · \(Self.ports(host.services.count))")
        let flags = Self.flags(host.new == true, host.rogue == true)
        label += flags.lines
        var tip = [host.address] + host.hostnames.map(\.name) + [type]
        if let os = host.os { tip.append(os) }
        tip += host.services.prefix(20).map { "\($0.port)/\($0.protocol.rawValue) \($0.name ?? "unknown")" }
        let color = HTMLReport.color(for: type)
        var style = "rounded,filled"
        if host.new == true { style += ",dashed" }
        return node(hostID(position), classes: "host" + flags.classes, label: label, link: HTMLReport.hostID(map: index, host: position),
                    tooltip: Self.label(tip.joined(separator: ", "), limit: 400),
                    attributes: ["style=\(Self.quoted(style))", "fillcolor=\"\(color)40\"",
                                 "color=\"\(flags.rogue ? "#cc0000" : color)\"", "penwidth=\(flags.rogue ? 3 : 1.5)"])
    }

    static func ports(_ count: Int) -> String { "\(count) open port\(count == 1 ? "" : "s")" }

    static func flags(_ new: Bool, _ rogue: Bool) -> (lines: [String], classes: String, rogue: Bool) {
        var words: [String] = []
        if rogue { words.append("ROGUE") }
        if new { words.append("new") }
        return (words.isEmpty ? [] : [words.joined(separator: " · ")],
                (rogue ? " rogue" : "") + (new ? " new" : ""), rogue)
    }

    // MARK: Safe text

    /// Punctuation kept in labels besides letters and digits: enough for host names, addresses,
    /// device types and OS names, and nothing DOT, HTML-like labels, SVG or HTML treat specially.
    static let allowedPunctuation = Set(" .-_:/()#,+@*=[]!%~·?".unicodeScalars)

    /// Service-derived text as it may appear in the drawing: letters, digits and the punctuation
    /// above; anything else (quotes, backslashes, `<`, `&`, controls, bidi overrides) becomes
    /// U+FFFD. Cut to `limit` characters.
    static func label(_ text: String, limit: Int) -> String {
        var out = String.UnicodeScalarView()
        var count = 0
        for scalar in text.unicodeScalars {
            if count == limit {
                out.append("…")
                break
            }
            let plain = (scalar.properties.isAlphabetic || scalar.properties.numericType != nil) && scalar.value >= 0x30
            if (plain && !TerminalSafety.needsEscape(scalar)) || allowedPunctuation.contains(scalar) {
                out.append(scalar)
            } else {
                out.append("\u{FFFD}")
            }
            count += 1
        }
        return String(out)
    }

    /// A DOT quoted string: backslash and quote escaped, line breaks as `\n` (DOT's centred line).
    /// Labels are sanitized before; this keeps ids and any other text inside their quotes too.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\r": continue
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
