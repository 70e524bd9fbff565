import CartographCore
import Foundation

/// The HTML report: one self-contained page per report, to open in a browser or attach to a ticket.
///
/// Per map: a header, a map of the hosts drawn as inline SVG (boxes per netblock, then per device
/// type, one node per host) and a host list whose entries unfold into the host's services. The
/// page is rendered here, so it reads without JavaScript; it also carries the report as JSON and
/// a small script that fills in the summary. It loads nothing: its Content-Security-Policy
/// forbids every request, so a hostile banner that slipped past escaping still could not call out.
public enum HTMLReport {
    public static func render(_ report: MapReport) -> String {
        let first = report.maps.first.map { $0.title ?? $0.target } ?? "empty report"
        let more = report.maps.count > 1 ? " and \(report.maps.count - 1) more" : ""
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="\(contentSecurityPolicy)">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Cartograph: \(escape(first + more))</title>
            <style>\(style)</style>
            </head>
            <body>
            <header class="page"><h1>Cartograph report</h1><p><span id="summary"></span></p></header>

            """
        for (index, map) in report.maps.enumerated() { out += render(map, index: index) }
        out += "<script type=\"application/json\" id=\"cartograph-data\">\(embeddedJSON(report))</script>\n"
        out += "<script>\(script)</script>\n</body>\n</html>\n"
        return out
    }

    /// Nothing may be fetched; only the page's own inline script and style run.
    public static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

    // MARK: One map

    static func render(_ map: MapResult, index: Int) -> String {
        let live = map.hosts.filter { $0.excluded != true }.count
        let excluded = map.hosts.count - live
        let heading = map.title ?? map.target
        var facts: [(String, String)] = []
        if heading != map.target { facts.append(("Target", map.target)) }
        if let id = map.id { facts.append(("Map", "#\(id)")) }
        facts += [
            ("Network", map.network), ("Profile", map.profile), ("Status", map.status.rawValue),
            ("Started", TextReport.timestamp(map.startedAt)),
            ("Duration", String(format: "%.1f s", map.finishedAt.timeIntervalSince(map.startedAt))),
            ("Hosts", "\(live) live of \(map.addressesScanned) scanned" + (excluded > 0 ? ", \(excluded) excluded" : "")),
        ]
        if let scanner = map.scanner { facts.append(("Scanner", scanner)) }
        if let user = map.launchedBy { facts.append(("Launched by", user)) }

        var out = "<section class=\"map\">\n<h2>\(escape(heading))</h2>\n<dl class=\"facts\">"
        for (label, value) in facts { out += "<div><dt>\(label)</dt><dd>\(escape(value))</dd></div>" }
        out += "</dl>\n"
        if !map.warnings.isEmpty {
            out += "<ul class=\"warnings\">" + map.warnings.map { "<li>\(escape($0))</li>" }.joined() + "</ul>\n"
        }
        if map.hosts.isEmpty {
            out += "<p>No live hosts.</p>\n</section>\n"
            return out
        }
        out += MapDrawing(map: map, index: index).svg()
        out += "<h3>Hosts</h3>\n"
        for (hostIndex, host) in map.hosts.enumerated() {
            out += render(host, id: hostID(map: index, host: hostIndex))
        }
        out += "</section>\n"
        return out
    }

    static func hostID(map: Int, host: Int) -> String { "m\(map)-h\(host)" }

    /// Why a host got its device type or OS: a short list under the value.
    static func evidence(_ items: [String]?) -> String {
        guard let items, !items.isEmpty else { return "" }
        return "<ul class=\"evidence\">" + items.map { "<li>\(escape($0))</li>" }.joined() + "</ul>"
    }

    // MARK: One host

    static func render(_ host: HostResult, id: String) -> String {
        let type = host.deviceType ?? DeviceType.unknown.rawValue
        let names = host.hostnames.map(\.name)
        var out = "<details class=\"host\" id=\"\(id)\"><summary>"
        out += "<span class=\"swatch\" style=\"background:\(color(for: type))\"></span>"
        out += "<span class=\"address\">\(escape(host.address))</span>"
        if !names.isEmpty { out += " <span class=\"names\">\(escape(names.joined(separator: ", ")))</span>" }
        out += " · <span class=\"type\">\(escape(type))</span>"
        if let os = host.os { out += " · <span class=\"os\">\(escape(os))</span>" }
        out += " · <span class=\"count\">\(host.services.count) open port\(host.services.count == 1 ? "" : "s")</span>"
        out += badges(host)
        out += "</summary>\n<div class=\"body\">\n<dl class=\"facts\">"
        out += "<div><dt>Found by</dt><dd>\(escape(TextReport.compactMethods(host.discovery)))</dd></div>"
        if !host.hostnames.isEmpty {
            let named = host.hostnames.map { "\($0.name) (\($0.source))" }.joined(separator: ", ")
            out += "<div><dt>Names</dt><dd>\(escape(named))</dd></div>"
        }
        if let ttl = host.ttl { out += "<div><dt>TTL</dt><dd>\(ttl)</dd></div>" }
        if let hops = host.hops { out += "<div><dt>Distance</dt><dd>\(hops) router\(hops == 1 ? "" : "s") away</dd></div>" }
        if let forwards = host.forwards, !forwards.isEmpty {
            out += "<div><dt>Forwards to</dt><dd>\(escape(forwards.joined(separator: ", ")))</dd></div>"
        }
        if let deviceType = host.deviceType {
            out += "<div><dt>Device type</dt><dd>\(escape(deviceType)) (\(host.deviceTypeConfidence ?? 0)%)"
            out += evidence(host.deviceTypeEvidence) + "</dd></div>"
        }
        if let os = host.os {
            out += "<div><dt>OS</dt><dd>\(escape(os)) (\(host.osConfidence ?? 0)%)" + evidence(host.osEvidence) + "</dd></div>"
        }
        var hidden: [String] = []
        if host.closedPorts > 0 { hidden.append("\(host.closedPorts) closed") }
        if host.filteredPorts > 0 { hidden.append("\(host.filteredPorts) filtered") }
        if !hidden.isEmpty { out += "<div><dt>Not shown</dt><dd>\(hidden.joined(separator: ", ")) ports</dd></div>" }
        out += "</dl>\n"
        if host.excluded == true {
            out += "<p>Excluded: listed because DNS named it; it was never sent a packet.</p>\n"
        } else if host.services.isEmpty {
            out += "<p>No open ports.</p>\n"
        } else {
            out += "<table><thead><tr><th>Port</th><th>Service</th><th>Product / version</th><th>Method</th></tr></thead><tbody>\n"
            for service in host.services { out += row(service) }
            out += "</tbody></table>\n"
        }
        out += "</div></details>\n"
        return out
    }

    static func badges(_ host: HostResult) -> String {
        var out = ""
        if host.new == true { out += " <span class=\"badge new\">new</span>" }
        if host.rogue == true { out += " <span class=\"badge rogue\">rogue</span>" }
        if host.excluded == true { out += " <span class=\"badge excluded\">excluded</span>" }
        if host.inNetblock == false { out += " <span class=\"badge outside\">outside netblocks</span>" }
        return out
    }

    static func row(_ service: ServiceResult) -> String {
        var name = service.name ?? "unknown"
        if service.certain == false { name += "?" }
        if service.tls == true { name += " (TLS)" }
        let version = service.versionText
        var method = escape(service.method)
        for error in service.probeErrors ?? [] { method += "<div class=\"error\">\(escape(error))</div>" }
        var cells = [
            escape("\(service.port)/\(service.protocol.rawValue)") + (service.state == "open" ? "" : " " + escape(service.state)),
            escape(name), escape(version), method,
        ]
        if let cpe = service.cpe, !cpe.isEmpty { cells[2] += "<div class=\"cpe\">\(escape(cpe.joined(separator: " ")))</div>" }
        return "<tr>" + cells.map { "<td>\($0)</td>" }.joined() + "</tr>\n"
    }

    // MARK: Colors

    /// A fixed color for the common device types, and a stable one (hashed from the name) for
    /// types probes report that are not listed.
    static func color(for type: String) -> String {
        if let known = knownColors[type] { return known }
        // FNV-1a: Swift's `hashValue` changes from run to run, and colors should not.
        let hash = type.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }
        return otherColors[Int(hash % UInt32(otherColors.count))]
    }

    static let knownColors = [
        "web server": "#4e79a7", "mail server": "#f28e2b", "DNS server": "#59a14f", "database server": "#b07aa1",
        "file server": "#edc948", "IoT/embedded": "#e15759", DeviceType.unknown.rawValue: "#a0a0a0",
    ]
    static let otherColors = ["#76b7b2", "#ff9da7", "#9c755f", "#8cd17d", "#d37295", "#499894", "#86bcb6", "#f1ce63"]

    // MARK: Escaping and embedded data

    /// Text safe for HTML content and quoted attribute values.
    static func escape(_ text: String) -> String {
        Markup.escape(text, apostrophe: "&#39;", whitespace: .keep)
    }

    /// The report as JSON for the page's script. `<`, `>` and `&` appear only inside JSON strings,
    /// so writing them as `\u003c`, `\u003e`, `\u0026` keeps the data the same while no `</script>`
    /// or `<!--` in a banner can end or confuse the script element; C1 and bidi characters are
    /// `\u` escapes too, as in the JSON report.
    static func embeddedJSON(_ report: MapReport) -> String {
        let encoder = MapReport.jsonEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding fails only on non-finite floating-point numbers, and the model holds none.
        guard let data = try? encoder.encode(report) else { return "null" }
        return TerminalSafety.json(String(decoding: data, as: UTF8.self))
            .replacingOccurrences(of: "<", with: "\\u003c")
            .replacingOccurrences(of: ">", with: "\\u003e")
            .replacingOccurrences(of: "&", with: "\\u0026")
    }

    /// Counts hosts and open ports from the embedded data (proof the page's script ran, for the
    /// headless-browser test) and unfolds the host a map node links to.
    static let script = """

        (function () {
          "use strict";
          var data = JSON.parse(document.getElementById("cartograph-data").textContent) || { maps: [] };
          var hosts = 0, ports = 0;
          data.maps.forEach(function (map) {
            hosts += map.hosts.length;
            map.hosts.forEach(function (host) { ports += host.services.length; });
          });
          document.body.dataset.rendered = String(hosts);
          document.getElementById("summary").textContent =
            hosts + (hosts === 1 ? " host, " : " hosts, ") + ports + (ports === 1 ? " open port" : " open ports");
          function unfold() {
            var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
            if (target && target.tagName === "DETAILS") { target.open = true; }
          }
          window.addEventListener("hashchange", unfold);
          unfold();
        })();

        """

    static let style = """

        body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1000px; padding: 0 16px 48px; color: #222; }
        h1 { font-size: 22px; margin: 20px 0 4px; }
        h2 { font-size: 18px; margin: 0 0 8px; }
        h3 { font-size: 15px; margin: 16px 0 6px; }
        #summary { color: #555; }
        section.map { border-top: 2px solid #ccc; margin-top: 24px; padding-top: 16px; }
        dl.facts { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 0 0 10px; }
        dl.facts div { display: flex; gap: 6px; }
        dt { color: #666; }
        dd { margin: 0; }
        ul.warnings { color: #8a5300; }
        svg.map { width: 100%; height: auto; border: 1px solid #ddd; background: #fbfbfb; }
        svg .netblock { fill: #fff; stroke: #999; }
        svg .group { fill-opacity: 0.08; stroke-opacity: 0.6; }
        svg text { font: 11px ui-monospace, monospace; fill: #222; }
        svg text.label { font: bold 12px system-ui, sans-serif; }
        svg circle { stroke: #333; stroke-width: 1; }
        svg circle.rogue { stroke: #c00; stroke-width: 3; }
        svg circle.new { stroke-dasharray: 3 2; stroke-width: 2; }
        svg circle.excluded { fill-opacity: 0.25; }
        details.host { border: 1px solid #ddd; border-radius: 4px; margin: 4px 0; padding: 4px 8px; }
        details.host summary { cursor: pointer; }
        details.host .body { padding: 6px 0 2px; }
        .address { font-family: ui-monospace, monospace; font-weight: bold; }
        .names, .type, .count { color: #555; }
        .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; border: 1px solid #333; }
        .badge { font-size: 11px; border-radius: 3px; padding: 0 5px; color: #fff; }
        .badge.new { background: #2a7ab0; }
        .badge.rogue { background: #c00; }
        .badge.excluded { background: #777; }
        .badge.outside { background: #a66a00; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; padding: 2px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
        td:first-child { font-family: ui-monospace, monospace; white-space: nowrap; }
        .cpe, .error { font-size: 12px; color: #666; }
        .error { color: #a00; }

        """
}

/// The SVG drawing of one map: a box per netblock (/24 for IPv4, /64 for IPv6), inside it a box
/// per device type, inside that a node per host, linked to the host's entry in the list.
/// Positions are computed here with a simple flow layout, so the drawing needs no script.
struct MapDrawing {
    let map: MapResult
    let index: Int

    static let width = 960
    static let margin = 12
    static let padding = 10
    static let header = 24
    static let cellHeight = 26
    /// Approximate width of a character of the 11 px monospace label.
    static let charWidth = 7

    /// A host and its position in the map's host list (for the link to its entry).
    typealias Node = (host: HostResult, position: Int, address: IPAddress?)

    func svg() -> String {
        let m = Self.margin, p = Self.padding
        var body = ""
        var y = m
        for (block, nodes) in netblocks() {
            let inner = Self.width - 2 * m - 2 * p
            var groupsSVG = ""
            var x = 0, rowY = 0, rowHeight = 0
            for (type, members) in groups(nodes) {
                let labelWidth = (type.count + 8) * Self.charWidth + 2 * p
                let cell = max(120, (members.map { $0.host.address.count }.max() ?? 0) * Self.charWidth + 30)
                let columns = max(1, min(members.count, (inner - 2 * p) / cell))
                let rows = (members.count + columns - 1) / columns
                let w = min(inner, max(columns * cell + 2 * p, labelWidth))
                let h = Self.header + rows * Self.cellHeight + p
                if x > 0 && x + w > inner {
                    x = 0
                    rowY += rowHeight + p
                    rowHeight = 0
                }
                groupsSVG += group(type: type, members: members, x: m + p + x, y: y + Self.header + rowY,
                                   width: w, height: h, cell: cell, columns: columns)
                x += w + p
                rowHeight = max(rowHeight, h)
            }
            let height = Self.header + rowY + rowHeight + p
            body += "<rect class=\"netblock\" x=\"\(m)\" y=\"\(y)\" width=\"\(Self.width - 2 * m)\" height=\"\(height)\" rx=\"6\"/>"
            body += "<text class=\"label\" x=\"\(m + p)\" y=\"\(y + 17)\">\(HTMLReport.escape(block)) · "
            body += "\(nodes.count) host\(nodes.count == 1 ? "" : "s")</text>\n"
            body += groupsSVG
            y += height + m
        }
        return "<svg class=\"map\" viewBox=\"0 0 \(Self.width) \(y)\" "
            + "role=\"img\" aria-label=\"Hosts of \(HTMLReport.escape(map.title ?? map.target)) by netblock and device type\">\n"
            + body + "</svg>\n"
    }

    func group(type: String, members: [Node], x: Int, y: Int, width: Int, height: Int, cell: Int, columns: Int) -> String {
        let color = HTMLReport.color(for: type)
        let p = Self.padding
        var out = "<rect class=\"group\" x=\"\(x)\" y=\"\(y)\" width=\"\(width)\" height=\"\(height)\" rx=\"4\" "
        out += "fill=\"\(color)\" stroke=\"\(color)\"/>"
        out += "<text class=\"label\" x=\"\(x + p)\" y=\"\(y + 16)\">\(HTMLReport.escape(type)) (\(members.count))</text>\n"
        for (i, node) in members.enumerated() {
            let cx = x + p + (i % columns) * cell + 8
            let cy = y + Self.header + (i / columns) * Self.cellHeight + Self.cellHeight / 2
            let host = node.host
            let classes = [host.new == true ? "new" : nil, host.rogue == true ? "rogue" : nil,
                           host.excluded == true ? "excluded" : nil].compactMap { $0 }
            let tip = ([host.address] + host.hostnames.map(\.name)).joined(separator: " ")
                + " (\(host.services.count) open port\(host.services.count == 1 ? "" : "s"))"
            out += "<a href=\"#\(HTMLReport.hostID(map: index, host: node.position))\"><title>\(HTMLReport.escape(tip))</title>"
            out += "<circle cx=\"\(cx)\" cy=\"\(cy)\" r=\"7\" fill=\"\(color)\""
            out += classes.isEmpty ? "" : " class=\"\(classes.joined(separator: " "))\""
            out += "/><text x=\"\(cx + 12)\" y=\"\(cy + 4)\">\(HTMLReport.escape(host.address))</text></a>\n"
        }
        return out
    }

    /// Hosts by netblock, netblocks in address order; addresses that do not parse come last.
    func netblocks() -> [(String, [Node])] {
        var blocks: [String: (base: IPAddress?, nodes: [Node])] = [:]
        for (position, host) in map.hosts.enumerated() {
            let address = IPAddress(host.address)
            let base = address.map(Self.netblock)
            let label = base.map { "\($0)/\($0.family == .v4 ? 24 : 64)" } ?? "other"
            blocks[label, default: (base, [])].nodes.append((host, position, address))
        }
        return blocks.sorted { a, b in
            switch (a.value.base, b.value.base) {
            case let (x?, y?): x < y
            case (_?, nil): true
            case (nil, _?): false
            case (nil, nil): a.key < b.key
            }
        }.map { ($0.key, $0.value.nodes) }
    }

    static func netblock(of address: IPAddress) -> IPAddress {
        let hostBits = address.family == .v4 ? 8 : 64
        return IPAddress(family: address.family, value: (address.value >> hostBits) << hostBits)
    }

    /// A netblock's hosts by device type: types in alphabetical order with `unknown` last, hosts in
    /// address order.
    func groups(_ nodes: [Node]) -> [(String, [Node])] {
        let byType = Dictionary(grouping: nodes) { $0.host.deviceType ?? DeviceType.unknown.rawValue }
        return byType.keys.sorted { a, b in
            (a == DeviceType.unknown.rawValue ? 1 : 0, a.lowercased()) < (b == DeviceType.unknown.rawValue ? 1 : 0, b.lowercased())
        }.map { type in
            (type, byType[type]!.sorted { a, b in
                switch (a.address, b.address) {
                case let (x?, y?): x < y
                default: a.position < b.position
                }
            })
        }
    }
}
