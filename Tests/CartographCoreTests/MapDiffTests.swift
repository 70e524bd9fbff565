import CartographCore
import CartographReport
import Foundation
import Testing

@Suite("Comparing maps")
struct MapDiffTests {
    static func service(_ port: UInt16, _ name: String, _ version: String? = nil, proto: TransportProtocol = .tcp) -> ServiceResult {
        var service = ServiceResult(port: port, protocol: proto, method: name)
        service.name = name
        service.version = version
        return service
    }

    static func map(_ id: Int64, _ hosts: [HostResult]) -> MapResult {
        var map = MapResult(target: "none:[198.18.0.0/16]", profile: "default", status: .complete, startedAt: Date(),
                            finishedAt: Date(), addressesScanned: "65536", excludedAddresses: "0", hosts: hosts, warnings: [])
        map.id = id
        return map
    }

    @Test("new and vanished hosts, opened and closed ports, changed identification; each line names host and port")
    func everyKind() {
        var stays = HostResult(address: "198.18.2.2", services: [Self.service(22, "ssh", "9.2p1"), Self.service(80, "http"),
                                                                  Self.service(53, "dns", proto: .udp)])
        let old = Self.map(1, [HostResult(address: "198.18.1.2", services: [Self.service(22, "ssh")]), stays])
        stays.services = [Self.service(22, "ssh", "9.3p1"), Self.service(443, "https"), Self.service(53, "dns", proto: .udp)]
        var newcomer = HostResult(address: "198.18.3.2", services: [Self.service(8080, "http")])
        newcomer.rogue = true
        newcomer.new = true
        var excluded = HostResult(address: "198.18.9.9")
        excluded.excluded = true
        let diff = MapDiff(old: old, new: Self.map(2, [stays, newcomer, excluded]))
        #expect(diff.changes.map(\.kind) == [.hostVanished, .portClosed, .serviceChanged, .portClosed, .portOpened, .hostNew, .portOpened])
        #expect(diff.renderText().contains("- 198.18.1.2 22/tcp: closed, was ssh"), "a vanished host's ports close with it")
        let text = diff.renderText()
        #expect(text.contains("- host 198.18.1.2: vanished (was 22/tcp)"), "\(text)")
        #expect(text.contains("~ 198.18.2.2 22/tcp: ssh 9.2p1 → ssh 9.3p1"), "\(text)")
        #expect(text.contains("- 198.18.2.2 80/tcp: closed, was http"), "\(text)")
        #expect(text.contains("+ 198.18.2.2 443/tcp: opened, https"), "\(text)")
        #expect(text.contains("+ host 198.18.3.2: new (8080/tcp) [rogue, first seen in this network]"), "\(text)")
        #expect(text.contains("+ 198.18.3.2 8080/tcp: opened, http [rogue]"), "\(text)")
        #expect(!text.contains("198.18.9.9"), "an excluded host was not scanned, so it is no change")
        #expect(!text.contains("53/udp"), "an unchanged UDP port is no change")
    }

    @Test("identical maps have no changes")
    func same() {
        let host = HostResult(address: "fd7c:a7:1::2", services: [Self.service(22, "ssh")])
        let diff = MapDiff(old: Self.map(1, [host]), new: Self.map(2, [host]))
        #expect(diff.changes.isEmpty)
        #expect(diff.renderText().hasSuffix("no changes\n"))
    }

    static func settings(tcp: [UInt16], profile: String = "default") -> Profile {
        var settings = Profile()
        settings.name = profile
        settings.informationGathering.tcpPorts = tcp
        return settings
    }

    @Test("a port the newer map did not scan is 'not scanned', never closed; a note says the port lists differ")
    func unscannedPorts() {
        let old = Self.map(1, [HostResult(address: "198.18.2.2", services: [Self.service(22, "ssh"), Self.service(8080, "http")])])
        let new = Self.map(2, [HostResult(address: "198.18.2.2", services: [Self.service(22, "ssh")])])
        let diff = MapDiff(old: old, new: new, oldSettings: Self.settings(tcp: [22, 8080]), newSettings: Self.settings(tcp: [22, 80]))
        #expect(diff.changes.map(\.kind) == [.portNotScanned])
        let text = diff.renderText()
        #expect(text.contains("? 198.18.2.2 8080/tcp: not scanned in the newer map, was http"), "\(text)")
        #expect(!text.contains("closed,"), "\(text)")
        #expect(text.contains("note: the maps scanned different port lists (TCP: 1 port no longer scanned, 1 newly scanned)"), "\(text)")
        // The same port, scanned by the newer map and not open there: closed.
        let scanned = MapDiff(old: old, new: new, oldSettings: Self.settings(tcp: [22, 8080]), newSettings: Self.settings(tcp: [22, 8080]))
        #expect(scanned.changes.map(\.kind) == [.portClosed])
        #expect(scanned.notes.isEmpty)
        let trend = MapCompletion.Trend(diff: diff, old: old, new: new)
        #expect(trend.closedPorts == 0 && trend.openPortsDelta == 0 && trend.notScanned == 1 && trend.differs)
        #expect(trend.phrase.contains("1 not scanned this time") && trend.phrase.contains("different ports or profiles"), "\(trend.phrase)")
    }

    @Test("a host is gone only if the newer map looked for its address and ran to the end")
    func unscannedHosts() {
        let host = HostResult(address: "198.18.2.2", services: [Self.service(22, "ssh")])
        let old = Self.map(1, [host])
        var outside = Self.map(2, [])
        outside.target = "none:[198.18.3.0/24]"
        let elsewhere = MapDiff(old: old, new: outside)
        #expect(elsewhere.changes.map(\.kind) == [.hostNotScanned, .portNotScanned])
        #expect(elsewhere.renderText().contains("? host 198.18.2.2: not scanned in the newer map"), "\(elsewhere.renderText())")
        var interrupted = Self.map(2, [])
        interrupted.status = .interrupted
        let cut = MapDiff(old: old, new: interrupted)
        #expect(cut.changes.map(\.kind) == [.hostNotScanned, .portNotScanned])
        #expect(cut.renderText().contains("note: the newer map is interrupted"), "\(cut.renderText())")
        let trend = MapCompletion.Trend(diff: cut, old: old, new: interrupted)
        #expect(trend.vanishedHosts == 0 && trend.hostsDelta == 0 && trend.notScanned == 2 && !trend.differs)
        let gone = MapDiff(old: old, new: Self.map(2, []))
        #expect(gone.changes.map(\.kind) == [.hostVanished, .portClosed], "inside the newer map's netblocks, complete: gone")
    }

    @Test("maps of different profiles get a note")
    func profilesDiffer() {
        let host = HostResult(address: "198.18.2.2", services: [Self.service(22, "ssh")])
        var old = Self.map(1, [host])
        old.profile = "quick"
        let diff = MapDiff(old: old, new: Self.map(2, [host]), oldSettings: Self.settings(tcp: [22], profile: "quick"),
                           newSettings: Self.settings(tcp: [22]))
        #expect(diff.renderText().contains("note: the maps ran different profiles (quick, then default)"), "\(diff.renderText())")
    }
}
