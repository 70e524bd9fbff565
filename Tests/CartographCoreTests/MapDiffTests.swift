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
}
