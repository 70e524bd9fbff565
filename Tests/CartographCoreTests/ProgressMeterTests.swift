import CartographCore
import Synchronization
import Testing

@Suite("The progress meter")
struct ProgressMeterTests {
    /// A clock the test moves by hand.
    final class Clock: Sendable {
        let now = Atomic<UInt64>(1_000_000_000)
        func advance(seconds: Double) { now.add(UInt64(seconds * 1e9), ordering: .relaxed) }
    }

    @Test("work totals saturate instead of overflowing: an IPv6 range can hold 2^128 addresses")
    func saturating() {
        #expect(ProgressMeter.units(UInt128.max, times: 12) == Int.max)
        #expect(ProgressMeter.units(1 << 64, times: 1) == Int.max)
        #expect(ProgressMeter.units(65536, times: 5) == 327_680)
    }

    @Test("rate and ETA follow the work done per second of the stage; a new stage starts from zero")
    func rateAndETA() {
        let clock = Clock()
        let meter = ProgressMeter(clock: { clock.now.load(ordering: .relaxed) })
        meter.startMap("none:[10.0.0.0/24]")
        meter.begin(.sweep, total: 0)
        meter.addWork(1000)
        #expect(meter.snapshot().etaSeconds == nil, "no rate yet")
        clock.advance(seconds: 2)
        meter.advance(250)
        meter.found(hosts: 3)
        let snapshot = meter.snapshot()
        #expect(snapshot.done == 250 && snapshot.total == 1000)
        #expect(snapshot.ratePerSecond == 125)
        #expect(snapshot.etaSeconds == 6)
        #expect(snapshot.hostsFound == 3 && snapshot.stage == .sweep && snapshot.map == "none:[10.0.0.0/24]")
        meter.advance(5000)
        #expect(meter.snapshot().done == 1000, "done never passes the total")
        #expect(meter.snapshot().etaSeconds == 0)

        meter.end(.sweep)
        meter.begin(.scan, total: 10)
        let scan = meter.snapshot()
        #expect(scan.stage == .scan && scan.done == 0 && scan.total == 10 && scan.hostsFound == 3)
    }

    @Test("overlapping stages keep their own counts; the snapshot shows the oldest one running and lists them all")
    func overlapping() {
        let clock = Clock()
        let meter = ProgressMeter(clock: { clock.now.load(ordering: .relaxed) })
        meter.startMap("none:[10.0.0.0/24]")
        meter.begin(.sweep, total: 0)
        meter.begin(.scan, total: 0)
        let sweep = meter.meter(for: .sweep), scan = meter.meter(for: .scan)
        sweep.addWork(256)
        scan.addWork(1000)
        sweep.advance(100)
        scan.advance(10)
        var snapshot = meter.snapshot()
        #expect(snapshot.stage == .sweep && snapshot.done == 100 && snapshot.total == 256)
        #expect(snapshot.running == [.sweep, .scan])
        meter.end(.sweep)
        snapshot = meter.snapshot()
        #expect(snapshot.stage == .scan && snapshot.done == 10 && snapshot.total == 1000, "the scan kept its own counts")
        #expect(snapshot.running == nil, "one stage running is not listed")
    }
}

@Suite("Progress phases and stages alongside")
struct ProgressPhaseTests {
    @Test("a stage in its cool-down shows that phase and no ETA; other running stages come with their counts")
    func phases() {
        let now = Mutex<UInt64>(0)
        let meter = ProgressMeter(clock: { now.withLock { $0 } })
        meter.begin(.sweep, total: 0)
        meter.begin(.identification, total: 0)
        let sweep = meter.meter(for: .sweep), identify = meter.meter(for: .identification)
        sweep.addWork(10)
        sweep.advance(10)
        identify.addWork(4)
        identify.advance()
        now.withLock { $0 = 1_000_000_000 }
        #expect(meter.snapshot().etaSeconds == 0)
        sweep.phase("cool-down: up to 1.0 s for late replies")
        let cooling = meter.snapshot()
        #expect(cooling.stage == .sweep && cooling.phase == "cool-down: up to 1.0 s for late replies")
        #expect(cooling.etaSeconds == nil)
        #expect(cooling.alongside == [ProgressSnapshot.StageCount(stage: .identification, done: 1, total: 4, phase: nil)])
        sweep.phase(nil)
        #expect(meter.snapshot().phase == nil)
        meter.end(.sweep)
        let identifying = meter.snapshot()
        #expect(identifying.stage == .identification && identifying.done == 1 && identifying.alongside == nil)
        #expect(ProgressMeter.Stage.identification.unit == "ports" && ProgressMeter.Stage.sweep.unit == "probes")
    }

    @Test("the line: spaced label, count with its unit, the phase in place of the ETA, busy stages alongside")
    func line() {
        var snapshot = ProgressSnapshot(map: "m", stage: .identification, done: 0, total: 16, ratePerSecond: 0, hostsFound: 3,
                                        openPorts: 16, elapsedSeconds: 1, etaSeconds: nil, running: nil)
        #expect(snapshot.line == "identification  0% 0/16 ports  0/s  hosts 3  open 16")
        snapshot.stage = .sweep
        snapshot.done = 512
        snapshot.total = 512
        snapshot.etaSeconds = 0
        #expect(snapshot.line == "sweep  100% 512/512 probes  0/s  hosts 3  open 16  waiting for the last answers")
        snapshot.phase = "cool-down: up to 1.0 s for late replies"
        snapshot.etaSeconds = nil
        snapshot.alongside = [.init(stage: .identification, done: 2, total: 5, phase: nil),
                              .init(stage: .trace, done: 3, total: 3, phase: nil)]
        #expect(snapshot.line == "sweep  100% 512/512 probes  hosts 3  open 16  cool-down: up to 1.0 s for late replies  | identification 40% 2/5 ports")
        snapshot.phase = nil
        snapshot.done = 256
        snapshot.etaSeconds = 2.5
        snapshot.ratePerSecond = 100
        snapshot.alongside = nil
        #expect(snapshot.line == "sweep  50% 256/512 probes  100/s  hosts 3  open 16  ETA 2.5 s")
    }
}
