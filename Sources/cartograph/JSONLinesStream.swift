import CartographCore
import CartographEngine
import CartographReport
import Foundation

/// `map --format jsonl`: writes a line for each host, open port and identified service as the
/// scheduler finds it, and one for each map as it ends, to stdout or the `-o` file (opened once,
/// truncated, and written line by line so a reader can follow it).
final class JSONLinesStream: @unchecked Sendable {
    // Guarded by `lock`: the map's thread writes lines, the interrupt watchdog may end the run.
    private let lock = NSLock()
    private let fd: Int32
    private var target = ""
    private var network = "default"
    private var hosts = Set<String>()
    private var ports = Set<String>()
    private var mapsWritten = 0
    private var readerGone = false
    /// Called once when the reader goes away (`| head -1`): the map is stopped as by Ctrl-C, so
    /// it is stored as interrupted instead of the process dying of SIGPIPE mid-write.
    private let goneAway: () -> Void

    init(path: String?, goneAway: @escaping () -> Void) throws(CLIError) {
        self.goneAway = goneAway
        // A closed pipe is an EPIPE for `write` to see, not a signal that ends the process.
        signal(SIGPIPE, SIG_IGN)
        guard let path else {
            fd = STDOUT_FILENO
            return
        }
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CLIError("cannot write the report to \(path): \(String(cString: strerror(errno)))", code: .failure)
        }
    }

    /// A map starts: its lines carry its target and network.
    func began(_ skeleton: MapResult) {
        lock.withLock {
            target = skeleton.target
            network = skeleton.network
            hosts = []
            ports = []
        }
    }

    /// The lines of one event: a host line for each host it made live first, then a port
    /// line for each open port, or a service line for an identified one.
    func event(_ event: MapEvent, mapId: Int64?, newHosts: [IPAddress]) {
        lock.withLock {
            var lines: [JSONLine] = []
            func line(_ kind: JSONLine.Kind, _ address: IPAddress) -> JSONLine {
                var line = JSONLine(type: kind, mapId: mapId, target: target, network: network)
                line.address = address.description
                return line
            }
            func port(_ address: IPAddress, _ number: UInt16, _ proto: TransportProtocol) {
                guard ports.insert("\(address) \(proto) \(number)").inserted else { return }
                var portLine = line(.port, address)
                portLine.port = number
                portLine.protocol = proto
                portLine.state = "open"
                lines.append(portLine)
            }
            for address in newHosts where hosts.insert(address.description).inserted {
                var host = line(.host, address)
                if case .live(_, let method, _) = event { host.discovery = method }
                lines.append(host)
            }
            switch event {
            case .port(let observation) where observation.state == .open:
                port(observation.address, observation.port, observation.proto)
            case .ports(let observations):
                for observation in observations where observation.state == .open {
                    port(observation.address, observation.port, observation.proto)
                }
            case .identified(let result):
                guard let match = result.match else { break }
                // A UDP port is open when a probe's payload drew an answer: no scan event said so.
                port(result.address, result.port, result.proto)
                var service = line(.service, result.address)
                service.port = result.port
                service.protocol = result.proto
                service.service = match.name
                service.product = match.product
                service.version = match.version
                service.certain = match.certain
                lines.append(service)
            default:
                break
            }
            for line in lines { write(line.text) }
        }
    }

    func ended(_ completion: MapCompletion) {
        lock.withLock {
            mapsWritten += 1
            write(JSONLine(completion: completion).text)
        }
    }

    /// The run was cut short: map lines for the maps that had not ended yet.
    func finish(_ maps: [MapResult]) {
        lock.withLock {
            for map in maps.dropFirst(mapsWritten) { write(JSONLine(completion: MapCompletion(map: map)).text) }
            mapsWritten = max(mapsWritten, maps.count)
        }
    }

    private func write(_ text: String) {
        guard !readerGone else { return }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                if errno == EPIPE {
                    readerGone = true
                    printError("the reader of the JSON lines went away; stopping the map")
                    goneAway()
                }
                return
            }
            written += count
        }
    }
}
