import CartographCore
import CartographIO
import CIOShims
import CPcap
import Glibc

/// Whether this process may send raw packets (root or CAP_NET_RAW).
public enum RawPrivileges {
    public static var available: Bool { cg_has_raw_privilege() != 0 }
}

/// A raw-packet failure, with the system's or libpcap's own text.
public struct RawError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Raw IP sockets (IPv4 and IPv6, header included) sending batches with one sendmmsg(2) call.
final class RawSender {
    /// Packets waiting for one family's socket.
    struct Queue {
        var buffer: [UInt8] = []
        var offsets: [UInt32] = []
        var lengths: [UInt32] = []
        var addresses: [UInt8] = []
        var addressLengths: [UInt32] = []
    }

    private var sockets: [IPAddress.Family: Int32] = [:]
    private var queues: [IPAddress.Family: Queue] = [.v4: Queue(), .v6: Queue()]
    private static let addressSize = MemoryLayout<sockaddr_storage>.size

    init() throws(RawError) {
        for family in [IPAddress.Family.v4, .v6] {
            let fd = socket(family == .v4 ? AF_INET : AF_INET6, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_RAW))
            if fd < 0 {
                if family == .v6 { continue }   // a host without IPv6 can still scan IPv4
                throw RawError(message: "cannot open a raw socket: \(String(cString: strerror(errno)))")
            }
            var size: Int32 = 4 << 20
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            sockets[family] = fd
        }
    }

    deinit { for fd in sockets.values { close(fd) } }

    /// Queues one packet for `destination`.
    func add(_ packet: [UInt8], to destination: IPAddress) {
        var (storage, length) = Sockets.socketAddress(destination, port: 0)
        queues[destination.family, default: Queue()].append(packet, &storage, UInt32(length), size: Self.addressSize)
    }

    /// Send errors by errno since the run began: each is a packet that never left.
    private(set) var errors: [Int32: Int] = [:]

    /// Sends everything queued. Returns how many packets left. A full send buffer (ENOBUFS,
    /// EAGAIN) is waited out briefly, then the rest are dropped like packets lost on the wire; a
    /// packet refused for its destination (EPERM from a firewall, no route) is skipped alone.
    /// Either way the error is counted, so the run knows its coverage is in doubt.
    @discardableResult
    func flush() -> Int {
        var total = 0
        for family in [IPAddress.Family.v4, .v6] {
            guard var queue = queues[family], !queue.lengths.isEmpty else { continue }
            if let fd = sockets[family] { total += queue.send(fd, size: Self.addressSize) { errors[$0, default: 0] += $1 } }
            queue = Queue()
            queues[family] = queue
        }
        return total
    }
}

extension RawSender.Queue {
    mutating func append(_ packet: [UInt8], _ storage: inout sockaddr_storage, _ length: UInt32, size: Int) {
        offsets.append(UInt32(buffer.count))
        lengths.append(UInt32(packet.count))
        buffer += packet
        withUnsafeBytes(of: &storage) { addresses += $0.prefix(size) }
        addressLengths.append(length)
    }

    func send(_ fd: Int32, size: Int, failed: (Int32, Int) -> Void) -> Int {
        var sent = 0, next = 0, stalls = 0
        while next < lengths.count {
            let count = Int32(Swift.min(256, lengths.count - next))
            let result = buffer.withUnsafeBufferPointer { data in
                offsets.withUnsafeBufferPointer { offs in
                    lengths.withUnsafeBufferPointer { lens in
                        addresses.withUnsafeBufferPointer { addrs in
                            addressLengths.withUnsafeBufferPointer { alens in
                                cg_send_batch(fd, data.baseAddress, offs.baseAddress! + next, lens.baseAddress! + next,
                                              addrs.baseAddress! + next * size, UInt32(size), alens.baseAddress! + next, count)
                            }
                        }
                    }
                }
            }
            if result > 0 {
                sent += Int(result)
                next += Int(result)
                continue
            }
            // sendmmsg stops at the first packet that fails and reports its errno.
            let code = errno
            if code == EINTR { continue }
            if code == ENOBUFS || code == EAGAIN || code == EWOULDBLOCK {
                stalls += 1
                if stalls <= 3 {
                    usleep(1000)   // let the queue drain, then try the same packet again
                    continue
                }
                failed(code, lengths.count - next)
                break
            }
            failed(code, 1)
            next += 1   // this destination is refused; the others may not be
        }
        return sent
    }
}

