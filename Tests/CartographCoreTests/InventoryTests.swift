@testable import CartographCore
import Foundation
import Testing

@Suite("Inventory")
struct InventoryTests {
    static let yaml = """
    scope: registered
    domains:
      example.com:
        netblocks: [10.0.0.0/24, 10.0.1.0/28]
        approved: [10.0.0.5]
      lab.test: {}
    none:
      netblocks: [192.0.2.0/24]
    asset_groups:
      office:
        domains: [example.com]
        ips: [192.0.2.10-20, 10.0.0.9]
        scanner: scanner-1
    excluded:
      - 10.0.0.99
      - address: 10.0.0.128/25
        expires: 2020-01-01
        comment: printer that falls over
      - address: 192.0.2.15
        expires: 2999-01-01
    networks:
      default: {scanner: local}
      branch: {scanner: scanner-2, description: second site}
    """

    @Test("every section is read")
    func parse() throws {
        let inventory = try Inventory.parse(yaml: Self.yaml, file: "inv.yaml")
        #expect(inventory.scope == .registered)
        #expect(inventory.domains.map(\.name) == ["example.com", "lab.test"])
        #expect(inventory.domain(named: "EXAMPLE.com")?.netblocks.map(\.description) == ["10.0.0.0/24", "10.0.1.0/28"])
        #expect(inventory.domain(named: "example.com")?.approved.map(\.description) == ["10.0.0.5"])
        #expect(inventory.noneNetblocks.map(\.description) == ["192.0.2.0/24"])
        #expect(inventory.groups.first?.ips.map(\.description) == ["192.0.2.10-192.0.2.20", "10.0.0.9"])
        #expect(inventory.groups.first?.scanner == "scanner-1")
        #expect(inventory.networks.map(\.name) == ["default", "branch"])
        #expect(inventory.exclusions.count == 3)
        #expect(inventory.exclusions[1].comment == "printer that falls over")
        #expect(inventory.exclusions[1].location == "inv.yaml:16")
    }

    @Test("expired exclusions no longer apply")
    func expiry() throws {
        let inventory = try Inventory.parse(yaml: Self.yaml, file: "inv.yaml")
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let excluded = inventory.excluded(on: now)
        #expect(excluded.contains(IPAddress("10.0.0.99")!))
        #expect(excluded.contains(IPAddress("192.0.2.15")!))
        #expect(!excluded.contains(IPAddress("10.0.0.200")!), "expired in 2020")
        #expect(inventory.expired(on: now).map(\.block.description) == ["10.0.0.128/25"])
    }

    @Test("mistakes name file, line and key", arguments: [
        ("domains:\n  example.com:\n    netblock: [10.0.0.0/24]\n", "inv.yaml:3: unknown key \"domains.example.com.netblock\" (did you mean \"netblocks\"?)"),
        ("domains:\n  bad_name!:\n    netblocks: []\n", "inv.yaml:2: \"domains.bad_name!\""),
        ("none:\n  netblocks: [10.0.0.0/33]\n", "inv.yaml:2: \"none.netblocks\": prefix \"33\""),
        ("excluded:\n  - address: 10.0.0.1\n    expires: tomorrow\n", "inv.yaml:3: \"excluded.expires\": \"tomorrow\" is not a date"),
        ("excluded:\n  - expires: 2030-01-01\n", "\"excluded\": each entry needs an \"address\""),
        ("scope: everything\n", "inv.yaml:1: \"scope\" must be \"any\" or \"registered\""),
        ("asset_groups:\n  office: [1, 2]\n", "\"asset_groups.office\" must be a mapping"),
        ("colour: red\n", "inv.yaml:1: unknown key \"colour\""),
    ])
    func errors(yaml: String, expected: String) {
        do {
            _ = try Inventory.parse(yaml: yaml, file: "inv.yaml")
            Issue.record("should fail: \(expected)")
        } catch {
            #expect(error.description.contains(expected), "message was: \(error.description)")
        }
    }

    @Test("asset groups become maps; registered domains bring their netblocks")
    func groups() throws {
        var inventory = try Inventory.parse(yaml: Self.yaml, file: "inv.yaml")
        inventory.scope = .any
        let targets = try TargetParser.parseList("@office example.com 10.1.1.1")
        let plan = try Planner.plan(targets: targets, excluded: AddressSet(), inventory: inventory)
        #expect(plan.map(\.target) == ["example.com:[10.0.0.0/24, 10.0.1.0/28]", "none:[10.1.1.1]",
                                       "none:[192.0.2.10-192.0.2.20, 10.0.0.9]"])
        #expect(plan.last?.group == "office")
        let domainsOnly = try Planner.plan(targets: try TargetParser.parseList("@office"), excluded: AddressSet(),
                                           inventory: inventory, groupTargets: .domains)
        #expect(domainsOnly.map(\.target) == ["example.com:[10.0.0.0/24, 10.0.1.0/28]"])
        let ipsOnly = try Planner.plan(targets: try TargetParser.parseList("@office"), excluded: AddressSet(),
                                       inventory: inventory, groupTargets: .ips)
        #expect(ipsOnly.map(\.group) == ["office"])
    }

    @Test("scope registered refuses targets outside the registered domains and netblocks, naming them")
    func scope() throws {
        let inventory = try Inventory.parse(yaml: Self.yaml, file: "inv.yaml")
        let inside = try TargetParser.parseList("www.example.com 10.0.0.0/25 192.0.2.7 @office")
        #expect(throws: Never.self) { try Planner.plan(targets: inside, excluded: AddressSet(), inventory: inventory) }
        let outside = try TargetParser.parseList("example.org 10.0.0.0/16 192.0.2.7")
        do {
            _ = try Planner.plan(targets: outside, excluded: AddressSet(), inventory: inventory)
            Issue.record("should refuse")
        } catch {
            #expect(error.message.hasSuffix("(scope: registered): example.org, 10.0.0.0/16"), "\(error.message)")
        }
        do {
            _ = try Planner.plan(targets: [.assetGroup("lab")], excluded: AddressSet(), inventory: inventory)
            Issue.record("should refuse")
        } catch {
            #expect(error.message == "asset group \"@lab\" is not in the inventory inv.yaml (groups: @office)")
        }
    }
}
