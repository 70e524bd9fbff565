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
