import CartographCore
import Foundation

/// The HTML report: one self-contained page per report, to open in a browser or attach to a ticket.
///
/// Per map: a header, the network's topology (scanner, routers, subnets, hosts) laid out by
/// Graphviz and inlined as SVG, a legend, and a host list whose entries unfold into the host's
/// services. The page is rendered here, so it reads without JavaScript; it also carries the
/// report as JSON and a small script that fills in the summary and filters the list. It loads
/// nothing: its Content-Security-Policy forbids every request, so a hostile banner that slipped
/// past escaping still could not call out. Without Graphviz the page says so in one line.
public enum HTMLReport {
    public static func render(_ report: MapReport, graphviz: Graphviz = .system()) -> String {
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
        for (index, map) in report.maps.enumerated() { out += render(map, index: index, graphviz: graphviz) }
        out += "<script type=\"application/json\" id=\"cartograph-data\">\(embeddedJSON(report))</script>\n"
        out += "<script>\(script)</script>\n</body>\n</html>\n"
        return out
    }

    /// Nothing may be fetched; only the page's own inline script and style run.
    public static let contentSecurityPolicy =
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"

    // MARK: One map

    static func render(_ map: MapResult, index: Int, graphviz: Graphviz) -> String {
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
        let drawing = TopologyDOT(map: map, index: index)
        out += topology(drawing, graphviz: graphviz)
        let groups = hostGroups(drawing)
        out += "<h3>Hosts</h3>\n" + filters(map, index: index)
        out += "<div class=\"hosts\" id=\"m\(index)-hosts\">\n"
        for (hostIndex, host) in map.hosts.enumerated() {
            out += render(host, id: hostID(map: index, host: hostIndex), group: groups[hostIndex])
        }
        out += "</div>\n</section>\n"
        return out
    }

    /// The drawing and its legend, or the one line saying why there is none.
    static func topology(_ drawing: TopologyDOT, graphviz: Graphviz) -> String {
        let map = drawing.map
        let name = escape(map.title ?? map.target)
        let drawn = graphviz.svg(drawing.dot()).flatMap {
            Graphviz.inline($0, classes: "topology", label: "Network map of \(name): scanner, routers, subnets and hosts")
        }
        switch drawn {
        case let .failure(reason):
            return "<p class=\"no-map\">The network map could not be drawn: \(escape(reason.description)); the hosts are listed below.</p>\n"
        case let .success(svg):
            return "<figure class=\"topology\" id=\"m\(drawing.index)-map\">\n" + svg + legend(drawing) + "</figure>\n"
        }
    }

    /// What the colours and shapes mean: the device types this map has, then the kinds of node,
    /// mark and link the drawing uses.
    static func legend(_ drawing: TopologyDOT) -> String {
        let map = drawing.map, topology = drawing.topology
        let live = map.hosts.filter { $0.excluded != true }
        let types = Set(live.map { $0.deviceType ?? DeviceType.unknown.rawValue })
        let ordered = types.sorted { a, b in
            (a == DeviceType.unknown.rawValue ? 1 : 0, a.lowercased()) < (b == DeviceType.unknown.rawValue ? 1 : 0, b.lowercased())
        }
        var out = "<figcaption class=\"legend\"><ul>"
        for type in ordered {
            out += "<li><span class=\"swatch\" style=\"background:\(color(for: type))\"></span>\(escape(type))</li>"
        }
        out += "<li><span class=\"key scanner\"></span>scanner</li>"
        if !topology.routers.isEmpty { out += "<li><span class=\"key router\"></span>router (all its addresses)</li>" }
        out += "<li><span class=\"key subnet\"></span>subnet"
        out += topology.subnets.contains { $0.clustered } ? "; a box with counts stands for its hosts</li>" : "</li>"
        if live.contains(where: { $0.new == true }) { out += "<li><span class=\"key new\"></span>new: never seen before in this network</li>" }
        if live.contains(where: { $0.rogue == true }) { out += "<li><span class=\"key rogue\"></span>rogue: not in the inventory</li>" }
        let inferred = topology.links.contains { $0.inferred } || topology.subnets.contains {
            if case .unknown = $0.gateway { true } else { false }
        }
        if inferred { out += "<li><span class=\"key inferred\"></span>link inferred from distances, not traced</li>" }
        return out + "</ul></figcaption>\n"
    }

    /// The node each host is drawn in (its subnet's filter id), for the list's filter.
    static func hostGroups(_ drawing: TopologyDOT) -> [Int: String] {
        var groups: [Int: String] = [:]
        for (number, subnet) in drawing.topology.subnets.enumerated() {
            for position in subnet.hosts { groups[position] = drawing.subnetFilter(number) }
        }
        for (number, router) in drawing.topology.routers.enumerated() {
            for position in router.members { groups[position] = "m\(drawing.index)-r\(number)" }
        }
        return groups
    }

    /// Search and filters over the host list; hidden until the script shows them, since without
    /// it they would do nothing.
    static func filters(_ map: MapResult, index: Int) -> String {
        let types = Set(map.hosts.map { $0.deviceType ?? DeviceType.unknown.rawValue }).sorted { $0.lowercased() < $1.lowercased() }
        var out = "<form class=\"filters\" data-hosts=\"m\(index)-hosts\" hidden>"
        out += "<input type=\"search\" name=\"q\" placeholder=\"Search addresses, names, services\" aria-label=\"Search hosts\">"
        out += "<select name=\"type\" aria-label=\"Device type\"><option value=\"\">all device types</option>"
        for type in types { out += "<option value=\"\(escape(type))\">\(escape(type))</option>" }
        out += "</select>"
        for (flag, text) in [("new", "new"), ("rogue", "rogue"), ("open", "with open ports")] {
            out += "<label><input type=\"checkbox\" name=\"\(flag)\"> \(text)</label>"
        }
        out += "<input type=\"hidden\" name=\"group\"><button type=\"reset\">show all</button> <output name=\"shown\"></output></form>\n"
        return out
    }

