import CartographTestSupport
import Foundation
import Testing

/// `--rate 0` (as fast as the path allows) in the lab, and the two ways raw packets leave: whole
/// frames through AF_PACKET to the router's MAC address (the link path), and raw IP sockets (the
/// fallback, forced with CARTOGRAPH_SEND_PATH=ip). The kernel counts what its IP output path
/// transmits (`Ip: OutTransmits`) but not frames written to a link, which tells the paths apart.
extension LabTests {
@Suite("Line rate: --rate 0 and the send paths")
struct LabLineRateTests {
    static let farm = "198.19.0.0/16"
    /// Every live address of cg-farm (Scripts/lab.d/20-farm.sh).
    static let farmHosts = Set((0..<100).map { "198.19.\($0 * 2 + 1).\(($0 * 37) % 250 + 2)" })
    /// discovery-only's IP probes per address: ICMP echo and timestamp, SYN to 80, 443 and 22
    /// (ARP does not apply behind a router).
    static let probesPerAddress = 5

    /// Packets the scanner's eth0 has sent, by either path.
    static func framesSent() throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", Lab.scanner, "cat", "/sys/class/net/eth0/statistics/tx_packets"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw POSIXError(.EIO) }
        return value
    }

    @Test("--rate 0 sweeps the farm's /16 and finds every farm host, by the link path and by the raw IP fallback",
          arguments: ["link", "ip"])
    func rateZeroSweep(path: String) throws {
        try Lab.require()
        let transmitted = try Lab.ipCounter("OutTransmits", of: Lab.scanner), frames = try Self.framesSent()
        let result = try Lab.cartograph(["map", Self.farm, "--profile", "discovery-only", "--rate", "0", "-n", "--format", "json"],
                                        environment: path == "ip" ? ["CARTOGRAPH_SEND_PATH": "ip"] : [:])
        let byIP = try Lab.ipCounter("OutTransmits", of: Lab.scanner) - transmitted, onTheWire = try Self.framesSent() - frames
        #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let hosts = ((object?["maps"] as? [[String: Any]])?.first?["hosts"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
        let missing = Self.farmHosts.subtracting(hosts)
        #expect(missing.isEmpty, "\(missing.count) farm host(s) not found at --rate 0 by the \(path) path: \(missing.sorted().prefix(5))")
        let probes = 65536 * Self.probesPerAddress
        #expect(onTheWire >= probes, "eth0 sent \(onTheWire) packets, fewer than the \(probes) probes of one pass")
        // One pass and nothing lost: no retry pass, so a silent address costs one packet per probe
        // (a retry pass would double it). Other traffic in the namespace can only add.
        #expect(onTheWire < probes * 3 / 2, "eth0 sent \(onTheWire) packets for \(probes) probes: a retry pass was sent without loss")
        if path == "ip" {
            #expect(byIP >= probes, "with CARTOGRAPH_SEND_PATH=ip the kernel's IP output sent only \(byIP) of \(probes) probes")
        } else {
            // Half the probes: far above the traceroute's few packets, far below a sweep by IP,
            // so another test's traffic in cg-scan does not decide the outcome.
            #expect(byIP < probes / 2, """
                the kernel's IP output sent \(byIP) packets: the probes did not go by the link path \
                (or another test sent a sweep's worth of IP packets from cg-scan at the same time)
                """)
        }
    }

    @Test("--rate 0 scans every port of the host with 300 open ports and finds them all")
    func rateZeroScan() throws {
        try Lab.require()
        let before = try Lab.packetsReceived(by: "cg-h8")
        let (result, maps) = try Lab.map(["map", "198.18.8.2", "-p-", "--rate", "0", "--engine", "syn", "--probes", "none", "-n"])
        let received = try Lab.packetsReceived(by: "cg-h8") - before
        #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
        let host = (maps.first?["hosts"] as? [[String: Any]])?.first { $0["address"] as? String == "198.18.8.2" }
        let services = host?["services"] as? [[String: Any]] ?? []
        let open = Set(services.compactMap { $0["port"] as? Int })
        let expected = Set([22] + Array(20000..<20300))
        #expect(open == expected, "missing \(expected.subtracting(open).sorted().prefix(5)), extra \(open.subtracting(expected).sorted().prefix(5))")
        // Every other port answered with a RST: none was left out, none counted twice.
        #expect(host?["closed_ports"] as? Int == 65534 - expected.count)
        #expect(host?["filtered_ports"] as? Int == 0)
        #expect((maps.first?["warnings"] as? [String] ?? []).isEmpty, "\(maps.first?["warnings"] ?? "")")
        // The first pass is shared between threads at --rate 0: each port got one SYN. Besides
        // them the host gets the sweep's probes, the RSTs for its SYN-ACKs and the trace's.
        #expect(received >= 65534 && received < 65534 + expected.count + 200, "cg-h8 received \(received) packets")
    }

    /// The neighbour entries of the wide segment's router that failed to resolve (an earlier
    /// sweep's), which fill its table until the kernel collects them.
    static func failedNeighbours() throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", "cgx-h5-wrtr", "ip", "neigh", "show", "nud", "failed"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: "\n").count
    }

    @Test("--rate 0 on a segment whose router's neighbour table overflows: the loss is seen, the rate backs off to slow re-sends, and every host is found")
    func rateZeroBacksOff() throws {
        try Lab.require()
        // A table still full of an earlier sweep's failed entries drops everything without a
        // word (no resolution, so no "host unreachable" either): wait until the kernel has
        // collected them, as a network left alone for a minute would be.
        var failed = try Self.failedNeighbours()
        for _ in 0..<36 where failed > 64 {
            Thread.sleep(forTimeInterval: 5)
            failed = try Self.failedNeighbours()
        }
        try #require(failed <= 64, "cgx-h5-wrtr still holds \(failed) failed neighbour entries after 3 minutes (is 70-wide.sh up?)")
        let (result, maps) = try Lab.map(["map", "198.18.64.0/20", "--profile", "discovery-only", "--rate", "0", "-n"])
        #expect(result.status == 0, "exit \(result.status): \(result.stderr)")
        let live: Set = ["198.18.64.20", "198.18.66.77", "198.18.68.140", "198.18.70.9", "198.18.73.200", "198.18.76.33", "198.18.79.250"]
        let found = Set((maps.first?["hosts"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String })
        #expect(live.isSubset(of: found), "missing \(live.subtracting(found).sorted())")
        let warnings = maps.first?["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.contains("answers were lost") && $0.contains("re-sent slowly") },
                "no warning says the loss was seen and the probes re-sent slowly: \(warnings)")
    }
}
}