/// libpcap on the "any" device, non-blocking, with a BPF filter for replies to our probes.
/// Owns the `pcap_t` and closes it on every path.
final class PacketCapture {
    private let handle: OpaquePointer
    let linkType: PacketDecoder.LinkType

    init(filter: String) throws(RawError) {
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let pcap = pcap_create("any", &errors) else {
            throw RawError(message: "libpcap: \(String(decoding: errors.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        handle = pcap
        pcap_set_snaplen(pcap, 256)
        pcap_set_immediate_mode(pcap, 1)
        pcap_set_buffer_size(pcap, 32 << 20)
        pcap_set_timeout(pcap, 1)
        let status = pcap_activate(pcap)
        guard status >= 0 else { throw RawError(message: "libpcap: cannot capture: \(Self.error(pcap))") }
        guard let type = PacketDecoder.LinkType(rawValue: pcap_datalink(pcap)) else {
            throw RawError(message: "libpcap: unsupported link type \(pcap_datalink(pcap))")
        }
        linkType = type
        var program = bpf_program()
        // "inbound" keeps our own probes out of the capture; fall back if the device lacks it.
        var compiled = pcap_compile(pcap, &program, "inbound and (\(filter))", 1, PCAP_NETMASK_UNKNOWN)
        if compiled != 0 { compiled = pcap_compile(pcap, &program, filter, 1, PCAP_NETMASK_UNKNOWN) }
        guard compiled == 0 else { throw RawError(message: "libpcap: bad filter \"\(filter)\": \(Self.error(pcap))") }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(pcap, &program) == 0 else { throw RawError(message: "libpcap: \(Self.error(pcap))") }
        guard pcap_setnonblock(pcap, 1, &errors) == 0 else { throw RawError(message: "libpcap: cannot go non-blocking") }
    }

    deinit { pcap_close(handle) }

    static func error(_ pcap: OpaquePointer) -> String { String(cString: pcap_geterr(pcap)) }

    /// A descriptor that becomes readable when packets wait.
    var selectableFD: Int32 { pcap_get_selectable_fd(handle) }

    /// Reads every packet waiting now (up to `limit`), decoded; undecodable frames are skipped.
    /// Throws only for a capture failure, never for a strange packet.
    func drain(limit: Int = 4096, _ body: (ReceivedPacket) -> Void) throws(RawError) {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        for _ in 0..<limit {
            let status = pcap_next_ex(handle, &header, &data)
            if status == 0 { return }                 // nothing more right now
            if status == PCAP_ERROR_BREAK { return }  // end of capture
            guard status == 1, let header, let data else {
                throw RawError(message: "libpcap: capture failed: \(Self.error(handle))")
            }
            let frame = Array(UnsafeBufferPointer(start: data, count: Int(header.pointee.caplen)))
            if let packet = PacketDecoder.decode(frame, linkType: linkType) { body(packet) }
        }
    }
}

/// The source address the kernel would use towards a destination, found by connecting a UDP
/// socket (no packet is sent), cached per /24 or /64.
final class SourceAddresses {
    private var cache: [UInt128: IPAddress] = [:]

    func source(for destination: IPAddress) throws(RawError) -> IPAddress {
        let key = destination.family == .v4 ? destination.value >> 8 | (UInt128(1) << 100) : destination.value >> 64
        if let known = cache[key] { return known }
        let fd = socket(destination.family == .v4 ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw RawError(message: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var (storage, length) = Sockets.socketAddress(destination, port: 9)
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard connected == 0 else {
            throw RawError(message: "no route to \(destination): \(String(cString: strerror(errno)))")
        }
        var local = sockaddr_storage()
        var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &localLength) }
        }
        let address: IPAddress? = withUnsafeBytes(of: &local) { raw in
            let family = raw.load(as: sa_family_t.self)
            if Int32(family) == AF_INET {
                return IPAddress(bytes: ArraySlice(raw[4..<8]))
            } else if Int32(family) == AF_INET6 {
                return IPAddress(bytes: ArraySlice(raw[8..<24]))
            }
            return nil
        }
        guard let address else { throw RawError(message: "cannot tell the source address towards \(destination)") }
        cache[key] = address
        return address
    }
}
