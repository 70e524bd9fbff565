import CartographCore
import Foundation

/// The CSV report (RFC 4180): a header, then one row per open port, for spreadsheets and scripts.
///
/// Rows end in CRLF. A field holding a comma, a double quote, CR or LF is quoted, with its quotes
/// doubled. A host without open ports gets one row with the service columns empty, so every live
/// host appears. Booleans read `true`/`false`; a missing value is an empty field. Lists (host
/// names, discovery methods, CPEs) are joined with spaces.
///
/// Formula injection: spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and some a
/// leading tab or CR) as a formula, and a remote service chooses its own banner. So a field whose
/// text came from the network (host names, service name, product, version, extra info, CPEs) and
/// starts with one of those characters is prefixed with a single quote `'`, which spreadsheets
/// read as "this is text". Fields from the user or from Cartograph itself are written as they are.
///
/// Control characters: every field is written `terminalSafe` (escapes such as `\x1b`, `\r`), so
/// no field carries a line break or a terminal escape; the only control bytes in the file are the
/// CRLF that end its rows.
public enum CSVReport {
    public static let columns = [
        "map_id", "network", "target", "address", "hostnames", "discovery", "new", "rogue", "excluded", "ttl",
        "hops", "device_type", "device_type_confidence", "os", "os_confidence",
        "port", "protocol", "state", "service", "product", "version", "extra_info", "tls", "method", "cpe",
    ]

    public static func render(_ report: MapReport) -> String {
        var out = line(columns)
        for map in report.maps {
            for host in map.hosts {
                let hostFields: [String] = [
                    number(map.id), map.network, map.target, host.address,
                    remote(host.hostnames.map(\.name).joined(separator: " ")),
                    host.discovery.joined(separator: " "),
                    flag(host.new), flag(host.rogue), flag(host.excluded), number(host.ttl),
                    number(host.hops), host.deviceType ?? "", number(host.deviceTypeConfidence),
                    host.os ?? "", number(host.osConfidence),
                ]
                if host.services.isEmpty {
                    out += line(hostFields + Array(repeating: "", count: columns.count - hostFields.count))
                }
                for service in host.services {
                    out += line(hostFields + [
                        String(service.port), service.protocol.rawValue, service.state,
                        remote(service.name ?? ""), remote(service.product ?? ""), remote(service.version ?? ""),
                        remote(service.extraInfo ?? ""), flag(service.tls), service.method,
                        remote((service.cpe ?? []).joined(separator: " ")),
                    ])
                }
            }
        }
        return out
    }

    /// One record: fields quoted where RFC 4180 asks, then CRLF.
    static func line(_ fields: [String]) -> String {
        fields.map { quoted($0.terminalSafe) }.joined(separator: ",") + "\r\n"
    }

    static func quoted(_ field: String) -> String {
        // Scalars, not Characters: "\r\n" is one Character in Swift and would match neither.
        let special = field.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }
        guard special else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Text a remote host chose: defused when a spreadsheet would take it for a formula.
    static func remote(_ field: String) -> String {
        let field = field.terminalSafe
        guard let first = field.unicodeScalars.first, formulaStarts.contains(first) else { return field }
        return "'" + field
    }

    static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r"]

    static func number<N: BinaryInteger>(_ value: N?) -> String {
        value.map { String($0) } ?? ""
    }

    static func flag(_ value: Bool?) -> String {
        value.map { $0 ? "true" : "false" } ?? ""
    }
}
