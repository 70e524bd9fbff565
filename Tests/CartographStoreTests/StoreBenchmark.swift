import CartographCore
@testable import CartographStore
import CartographTestSupport
import Foundation
import Testing

/// How fast each store takes a /16 map's results: 65,536 hosts with two services each, written
/// as a map's checkpoints write them (16 growing checkpoints, each the map so far), then the
/// whole map once more as complete. Run by `bash bench/fleet.sh`, or alone with
/// `CARTOGRAPH_BENCH=1 swift test --filter StoreBenchmark`; it prints lines starting
/// `store-bench:`.
@Suite("Store write rate", .enabled(if: ProcessInfo.processInfo.environment["CARTOGRAPH_BENCH"] != nil))
struct StoreBenchmark {
    static let hosts = 65_536, checkpoints = 16

    static func slash16() -> [HostResult] {
        (0..<hosts).map { index in
            MapStoreTests.host("198.19.\(index >> 8).\(index & 0xff)", ports: [(22, "ssh"), (80, "http")])
        }
    }

    @Test("a /16 map's checkpoints and final save, SQLite and PostgreSQL")
    func slash16Rate() throws {
        let all = Self.slash16()
        var seconds: [Backend: (checkpoints: Double, final: Double)] = [:]
        for backend in Backend.allCases {
            let store = try MapStores.open(try backend.fresh())
            var map = MapStoreTests.map("none:[198.19.0.0/16]")
            let id = try store.begin(map, settings: Profile(), network: nil)
            let start = Date()
            for step in 1...Self.checkpoints {
                map.hosts = Array(all.prefix(Self.hosts * step / Self.checkpoints))
                try store.save(map, id: id)
            }
            let middle = Date()
            map.status = .complete
            try store.save(map, id: id)
            let end = Date()
            seconds[backend] = (middle.timeIntervalSince(start), end.timeIntervalSince(middle))
            let loaded = try #require(try store.map(id: id))
            #expect(loaded.hosts.count == Self.hosts && loaded.hosts.allSatisfy { $0.services.count == 2 })
            let written = Self.hosts * (Self.checkpoints + 1) / 2 // hosts written by the checkpoints, in all
            let time = seconds[backend]!
            print("store-bench: \(backend.rawValue): \(Self.checkpoints) checkpoints \(String(format: "%.1f", time.checkpoints)) s "
                  + "(\(Int(Double(written) / time.checkpoints)) hosts/s), final save of \(Self.hosts) hosts "
                  + "\(String(format: "%.1f", time.final)) s (\(Int(Double(Self.hosts) / time.final)) hosts/s)")
        }
        if let sqlite = seconds[.sqlite], let postgres = seconds[.postgres] {
            print("store-bench: PostgreSQL/SQLite time: checkpoints \(String(format: "%.2f", postgres.checkpoints / sqlite.checkpoints)), "
                  + "final save \(String(format: "%.2f", postgres.final / sqlite.final))")
        }
    }
}
