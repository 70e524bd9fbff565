import CartographCore
import Foundation

/// The JSON report: `MapReport` encoded with stable snake_case keys (see README, "JSON report").
public enum JSONReport {
    public static func render(_ report: MapReport) throws -> String {
        let data = try MapReport.jsonEncoder().encode(report)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