    static func hostID(map: Int, host: Int) -> String { "m\(map)-h\(host)" }

    /// Why a host got its device type or OS: a short list under the value.
    static func evidence(_ items: [String]?) -> String {
        guard let items, !items.isEmpty else { return "" }
        return "<ul class=\"evidence\">" + items.map { "<li>\(escape($0))</li>" }.joined() + "</ul>"
    }

    // MARK: One host

    static func render(_ host: HostResult, id: String, group: String? = nil) -> String {
        let type = host.deviceType ?? DeviceType.unknown.rawValue
        let names = host.hostnames.map(\.name)
        var out = "<details class=\"host\" id=\"\(id)\" data-type=\"\(escape(type))\" data-ports=\"\(host.services.count)\""
        if host.new == true { out += " data-new=\"\"" }
        if host.rogue == true { out += " data-rogue=\"\"" }
        if let group { out += " data-group=\"\(escape(group))\"" }
        out += "><summary>"
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
        // Light, as the map's router nodes: their black text must stay readable.
        DeviceType.router.rawValue: "#d4d4d4",
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
          // Proof for the browser test that the drawing parsed as SVG: its nodes and links.
          document.querySelectorAll("figure.topology").forEach(function (figure) {
            figure.dataset.nodes = String(figure.querySelectorAll("svg g.node").length);
            figure.dataset.edges = String(figure.querySelectorAll("svg g.edge").length);
          });
          function filter(form) {
            var list = document.getElementById(form.dataset.hosts), f = form.elements;
            var q = f.q.value.trim().toLowerCase(), shown = 0, all = 0;
            list.querySelectorAll("details.host").forEach(function (host) {
              var d = host.dataset;
              var ok = (!q || host.textContent.toLowerCase().indexOf(q) >= 0) && (!f.type.value || d.type === f.type.value) &&
                (!f.group.value || d.group === f.group.value) && (!f.new.checked || "new" in d) &&
                (!f.rogue.checked || "rogue" in d) && (!f.open.checked || d.ports !== "0");
              host.hidden = !ok;
              all += 1;
              if (ok) { shown += 1; }
            });
            f.shown.value = shown + " of " + all + " hosts" + (f.group.value ? " (one subnet of the map)" : "");
          }
          // A filter can come in the address (report.html?q=nginx&type=printer&rogue), to share a view.
          var params = new URLSearchParams(location.search);
          document.querySelectorAll("form.filters").forEach(function (form) {
            form.hidden = false;
            ["q", "type"].forEach(function (key) { if (params.has(key)) { form.elements[key].value = params.get(key); } });
            ["new", "rogue", "open"].forEach(function (key) { if (params.has(key)) { form.elements[key].checked = true; } });
            form.addEventListener("input", function () { filter(form); });
            form.addEventListener("submit", function (event) { event.preventDefault(); });
            form.addEventListener("reset", function () { setTimeout(function () { form.elements.group.value = ""; filter(form); }, 0); });
            filter(form);
          });
          function unfold() {
            var id = location.hash.slice(1), cluster = /^(m[0-9]+)-s[0-9]+$/.exec(id);
            if (cluster) {
              // A subnet drawn as one node: the list shows its hosts.
              var form = document.querySelector("form.filters[data-hosts='" + cluster[1] + "-hosts']");
              if (form) { form.elements.group.value = id; filter(form); form.scrollIntoView(); }
              return;
            }
            var target = id ? document.getElementById(id) : null;
            if (target && target.tagName === "DETAILS") { target.hidden = false; target.open = true; }
          }
          window.addEventListener("hashchange", unfold);
          unfold();
        })();

        """

    static let style = """

        body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1280px; padding: 0 16px 48px; color: #222; }
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
        figure.topology { margin: 0 0 12px; border: 1px solid #ddd; background: #fff; overflow: auto; max-height: 85vh; }
        svg.topology { display: block; margin: 0 auto; }
        svg.topology a { cursor: pointer; }
        svg.topology g.node:hover polygon, svg.topology g.node:hover path { stroke-width: 2.5; }
        .legend { position: sticky; left: 0; border-top: 1px solid #eee; padding: 6px 10px; font-size: 12px; color: #444; }
        .legend ul { display: flex; flex-wrap: wrap; gap: 4px 16px; list-style: none; margin: 0; padding: 0; }
        .key { display: inline-block; width: 14px; height: 10px; margin-right: 6px; vertical-align: middle; border: 1.5px solid #555; }
        .key.scanner { background: #333; border-color: #333; }
        .key.router { background: #d4d4d4; box-shadow: 2px -2px 0 #999; }
        .key.subnet { background: #eee; border-color: #888; }
        .key.new { border-style: dashed; border-radius: 3px; }
        .key.rogue { border: 3px solid #c00; border-radius: 3px; }
        .key.inferred { border: 0; border-top: 2px dashed #7a7a7a; height: 0; }
        p.no-map { color: #8a5300; }
        form.filters { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: center; margin: 0 0 8px; }
        form.filters input[type=search] { flex: 1 1 240px; padding: 3px 6px; }
        form.filters output { color: #555; }
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
