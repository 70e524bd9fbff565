import CartographTestSupport
import Foundation
import Testing

/// Every suite that talks to the lab lives in this one, serialized: the tests read packet
/// counters and capture traffic of lab hosts, which another test's traffic would disturb.
@Suite("The lab", .serialized)
struct LabTests {}

/// The lab built by `Scripts/lab.sh up`: a scanner namespace, a router, and hosts running real
/// daemons. Lab tests fail (never skip) when it is not there.
enum Lab {
    static let scanner = "cg-scan"
    static let h1 = "198.18.1.2", h2 = "198.18.2.2", h3 = "198.18.3.2"
    static let h1v6 = "fd7c:a7:1::2"
    /// On h1's link, but no host has it: the router's ARP fails and reports it unreachable.
    static let absent = "198.18.1.99"

    /// The lab's breadth parts: dozens of daemons each, there for the probe tests
    /// (`LabServiceTests`), which check them host by host. The other lab tests do not need them.
    static let serviceParts = ["cg-web", "cg-files", "cg-data"]

    /// Fails the calling test with a clear message unless every lab namespace is there and every
    /// daemon answers: those of `only` (namespaces or addresses) when given, else all but the
    /// breadth parts' daemons.
    static func require(only: [String] = []) throws {
        let status = Process()
        status.executableURL = URL(fileURLWithPath: "/bin/bash")
        let filter = only.isEmpty ? ["--except", serviceParts.joined(separator: ",")] : ["--only", only.joined(separator: ",")]
        status.arguments = [Cartograph.packageRoot.appendingPathComponent("Scripts/lab.sh").path, "status"] + filter
        let err = Pipe()
        status.standardError = err
        status.standardOutput = Pipe()
        try status.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        status.waitUntilExit()
        try #require(status.terminationStatus == 0,
                     "the lab is not running (\(message.trimmingCharacters(in: .whitespacesAndNewlines))): start it with `bash Scripts/lab.sh up`, or run `bash Scripts/test.sh`")
    }

    /// Waits until the lab router's ICMP rate limit towards the scanner has refilled: it sends its
    /// errors (time exceeded) at one a second after a burst of about six, per destination, so a
    /// test that needs every hop of several traces answered at once starts from a full burst
    /// instead of what the tests before it left. Tests of the rate limit itself do not call this.
    static func letRouterRest() {
        Thread.sleep(forTimeInterval: 6)
    }

    /// Runs `cartograph ARGS` inside the scanner namespace.
    static func cartograph(_ arguments: [String], openFiles: Int? = nil, environment: [String: String] = [:]) throws -> CommandResult {
        try Cartograph.run(arguments, namespace: scanner, environment: environment, openFiles: openFiles)
    }

    /// Runs `cartograph ARGS --format json` in the scanner namespace and decodes the report.
    static func map(_ arguments: [String]) throws -> (CommandResult, [[String: Any]]) {
        let result = try cartograph(arguments + ["--format", "json"])
        guard result.status == 0 || result.status == 1,
              let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let maps = object["maps"] as? [[String: Any]] else {
            Issue.record("cartograph \(arguments) exited \(result.status): \(result.stderr)")
            return (result, [])
        }
        return (result, maps)
    }

    /// The counter of IP packets a lab namespace has received (`Ip: InReceives`).
    static func packetsReceived(by namespace: String) throws -> Int { try ipCounter("InReceives", of: namespace) }

    /// One counter of a lab namespace's `Ip:` lines in /proc/net/snmp.
    static func ipCounter(_ name: String, of namespace: String) throws -> Int {
        try counter(name, group: "Ip:", file: "/proc/net/snmp", of: namespace)
    }

    /// The TCP counters that tell lost packets from slow services, in a lab namespace: SYNs
    /// sent again, segments sent again, and connections its listeners dropped.
    static func tcpLosses(of namespace: String) -> String {
        let snmp = ["RetransSegs"].map { ($0, try? counter($0, group: "Tcp:", file: "/proc/net/snmp", of: namespace)) }
        let ext = ["TCPSynRetrans", "ListenOverflows", "ListenDrops"].map {
            ($0, try? counter($0, group: "TcpExt:", file: "/proc/net/netstat", of: namespace))
        }
        return "\(namespace): " + (snmp + ext).map { "\($0.0) \($0.1.map(String.init) ?? "?")" }.joined(separator: ", ")
    }

    /// One counter of a lab namespace's /proc/net/snmp or /proc/net/netstat (a line of names
    /// starting `group`, then a line of values).
    static func counter(_ name: String, group: String, file: String, of namespace: String) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, "cat", file]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = text.split(separator: "\n").filter { $0.hasPrefix(group + " ") }
        guard lines.count == 2 else { throw POSIXError(.EIO) }
        let names = lines[0].split(separator: " "), values = lines[1].split(separator: " ")
        guard let index = names.firstIndex(where: { $0 == name }), let value = Int(values[index]) else { throw POSIXError(.EIO) }
        return value
    }
}

/// A host of a JSON report, by address.
struct ReportHost {
    let raw: [String: Any]
    var services: [[String: Any]] { raw["services"] as? [[String: Any]] ?? [] }
    var openPorts: [Int] { services.compactMap { $0["port"] as? Int }.sorted() }
    var discovery: [String] { raw["discovery"] as? [String] ?? [] }
    func service(_ port: Int) -> [String: Any]? { services.first { $0["port"] as? Int == port } }

    /// The hosts of the maps, by address; routers that only a traceroute found on the way
    /// (not among the targets) are left out unless `routers` asks for them.
    static func all(_ maps: [[String: Any]], routers: Bool = false) -> [String: ReportHost] {
        var hosts: [String: ReportHost] = [:]
        for map in maps {
            for host in map["hosts"] as? [[String: Any]] ?? [] {
                let onTheWay = host["discovery"] as? [String] == ["traceroute"]
                if let address = host["address"] as? String, routers || !onTheWay { hosts[address] = ReportHost(raw: host) }
            }
        }
        return hosts
    }
}

/// tcpdump running in a lab namespace, writing what it sees to a file, to prove what a run did
/// not send.
final class Capture {
    let process = Process()
    let file: String

    /// Starts capturing on `interface` of `namespace` with a BPF `filter`; returns once tcpdump
    /// has opened its capture, which it shows by creating the output file (bounded: 10 s).
    init(namespace: String, interface: String = "any", filter: String) throws {
        file = FileManager.default.temporaryDirectory.appendingPathComponent("capture-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).pcap").path
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, "tcpdump", "--immediate-mode", "-i", interface, "-n", "-U", "-w", file, filter]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: file) && process.isRunning {
            usleep(100_000)
        }
        try #require(FileManager.default.fileExists(atPath: file), "tcpdump did not start in \(namespace)")
        usleep(200_000)
    }

    /// Stops the capture and returns how many packets it holds.
    func stop() throws -> Int {
        usleep(500_000)   // let the last packets of the run reach the capture
        // SIGKILL: the test runner's threads block signals, and a child inherits that mask, so
        // tcpdump would never see SIGINT or SIGTERM. With -U every packet is already written.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/usr/bin/tcpdump")
        reader.arguments = ["-r", file, "-n"]
        let out = Pipe()
        reader.standardOutput = out
        reader.standardError = Pipe()
        try reader.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        reader.waitUntilExit()
        try? FileManager.default.removeItem(atPath: file)
        return text.split(separator: "\n").count
    }
}
