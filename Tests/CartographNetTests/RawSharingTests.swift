import CartographCore
@testable import CartographNet
import Foundation
import Glibc
import Synchronization
import Testing

/// The pieces that let a raw run's first pass go faster: the table that finds a probe by its
/// port, the counter helpers claim batches of the order from, and a capture opened ahead.
@Suite("Raw runs: probe index, shared order, capture opened ahead")
struct RawSharingTests {
    @Test("every probe is found at its place by kind and port; kinds and ports not asked for are not")
    func probeIndex() {
        let probes: [RawProbeKind] = [.icmpEcho, .tcpSYN(80), .tcpACK(80), .udp(53), .tcpSYN(65535), .tcpSYN(1), .icmpTimestamp, .arp]
        let index = ProbeIndex(probes)
        for (place, probe) in probes.enumerated() { #expect(index[probe] == place, "\(probe)") }
        #expect(index[.tcpSYN(81)] == nil)
        #expect(index[.tcpACK(443)] == nil)
        #expect(index[.udp(80)] == nil)
        #expect(ProbeIndex([.tcpSYN(22)])[.udp(22)] == nil)
        #expect(ProbeIndex([])[.icmpEcho] == nil)
        // A full-port list: each port at its own place.
        let ports = (1...65535).map { RawProbeKind.tcpSYN(UInt16($0)) }
        let full = ProbeIndex(ports)
        #expect(full[.tcpSYN(1)] == 0 && full[.tcpSYN(65535)] == 65534 && full[.tcpSYN(8080)] == 8079)
    }

    @Test("threads claiming from one share get every index of the order exactly once, and nothing past its end")
    func claims() {
        let share = SendShare(start: 100, end: 100_000 + 7)
        let seen = Mutex([UInt64: Int]())
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                var mine: [UInt64] = []
                while let range = share.claim() { mine += Array(range) }
                seen.withLock { counts in for index in mine { counts[index, default: 0] += 1 } }
                group.leave()
            }
        }
        group.wait()
        let counts = seen.withLock { $0 }
        #expect(counts.count == 100_007 - 100)
        #expect(counts.values.allSatisfy { $0 == 1 })
        #expect(counts.keys.min() == 100 && counts.keys.max() == 100_006)
        #expect(share.claim() == nil)
    }

    @Test("helpers are for runs worth sharing on a machine with cores to spare")
    func helperCount() {
        #expect(SendShare.helpers(for: 100) == 0)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        #expect(SendShare.helpers(for: 65535) == max(0, min(3, cores - 1)))
    }

    @Test("a capture's ring is sized to the answers its run expects, within 1 and 32 MiB")
    func ringSize() {
        #expect(PacketCapture.bufferSize(forAnswers: 14) == 1 << 20)
        #expect(PacketCapture.bufferSize(forAnswers: 65534) == 65534 * 256)
        #expect(PacketCapture.bufferSize(forAnswers: 1 << 40) == 32 << 20)
        #expect(PacketCapture.bufferSize(forAnswers: .max) == 32 << 20)
    }

    /// Sends one UDP datagram to 127.0.0.1:`port`.
    static func sendUDP(to port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let payload: [UInt8] = [1, 2, 3]
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Packets to `port` the capture holds within `waitMs`.
    static func captured(_ capture: PacketCapture, port: UInt16, waitMs: Int) throws -> Int {
        var count = 0
        let deadline = Date().addingTimeInterval(Double(waitMs) / 1000)
        repeat {
            try capture.drain { packet in
                if case .udp(_, let destination, _) = packet.kind, destination == port { count += 1 }
            }
            usleep(10_000)
        } while Date() < deadline
        return count
    }

    @Test("a capture opened ahead takes no packet until its run's filter is set, then takes what the filter asks for")
    func spareCapture() throws {
        try #require(RawPrivileges.available, "capturing needs root or CAP_NET_RAW (the CI runs as root)")
        let spare = SpareCapture()
        spare.prepare()
        let capture = try #require(spare.take(), "the spare capture did not open")
        #expect(spare.take() == nil)
        let port: UInt16 = 40_077
        Self.sendUDP(to: port)
        #expect(try Self.captured(capture, port: port, waitMs: 100) == 0)
        try capture.filter("udp and dst port \(port)")
        Self.sendUDP(to: port)
        #expect(try Self.captured(capture, port: port, waitMs: 500) == 1)
    }

    @Test("a capture given back to a pool drops what it held, takes nothing, and goes only to a run whose ring it fits")
    func pooledCapture() throws {
        try #require(RawPrivileges.available, "capturing needs root or CAP_NET_RAW (the CI runs as root)")
        let pool = CapturePool()   // the process's own pool is the lab tests' meanwhile
        let port: UInt16 = 40_078
        let capture = try PacketCapture(filter: "udp and dst port \(port)", bufferSize: 1 << 20)
        Self.sendUDP(to: port)   // held in the ring, never read by its run
        usleep(50_000)
        pool.give(capture)
        Self.sendUDP(to: port)   // while it is idle: not taken
        usleep(50_000)
        #expect(pool.take(bufferSize: 2 << 20) == nil, "a 1 MiB ring went to a run that needs 2 MiB")
        let again = try #require(pool.take(bufferSize: 1 << 20))
        #expect(again === capture)
        #expect(pool.take(bufferSize: 1 << 20) == nil)
        try again.filter("udp and dst port \(port)")
        Self.sendUDP(to: port)
        // Either datagram from before would count here, under the new run's filter.
        #expect(try Self.captured(again, port: port, waitMs: 500) == 1)
    }
}
