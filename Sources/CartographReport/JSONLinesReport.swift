import CartographCore
import Foundation

/// `--format jsonl`: one JSON object a line, so `jq` and pipelines can follow a map live. A map
/// writes a `host` line when a host is found live, a `port` line for each open port, a
/// `service` line for each port a probe identified, all as they are found, then one `map` line
/// at its end. Keys are snake_case and stable; a key without a value is left out. The README
/// ("JSON lines") lists the keys.
public struct JSONLine: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case host, port, service, map }

    public var type: Kind
    /// When the line was written (for a stored map: when the map ended), UTC with milliseconds.
    public var time: Date
    /// The map's id in the store; nil when the map is not stored.
    public var mapId: Int64?
    public var target: String
    public var network: String
    public var address: String?
    public var hostnames: [String]?
    /// How the host was found (`icmp-echo`, `tcp-syn:443`, ...), on host lines.
    public var discovery: String?
    public var port: UInt16?
    public var `protocol`: TransportProtocol?
    public var state: String?
    /// The service's name, on service lines.
    public var service: String?
    public var product: String?
    public var version: String?
    public var certain: Bool?
    /// On map lines: how it ended and what it found.
    public var status: MapResult.Status?
    public var hostsFound: Int?
    public var openPorts: Int?
    public var servicesIdentified: Int?
    public var durationSeconds: Double?

    public init(type: Kind, time: Date = Date(), mapId: Int64?, target: String, network: String) {
        self.type = type
        self.time = time
        self.mapId = mapId
        self.target = target
        self.network = network
    }

    /// The map line of a finished map.
    public init(completion c: MapCompletion, time: Date = Date()) {
        self.init(type: .map, time: time, mapId: c.mapId, target: c.target, network: c.network)
        status = c.status
        hostsFound = c.hostsFound
        openPorts = c.openPorts
        servicesIdentified = c.servicesIdentified
        durationSeconds = (c.durationSeconds * 1000).rounded() / 1000
    }

    /// One line: compact, keys sorted, control characters escaped (safe on a terminal).
    public var text: String {
        let encoder = MapReport.jsonEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Lines follow each other within milliseconds: the time keeps them.
        encoder.dateEncodingStrategy = .custom { date, encoder in
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            var container = encoder.singleValueContainer()
            try container.encode(formatter.string(from: date))
        }
        // Encoding fails only on non-finite numbers; a duration is always finite.
        return ((try? MapReport.jsonText(self, encoder: encoder)) ?? "{}") + "\n"
    }
}

public enum JSONLinesReport {
    /// Stored maps as the lines a live map would have written: each map's hosts, open ports and
    /// identified services, then its map line, all stamped with the map's end.
    public static func render(_ report: MapReport) -> String {
        var out = ""
        for map in report.maps {
            func line(_ kind: JSONLine.Kind) -> JSONLine {
                JSONLine(type: kind, time: map.finishedAt, mapId: map.id, target: map.target, network: map.network)
            }
            for host in map.hosts where host.excluded != true && !host.isOnTheWay {
                var hostLine = line(.host)
                hostLine.address = host.address
                hostLine.hostnames = host.hostnames.isEmpty ? nil : host.hostnames.map(\.name)
                hostLine.discovery = host.discovery.first
                out += hostLine.text
                for service in host.services where service.state == "open" {
                    var portLine = line(.port)
                    portLine.address = host.address
                    portLine.port = service.port
                    portLine.protocol = service.protocol
                    portLine.state = service.state
                    out += portLine.text
                    guard let name = service.name else { continue }
                    var serviceLine = portLine
                    serviceLine.type = .service
                    serviceLine.state = nil
                    serviceLine.service = name
                    serviceLine.product = service.product
                    serviceLine.version = service.version
                    serviceLine.certain = service.certain ?? true
                    out += serviceLine.text
                }
            }
            out += JSONLine(completion: MapCompletion(map: map), time: map.finishedAt).text
        }
        return out
    }
}
