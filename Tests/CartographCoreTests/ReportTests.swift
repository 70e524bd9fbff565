import CartographCore
@testable import CartographReport
import Foundation
import Testing

@Suite("Reports")
struct ReportTests {
    static let sample: MapReport = {
        var ssh = ServiceResult(port: 22, protocol: .tcp, method: "ssh")
        ssh.name = "ssh"
        ssh.product = "OpenSSH"
        ssh.version = "9.2p1"
        ssh.certain = true
        let unknown = ServiceResult(port: 9999, protocol: .tcp, method: "tcp-connect")
        let host = HostResult(address: "10.0.0.1", hostnames: [Hostname(name: "a.example", source: "dns-ptr")],
                              discovery: ["tcp-connect:80"], services: [ssh, unknown], closedPorts: 3)
        let map = MapResult(target: "none:[10.0.0.1-10.0.0.3]", profile: "default", status: .complete,
                            startedAt: Date(timeIntervalSince1970: 1_800_000_000),
                            finishedAt: Date(timeIntervalSince1970: 1_800_000_004),
                            addressesScanned: "3", excludedAddresses: "0", hosts: [host], warnings: [])
        return MapReport(maps: [map])
    }()

    @Test("JSON has the documented shape and stable key names")
    func json() throws {
        let text = try JSONReport.render(Self.sample)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let map = (object["maps"] as! [[String: Any]])[0]
        #expect(map["target"] as? String == "none:[10.0.0.1-10.0.0.3]")
        #expect(map["profile"] as? String == "default")
        #expect(map["started_at"] as? String == "2027-01-15T08:00:00Z")
        #expect(map["finished_at"] as? String == "2027-01-15T08:00:04Z")
        let host = (map["hosts"] as! [[String: Any]])[0]
        #expect(host["address"] as? String == "10.0.0.1")
        #expect(host["discovery"] as? [String] == ["tcp-connect:80"])
        let names = host["hostnames"] as! [[String: String]]
        #expect(names == [["name": "a.example", "source": "dns-ptr"]])
        let services = host["services"] as! [[String: Any]]
        #expect(services[0]["port"] as? Int == 22)
        #expect(services[0]["protocol"] as? String == "tcp")
        #expect(services[0]["state"] as? String == "open")
        #expect(services[0]["name"] as? String == "ssh")
        #expect(services[0]["product"] as? String == "OpenSSH")
        #expect(services[0]["version"] as? String == "9.2p1")
        #expect(services[0]["method"] as? String == "ssh")
        #expect(services[1]["method"] as? String == "tcp-connect")
        #expect(services[1]["name"] == nil)
        let decoded = try MapReport.jsonDecoder().decode(MapReport.self, from: Data(text.utf8))
        #expect(decoded == Self.sample)
    }

    @Test("discovery methods fold their ports in the text report")
    func methods() {
        #expect(TextReport.compactMethods(["arp", "icmp-echo", "tcp-syn:22", "tcp-syn:80", "udp:53"])
                == "arp, icmp-echo, tcp-syn:22,80, udp:53")
    }

    @Test("the text table shows each open port with its method")
    func text() {
        let text = TextReport.render(Self.sample)
        #expect(text.contains("Map none:[10.0.0.1-10.0.0.3]"))
        #expect(text.contains("10.0.0.1 (a.example)  found by tcp-connect:80"))
        let line = text.split(separator: "\n").first { $0.contains("22/tcp") }.map(String.init) ?? ""
        #expect(line.contains("ssh") && line.contains("OpenSSH 9.2p1") && line.hasSuffix("ssh"))
        #expect(text.contains("9999/tcp") && text.contains("tcp-connect"))
        #expect(text.contains("not shown: 3 closed ports"))
    }
}
