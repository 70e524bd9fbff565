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
                                         namespace: Lab.scanner, stage: stage) { ($0["done"] as? Int ?? 0) > (stage == "sweep" ? 6000 : 0) }
        #expect(run.reachedStage, "\(run.stderr)")
        #expect(run.status == 130, "exit \(run.status): \(run.stderr)")
        let map = Self.firstMap(report)
        #expect(map?["status"] as? String == "interrupted", "report: \(String(describing: map))")
        #expect(try Self.stored(db)?["status"] as? String == "interrupted")
        // Where it stood, for `--resume`: the sweep's settled part (probes sent a cool-down of
        // 1 s ago, at 2000 a second: the sweep was stopped 3 s in), and the hosts scanned whole.
        let progress = map?["progress"] as? [String: Any]
        let sweep = progress?["sweep"] as? [String: Any]
        let settled = sweep?["settled"] as? Int ?? -1, count = sweep?["count"] as? Int ?? -1
        if stage == "sweep" {
            #expect(settled > 0 && settled < count && (sweep?["space"] as? String)?.hasPrefix("raw arp,icmp-echo,") == true,
                    "\(String(describing: progress))")
        } else {
            #expect(settled == count && count > 0, "the sweep of one host ended: \(String(describing: progress))")
        }
        let scanned = progress?["scanned"] as? [String] ?? ["none"]
        if stage == "sweep" {
            // The farm's live hosts found so far had their one port scanned: each is in the map.
            let hosts = Set((map?["hosts"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String })
            #expect(!scanned.isEmpty && scanned.allSatisfy(hosts.contains), "scanned \(scanned), hosts \(hosts.sorted())")
        } else {
            #expect(scanned == [], "the scan of every port did not end: \(String(describing: progress))")
        }
        if stage == "scan" {
            // The trace runs beside the scan, so the router on the way may be listed too.
            let hosts = (map?["hosts"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
            #expect(hosts.contains(Lab.h3), "the swept host is kept: \(hosts)")
        }
    }
}
}
