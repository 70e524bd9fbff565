import CartographCore
@testable import CartographStore
import CartographTestSupport
import Foundation
import Testing

/// The queue, leases and schedules of `Fleet` on the real PostgreSQL server of Scripts/pg.sh,
/// raced from many connections at once, as many agents' processes would.
@Suite("The fleet's queue on PostgreSQL")
struct FleetTests {
    static func fleet() throws -> (url: String, fleet: Fleet) {
        let url = try Backend.postgres.fresh()
        return (url, try Fleet(url: url))
    }

    static func job(_ target: String, network: String = "lab", scanner: String? = nil, strict: Bool = false,
                    all: Bool = false) -> NewJob {
        NewJob(network: network, scanner: scanner, strict: strict, target: target, request: "{\"target\":\"\(target)\"}", allScanners: all)
    }

    /// Runs `body(index)` on `count` threads at once (they start together) and returns what each returned.
    static func together<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = Results<T>(count)
        let start = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            Thread.detachNewThread {
                start.wait()
                results.set(index, Result { try body(index) })
                group.leave()
            }
        }
        for _ in 0..<count { start.signal() }
        group.wait()
        return try results.all()
    }

    final class Results<T: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var slots: [Result<T, any Error>?]
        init(_ count: Int) { slots = Array(repeating: nil, count: count) }
        func set(_ index: Int, _ result: Result<T, any Error>) { lock.withLock { slots[index] = result } }
        func all() throws -> [T] { try lock.withLock { try slots.map { try #require($0).get() } } }
    }

    @Test("eight agents claiming 400 jobs at once: every job is taken exactly once")
    func claimRace() throws {
        let (url, fleet) = try Self.fleet()
        let ids = try fleet.enqueue((0..<400).map { Self.job("none:[198.18.1.\($0 % 250)]") }, createdBy: "test")
        #expect(ids.count == 400)
        // No #expect on the agents' threads: they check and return what went wrong.
        let runs = try Self.together(8) { index -> (mine: [Int64], wrong: [String]) in
            let agent = try Fleet(url: url)
            defer { agent.close() }
            var mine: [Int64] = [], wrong: [String] = []
            while let job = try agent.claim(network: "lab", scanner: "agent\(index)", lease: 60, staleAfter: 30) {
                if job.claimedBy != "agent\(index)" || job.status != .running || job.attempts != 1 { wrong.append("\(job)") }
                mine.append(job.id)
                if try agent.finish(job: job.id, scanner: "agent\(index)", status: .done) == nil { wrong.append("finish \(job.id) refused") }
            }
            return (mine, wrong)
        }
        #expect(runs.flatMap(\.wrong).isEmpty, "\(runs.flatMap(\.wrong))")
        let claimed = runs.map(\.mine)
        let all = claimed.flatMap { $0 }
        #expect(all.count == 400, "\(all.count) claims for 400 jobs")
        #expect(Set(all) == Set(ids), "a job was claimed twice or never")
        #expect(claimed.filter { !$0.isEmpty }.count > 1, "one agent took every job: the claims did not race")
        #expect(try fleet.jobs().isEmpty, "jobs are left queued or running")
        #expect(try fleet.jobs(all: true).allSatisfy { $0.status == .done && $0.attempts == 1 })
    }

    @Test("a lease that runs out is taken over, the old holder's renewal is refused, and after three takeovers the job fails")
    func leaseTakeover() throws {
        let (_, fleet) = try Self.fleet()
        let id = try #require(try fleet.enqueue([Self.job("none:[198.18.1.2]")], createdBy: "test").first)
        let first = try #require(try fleet.claim(network: "lab", scanner: "a", lease: 0.3, staleAfter: 30))
        #expect(first.id == id)
        #expect(try fleet.claim(network: "lab", scanner: "b", lease: 0.3, staleAfter: 30) == nil, "a held lease was taken")
        #expect(try fleet.renew(job: id, scanner: "a", lease: 0.3))
        Thread.sleep(forTimeInterval: 0.5)
        let second = try #require(try fleet.claim(network: "lab", scanner: "b", lease: 0.3, staleAfter: 30), "an expired lease was not taken over")
        #expect(second.id == id && second.attempts == 2 && second.claimedBy == "b")
        #expect(try !fleet.renew(job: id, scanner: "a", lease: 60), "the scanner that lost the job renewed it")
        #expect(try fleet.finish(job: id, scanner: "a", status: .done) == nil, "the scanner that lost the job ended it")
        Thread.sleep(forTimeInterval: 0.5)
        let third = try #require(try fleet.claim(network: "lab", scanner: "c", lease: 0.3, staleAfter: 30))
        #expect(third.attempts == 3)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try fleet.claim(network: "lab", scanner: "d", lease: 0.3, staleAfter: 30) == nil, "a job that outlived three scanners went round again")
        let ended = try #require(try fleet.job(id: id))
        #expect(ended.status == .failed)
        #expect(ended.error?.contains("stopped heartbeating 3 times") == true, "\(ended.error ?? "no error")")
    }

    @Test("a job for one scanner waits for it while it heartbeats; a strict one waits for ever, another is taken once it is gone")
    func pinned() throws {
        let (_, fleet) = try Self.fleet()
        try fleet.register(network: "lab", name: "a", host: "h", pid: 1, version: "t", staleAfter: 30)
        let loose = try #require(try fleet.enqueue([Self.job("none:[198.18.1.2]", scanner: "a")], createdBy: "test").first)
        let strict = try #require(try fleet.enqueue([Self.job("none:[198.18.1.3]", scanner: "a", strict: true)], createdBy: "test").first)
        #expect(try fleet.claim(network: "lab", scanner: "b", lease: 60, staleAfter: 30) == nil, "b took a's job while a heartbeats")
        #expect(try fleet.claim(network: "other", scanner: "a", lease: 60, staleAfter: 30) == nil, "a job crossed networks")
        Thread.sleep(forTimeInterval: 0.6)
        // With a's heartbeat older than b's patience, the job that is not strict is b's to take.
        let taken = try #require(try fleet.claim(network: "lab", scanner: "b", lease: 60, staleAfter: 0.5))
        #expect(taken.id == loose)
        #expect(try fleet.claim(network: "lab", scanner: "b", lease: 60, staleAfter: 0.5) == nil, "b took a strict job of a")
        #expect(try fleet.claim(network: "lab", scanner: "a", lease: 60, staleAfter: 0.5)?.id == strict)
    }

    @Test("eight agents firing a due schedule at once queue its maps once, and its next time moves past now")
    func scheduleRace() throws {
        let (url, fleet) = try Self.fleet()
        let now = try fleet.now()
        try fleet.addSchedule(name: "nightly", everySeconds: 3600, first: now.addingTimeInterval(-7200.5), network: "lab", scanner: nil,
                              jobs: [Self.job("none:[198.18.1.2]"), Self.job("lab.test")], createdBy: "test")
        let fired = try Self.together(8) { _ -> [Int64] in
            let agent = try Fleet(url: url)
            defer { agent.close() }
            return try agent.fireDueSchedules()
        }
        #expect(fired.flatMap { $0 }.count == 2, "\(fired)")
        #expect(fired.filter { !$0.isEmpty }.count == 1)
        let queued = try fleet.jobs()
        #expect(queued.map(\.target) == ["none:[198.18.1.2]", "lab.test"])
        #expect(queued.allSatisfy { $0.schedule == "nightly" })
        let schedule = try #require(try fleet.schedules().first)
        #expect(schedule.fired == 1, "missed firings were made up")
        #expect(schedule.nextAt > now && schedule.nextAt <= now.addingTimeInterval(3600), "\(schedule.nextAt) vs \(now)")
        #expect(try fleet.fireDueSchedules().isEmpty, "a schedule fired again before its time")
    }

    @Test("three shards of a shared map ending at once: exactly one of them is handed the merge, with every shard's map")
    func shardsEndTogether() throws {
        let (url, fleet) = try Self.fleet()
        for name in ["a", "b", "c"] {
            try fleet.register(network: "lab", name: name, host: "h", pid: 1, version: "t", staleAfter: 30)
        }
        let ids = try fleet.enqueue([Self.job("none:[198.18.1.0/24]", all: true)], createdBy: "test")
        let parent = try #require(ids.first)
        #expect(try fleet.job(id: parent)?.status == .split)
        var shards: [(scanner: String, job: Int64)] = []
        for (map, name) in ["a", "b", "c"].enumerated() {
            let job = try #require(try fleet.claim(network: "lab", scanner: name, lease: 60, staleAfter: 30), "no shard for \(name)")
            #expect(job.splitOf == parent && job.scanner == name && job.shards == 3)
            try fleet.attach(job: job.id, map: Int64(100 + map), scanner: name)
            shards.append((name, job.id))
        }
        let work = shards
        let endings = try Self.together(3) { index -> Fleet.Ending? in
            let agent = try Fleet(url: url)
            defer { agent.close() }
            return try agent.finish(job: work[index].job, scanner: work[index].scanner, status: index == 1 ? .failed : .done, error: nil)
        }
        let merges = endings.compactMap { $0?.shardMaps }
        #expect(endings.allSatisfy { $0?.splitOf == parent })
        #expect(merges == [[100, 101, 102]], "\(endings)")
        #expect(endings.compactMap { $0?.shardMaps == nil ? nil : $0?.shardsFailed } == [1])
        let merging = try #require(try fleet.job(id: parent))
        #expect(merging.status == .merging)
        try fleet.merged(job: parent, map: 200, failed: true, error: "1 shard failed")
        #expect(try fleet.job(id: parent)?.status == .failed)
        #expect(try fleet.jobs().isEmpty)
    }

    @Test("a job given back is queued again without counting as a takeover; a cancelled one is never claimed")
    func releaseAndCancel() throws {
        let (_, fleet) = try Self.fleet()
        let ids = try fleet.enqueue([Self.job("none:[198.18.1.2]"), Self.job("none:[198.18.1.3]")], createdBy: "test")
        let job = try #require(try fleet.claim(network: "lab", scanner: "a", lease: 60, staleAfter: 30))
        try fleet.release(job: job.id, scanner: "a")
        #expect(try fleet.cancel(job: ids[1]))
        #expect(try !fleet.cancel(job: ids[1]), "a cancelled job was cancelled again")
        let again = try #require(try fleet.claim(network: "lab", scanner: "b", lease: 60, staleAfter: 30))
        #expect(again.id == job.id && again.attempts == 1)
        #expect(try fleet.claim(network: "lab", scanner: "b", lease: 60, staleAfter: 30) == nil, "a cancelled job was claimed")
    }
}
