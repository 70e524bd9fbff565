import CartographTestSupport
import Foundation
import Testing

/// cg-h8 (Scripts/lab.d/80-unfriendly.sh): a host that drops ICMP echo and timestamp requests,
/// with 300 open ports and a resolver that never answers.
extension LabTests {
@Suite("The unfriendly host")
struct LabUnfriendlyTests {
    static let h8 = "198.18.8.2"

    @Test("a host that drops ICMP is found by TCP alone, and its ssh named", arguments: LabMapTests.engines)
    func dropsICMP(engine: String) throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", Self.h8, "-n", "--engine", engine, "-p", "22"])
        #expect(result.status == 0, "\(result.stderr)")
        let host = try #require(ReportHost.all(maps)[Self.h8], "the host that drops ICMP was not found")
        #expect(!host.discovery.contains("icmp-echo") && !host.discovery.contains("icmp-timestamp"), "\(host.discovery)")
        #expect(host.discovery.contains { $0.hasPrefix("tcp") }, "\(host.discovery)")
        #expect(host.service(22)?["name"] as? String == "ssh")
    }

    @Test("300 open ports on one host: every one found", arguments: LabMapTests.engines)
    func manyOpenPorts(engine: String) throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", Self.h8, "-n", "--engine", engine, "-p", "19990-20310", "--probes", "none"])
        #expect(result.status == 0, "\(result.stderr)")
        let host = try #require(ReportHost.all(maps)[Self.h8])
        #expect(host.openPorts == Array(20000...20299), "\(host.openPorts.count) open: \(host.openPorts.prefix(5))…")
    }

    @Test("a resolver that never answers: it is dropped, the map goes on and says so")
    func silentResolver() throws {
        try Lab.require()
        let (result, maps) = try Lab.map(["map", Lab.h1, "-p", "80", "--dns-servers", Self.h8])
        #expect(result.status == 0, "\(result.stderr)")
        let map = try #require(maps.first)
        let warnings = map["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.contains("\(Self.h8) never answered") }, "\(warnings)")
        #expect(ReportHost.all(maps)[Lab.h1]?.service(80)?["name"] as? String == "http")
    }
}
}
