import CartographTestSupport
import Foundation
import Testing

/// Ctrl-C with the raw engine in the lab, and honest coverage on a segment whose router loses
/// hosts to neighbour-table overflow (Scripts/lab.d/70-wide.sh).
extension LabTests {
@Suite("Ctrl-C and coverage with raw packets")
struct LabInterruptTests {
    static func firstMap(_ path: String) -> [String: Any]? {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        return (object?["maps"] as? [[String: Any]])?.first
    }

    static func stored(_ db: String) throws -> [String: Any]? {
        let list = try Lab.cartograph(["maps", "list", "--db", db, "--format", "json"])
        return (try? JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])?.first
    }

    @Test("SIGINT during a raw sweep of a silent /16 and during a raw scan of every port", arguments: ["sweep", "scan"])
    func interrupted(stage: String) throws {
        try Lab.require()
        let db = Cartograph.freshStore("raw\(stage)")
        let report = Cartograph.scratch.appendingPathComponent("raw-\(stage)-\(UUID().uuidString.prefix(6)).json").path
        // The farm's /16 drops what it does not own without a word; cg-h3 refuses every port.
        let arguments = stage == "sweep"
            ? ["map", "198.19.0.0/16", "-p", "22", "--rate", "2000"]
            : ["map", Lab.h3, "-p", "1-65535", "--rate", "2000"]
        let run = try InterruptedRun.run(arguments + ["-n", "--engine", "syn", "--probes", "none", "--db", db,
                                                      "--format", "json", "-o", report],
                                         namespace: Lab.scanner, stage: stage) { ($0["done"] as? Int ?? 0) > 0 }
        #expect(run.reachedStage, "\(run.stderr)")
        #expect(run.status == 130, "exit \(run.status): \(run.stderr)")
        let map = Self.firstMap(report)
        #expect(map?["status"] as? String == "interrupted", "report: \(String(describing: map))")
        #expect(try Self.stored(db)?["status"] as? String == "interrupted")
        if stage == "scan" {
            #expect((map?["hosts"] as? [[String: Any]])?.first?["address"] as? String == Lab.h3, "the swept host is kept")
        }
    }

    static let wideLive = ["198.18.64.20", "198.18.66.77", "198.18.68.140", "198.18.70.9", "198.18.73.200",
                           "198.18.76.33", "198.18.79.250"]

    @Test("a /20 whose router's neighbour table overflows: every live host is found, or the map says coverage was not confirmed")
    func wideSegment() throws {
        try Lab.require()
        let db = Cartograph.freshStore()
        let (result, maps) = try Lab.map(["map", "198.18.64.0/20", "-n", "--engine", "syn", "-p", "22", "--probes", "none",
                                          "--db", db])
        #expect(result.status == 0, "\(result.stderr)")
        let map = try #require(maps.first)
        let found = Set((map["hosts"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String })
        let missing = Self.wideLive.filter { !found.contains($0) }
        let warnings = map["warnings"] as? [String] ?? []
        let unconfirmed = warnings.contains { $0.hasPrefix("coverage not confirmed") }
        #expect(missing.isEmpty || unconfirmed, "missing \(missing) without a warning: \(warnings)")
        #expect(!unconfirmed || result.stderr.contains("coverage not confirmed"), "the summary says so too: \(result.stderr)")
    }
}
}
