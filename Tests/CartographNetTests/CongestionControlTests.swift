@testable import CartographNet
import Testing

/// The rate controller driven by hand: a fake clock and counts of probes and answers.
@Suite("Congestion control")
struct CongestionControlTests {
    let ms: UInt64 = 1_000_000

    /// Runs `windows` windows sending `perWindow` probes with `share` of them answered.
    func drive(_ control: inout CongestionControl, from start: UInt64, windows: Int, perWindow: Int, share: Double) -> UInt64 {
        var now = start
        for _ in 0..<windows {
            control.didSend(perWindow)
            control.didReceive(Int(Double(perWindow) * share))
            now += 100 * ms
            control.tick(now: now)
        }
        return now
    }

    @Test("a steady share of answers keeps the target rate")
    func steady() {
        var control = CongestionControl(target: 100_000, now: 0)
        _ = drive(&control, from: 0, windows: 20, perWindow: 10_000, share: 0.9)
        #expect(control.rate == 100_000)
        #expect(control.backoffs == 0)
    }

    @Test("loss halves the rate, down to the floor, and recovery brings it back")
    func lossAndRecovery() {
        var control = CongestionControl(target: 100_000, now: 0)
        var now = drive(&control, from: 0, windows: 5, perWindow: 10_000, share: 0.9)
        now = drive(&control, from: now, windows: 1, perWindow: 10_000, share: 0.3)
        #expect(control.rate == 100_000, "one late window alone is not loss")
        now = drive(&control, from: now, windows: 1, perWindow: 10_000, share: 0.3)
        #expect(control.rate == 50_000)
        now = drive(&control, from: now, windows: 10, perWindow: 5_000, share: 0.1)
        #expect(control.rate == control.floor)
        #expect(control.backoffs == 11, "every lossy window after the first counts, also at the floor")
        _ = drive(&control, from: now, windows: 20, perWindow: 1_000, share: 0.9)
        #expect(control.rate == 100_000)
    }

    @Test("a sparse sweep, where few addresses answer, is not taken for loss")
    func sparse() {
        var control = CongestionControl(target: 100_000, now: 0)
        _ = drive(&control, from: 0, windows: 30, perWindow: 10_000, share: 0.001)
        #expect(control.rate == 100_000)
    }

    @Test("windows with too few packets are not judged")
    func quiet() {
        var control = CongestionControl(target: 1_000, now: 0)
        _ = drive(&control, from: 0, windows: 3, perWindow: 100, share: 1)
        _ = drive(&control, from: 300 * ms, windows: 3, perWindow: 10, share: 0)
        #expect(control.rate == 1_000)
    }
}

/// `--rate 0`: no target, yet the same back-off.
@Suite("Congestion control without a target")
struct UnlimitedCongestionControlTests {
    let ms: UInt64 = 1_000_000

    @Test("unlimited until loss, then half the rate measured in the lossy window, then unlimited again")
    func unlimited() {
        var control = CongestionControl(target: 0, now: 0)
        #expect(control.target == nil)
        #expect(control.interval == 0, "no target: no pause between packets")
        var now = CongestionControlTests().drive(&control, from: 0, windows: 5, perWindow: 30_000, share: 0.9)
        #expect(control.rate == .infinity)
        #expect(control.peak == 300_000, "30,000 packets in a 100 ms window")
        now = CongestionControlTests().drive(&control, from: now, windows: 2, perWindow: 20_000, share: 0.2)
        #expect(control.backoffs == 1)
        #expect(control.rate == 100_000, "half of the 200,000 packets a second the lossy window sent")
        #expect(control.interval == 10_000)
        now = CongestionControlTests().drive(&control, from: now, windows: 3, perWindow: 10_000, share: 0.05)
        #expect(control.rate == 12_500)
        #expect(control.floor == 300_000.0 / 64)
        _ = CongestionControlTests().drive(&control, from: now, windows: 20, perWindow: 1_000, share: 0.9)
        #expect(control.rate == .infinity, "sixteen clean windows bring back the peak, and then no limit")
    }
}
