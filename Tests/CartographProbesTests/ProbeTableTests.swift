import CartographTestSupport
import Foundation
import Testing

/// `Probes/README.md` lists every shipped probe with how it is tested; the table is generated
/// by `Scripts/probe-table.py`, and this test fails when a probe, a lab expectation or a replay
/// changed without the table.
@Suite("The probe table in Probes/README.md")
struct ProbeTableTests {
    @Test("is what Scripts/probe-table.py generates from the probes and their tests")
    func tableIsCurrent() throws {
        try Tools.requirePython()
        let script = Cartograph.packageRoot.appendingPathComponent("Scripts/probe-table.py").path
        let status = try Tools.run(Tools.python, [script, "--check"])
        #expect(status == 0, "Probes/README.md's probe table is out of date: run python3 Scripts/probe-table.py")
    }

    @Test("names every probe file")
    func everyProbeListed() throws {
        let root = Cartograph.packageRoot
        let readme = try String(contentsOf: root.appendingPathComponent("Probes/README.md"), encoding: .utf8)
        let files = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Probes").path)
            .filter { $0.hasSuffix(".lua") }
        #expect(!files.isEmpty)
        let begin = try #require(readme.range(of: "<!-- probe-table:begin -->")), end = try #require(readme.range(of: "<!-- probe-table:end -->"))
        let rows = readme[begin.upperBound..<end.lowerBound].split(separator: "\n").filter { $0.hasPrefix("| `") }
        #expect(rows.count == files.count, "\(rows.count) rows for \(files.count) probe files")
    }
}
