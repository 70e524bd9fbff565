import CartographCore
import Foundation

/// The JSON report: `MapReport` encoded with stable snake_case keys (see README, "JSON report").
/// Control, C1 and bidi characters in strings are `\u` escapes, so it is safe on a terminal too.
public enum JSONReport {
    public static func render(_ report: MapReport) throws -> String {
        try MapReport.jsonText(report) + "\n"
    }
}
