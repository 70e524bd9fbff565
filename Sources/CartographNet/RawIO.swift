import CartographCore
import CartographIO
import CIOShims
import CPcap
import Foundation
import Glibc
import Synchronization

/// Whether this process may send raw packets (root or CAP_NET_RAW).
public enum RawPrivileges {
    public static var available: Bool { cg_has_raw_privilege() != 0 }
}

/// A raw-packet failure, with the system's or libpcap's own text.
public struct RawError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Sends raw packets by the fastest path that reaches each destination, in batches of one
/// sendmmsg(2) call per path.
///
/// IPv4 destinations routed through a gateway on an Ethernet interface go out as whole frames
/// through an AF_PACKET socket bound to that interface, addressed to the gateway's MAC address
/// from the kernel's neighbour table (the link path): one route and one neighbour lookup per
/// /24 instead of the kernel's IP output path (route, neighbour, netfilter) for every packet,
/// which is where a raw IP socket spends its time (bench/path-limit.sh measures both). Everything
/// else goes through raw IP sockets, header included (the IP path): IPv6, destinations on an
/// attached segment (each needs its own neighbour resolution, which the kernel does), gateways
/// not resolved yet (the kernel resolves them; the link path is tried again shortly), loopback,
/// and any route the link path cannot vouch for. `CARTOGRAPH_SEND_PATH=ip` forces the IP path
/// (frames bypass the scanner's own netfilter OUTPUT rules; the IP path does not).
final class RawSender {
    /// Packets waiting for one socket. Without addresses, the socket's own is used.
    struct Queue {
        var buffer: [UInt8] = []
        var offsets: [UInt32] = []
        var lengths: [UInt32] = []
        var addresses: [UInt8] = []
        var addressLengths: [UInt32] = []
    }

    /// One interface and gateway of the link path: the bound socket and the frame header.
    final class Link {
        let fd: Int32
        let header: [UInt8]
        var queue = Queue()

        init(fd: Int32, header: [UInt8]) {
            self.fd = fd
            self.header = header
        }

        deinit { Teardown.close(fd) }
    }

    /// How the destinations of one /24 (or one address, where routes split its /24) are sent.
    enum Route {
        case link(Link)
        case ip
        /// The gateway had no neighbour entry at `since`: the IP path resolves it meanwhile.
        case unresolved(since: UInt64)
        /// Routes longer than /24 split this /24: each address is looked up alone.
        case split
    }

    private var sockets: [IPAddress.Family: Int32] = [:]
    private var queues: [IPAddress.Family: Queue] = [.v4: Queue(), .v6: Queue()]
    /// Keyed by /24 (the address shifted right by 8), or by address (plus 2^32) where split.
    private var routes: [UInt64: Route] = [:]
    /// By interface index and next hop's MAC address.
    private var links: [[UInt8]: Link] = [:]
    private let linkPathAllowed: Bool
    private static let addressSize = MemoryLayout<sockaddr_storage>.size
    private static let sendBuffer: Int32 = 4 << 20
    /// How long an unresolved gateway keeps its /24 on the IP path before it is looked up again.
    private static let unresolvedRetry: UInt64 = 200_000_000

    init() throws(RawError) {
        linkPathAllowed = getenv("CARTOGRAPH_SEND_PATH").map { String(cString: $0) } != "ip"
        for family in [IPAddress.Family.v4, .v6] {
            let fd = socket(family == .v4 ? AF_INET : AF_INET6, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_RAW))
            if fd < 0 {
                if family == .v6 { continue }   // a host without IPv6 can still scan IPv4
                throw RawError(message: "cannot open a raw socket: \(String(cString: strerror(errno)))")
            }
            var size = Self.sendBuffer
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            sockets[family] = fd
        }
    }

    deinit { for fd in sockets.values { close(fd) } }

    /// Queues one IP packet (as PacketEncoder builds it) for `destination`.
    func add(_ packet: [UInt8], to destination: IPAddress) {
        if case .v4(let value) = destination, let link = link(for: value, source: packet[12..<16]) {
            link.queue.append(frame: link.header, packet)
            return
        }
        var (storage, length) = Sockets.socketAddress(destination, port: 0)
        queues[destination.family, default: Queue()].append(packet, &storage, UInt32(length), size: Self.addressSize)
    }

    /// The link-path socket for an IPv4 destination, or nil for the IP path.
    private func link(for destination: UInt32, source: ArraySlice<UInt8>) -> Link? {
        guard linkPathAllowed else { return nil }
        var key = UInt64(destination >> 8)
        if case .split? = routes[key] { key = UInt64(destination) | 1 << 32 }
        switch routes[key] {
        case .link(let link)?: return link
        case .ip?: return nil
        case .unresolved(let since)? where MonotonicClock.now() - since < Self.unresolvedRetry: return nil
        case .unresolved?, .split?, nil: break
        }
        let (route, split) = lookUp(destination, source: source)
        if split && key < 1 << 32 {
            routes[key] = .split
            key = UInt64(destination) | 1 << 32
        }
        routes[key] = route
        if case .link(let link) = route { return link }
        return nil
    }

    /// Reads the route and the gateway's MAC address from the kernel's tables; also whether
    /// routes longer than /24 split the destination's /24.
    private func lookUp(_ destination: UInt32, source: ArraySlice<UInt8>) -> (Route, split: Bool) {
        var name = [CChar](repeating: 0, count: 16)
        var gateway: UInt32 = 0
        var split: Int32 = 0
        let found = cg_route_v4(destination, &name, &gateway, &split) != 0
        return (found && gateway != 0 ? linkRoute(name, gateway: gateway, source: source) : .ip, split != 0)
    }

    private func linkRoute(_ name: [CChar], gateway: UInt32, source: ArraySlice<UInt8>) -> Route {
        var ours = [UInt8](repeating: 0, count: 6)
        let index = cg_ether_interface(name, &ours)
        guard index > 0 else { return .ip }
        // The main table is all /proc/net/route shows: a source address that is not on the
        // route's interface means policy routing chose another way, which only the kernel knows.
        let sourceValue = source.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard cg_interface_has_v4(name, sourceValue) != 0 else { return .ip }
        var mac = [UInt8](repeating: 0, count: 6)
        guard cg_neighbour_v4(gateway, name, &mac) != 0 else { return .unresolved(since: MonotonicClock.now()) }
        let linkKey = withUnsafeBytes(of: index) { Array($0) } + mac
        if let known = links[linkKey] { return .link(known) }
        let fd = cg_link_socket(index, Self.sendBuffer)
        guard fd >= 0 else { return .ip }   // no AF_PACKET here (a container without it): the IP path works
        let link = Link(fd: fd, header: mac + ours + [0x08, 0x00])
        links[linkKey] = link
        return .link(link)
    }

    /// Send errors by errno since the run began: each is a packet that never left.
    private(set) var errors: [Int32: Int] = [:]

    /// Counts send errors another sender met in the same run (a helper thread's).
    func absorb(errors other: [Int32: Int]) { errors.merge(other, uniquingKeysWith: +) }

    /// Sends everything queued. Returns how many packets left. A full send buffer (ENOBUFS,
    /// EAGAIN) is waited out briefly, then the rest are dropped like packets lost on the wire; a
    /// packet refused for its destination (EPERM from a firewall, no route) is skipped alone.
    /// Either way the error is counted, so the run knows its coverage is in doubt.
    @discardableResult
    func flush() -> Int {
        var total = 0
        for link in links.values where !link.queue.lengths.isEmpty {
            total += link.queue.send(link.fd, size: 0) { errors[$0, default: 0] += $1 }
            link.queue.removeAll()
        }
        for family in [IPAddress.Family.v4, .v6] {
            guard let queue = queues[family], !queue.lengths.isEmpty else { continue }
            if let fd = sockets[family] { total += queue.send(fd, size: Self.addressSize) { errors[$0, default: 0] += $1 } }
            queues[family]?.removeAll()
        }
        return total
    }
}

extension RawSender.Queue {
    /// Empties the queue, keeping its storage for the next batch.
    mutating func removeAll() {
        buffer.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        addresses.removeAll(keepingCapacity: true)
        addressLengths.removeAll(keepingCapacity: true)
    }

    mutating func append(_ packet: [UInt8], _ storage: inout sockaddr_storage, _ length: UInt32, size: Int) {
        offsets.append(UInt32(buffer.count))
        lengths.append(UInt32(packet.count))
        buffer += packet
        withUnsafeBytes(of: &storage) { addresses += $0.prefix(size) }
        addressLengths.append(length)
    }

    /// Queues an Ethernet frame: `header` then the IP packet.
    mutating func append(frame header: [UInt8], _ packet: [UInt8]) {
        offsets.append(UInt32(buffer.count))
        lengths.append(UInt32(header.count + packet.count))
        buffer += header
        buffer += packet
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
                                              addrs.isEmpty ? nil : addrs.baseAddress! + next * size, UInt32(size),
                                              alens.isEmpty ? nil : alens.baseAddress! + next, count)
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
    /// The ring's size, in bytes.
    let bufferSize: Int32

    /// The kernel's ring for a run that expects `answers` packets: room for each (a frame
    /// of ours is under 256 bytes), at least 1 MiB and at most 32 MiB. A smaller ring opens
    /// faster (6-15 ms against 17-27 ms for 32 MiB here), and a one-host sweep needs little.
    static func bufferSize(forAnswers answers: UInt128) -> Int32 {
        answers >= (32 << 20) / 256 ? 32 << 20 : Int32(max(1 << 20, answers * 256))
    }

    /// Without a filter the capture takes no packet at all until `filter(_:)` gives it one: a
    /// capture opened ahead of its run holds nothing stale when the run begins.
    init(filter: String?, bufferSize: Int32 = 32 << 20) throws(RawError) {
        var errors = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let pcap = pcap_create("any", &errors) else {
            throw RawError(message: "libpcap: \(String(decoding: errors.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        handle = pcap
        self.bufferSize = bufferSize
        pcap_set_snaplen(pcap, 256)
        pcap_set_immediate_mode(pcap, 1)
        pcap_set_buffer_size(pcap, bufferSize)
        pcap_set_timeout(pcap, 1)
        let status = pcap_activate(pcap)
        guard status >= 0 else { throw RawError(message: "libpcap: cannot capture: \(Self.error(pcap))") }
        // Our own probes are not wanted: telling the kernel to skip outgoing frames saves a copy
        // and a filter run per probe sent. Where it cannot (before Linux 4.20), the "inbound"
        // filter below still drops them.
        _ = cg_ignore_outgoing(pcap_fileno(pcap))
        guard let type = PacketDecoder.LinkType(rawValue: pcap_datalink(pcap)) else {
            throw RawError(message: "libpcap: unsupported link type \(pcap_datalink(pcap))")
        }
        linkType = type
        // "less 0" matches no packet: every captured one is longer than that.
        try self.filter(filter ?? "less 0", inbound: filter != nil)
        guard pcap_setnonblock(pcap, 1, &errors) == 0 else { throw RawError(message: "libpcap: cannot go non-blocking") }
    }

    /// Takes no more packets and drops those it holds, for the next run to use it clean.
    func quiesce() throws(RawError) {
        try filter("less 0", inbound: false)
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        // libpcap filters what the ring already holds by the new filter, which drops it all.
        var dropped = 0
        while dropped < Int(bufferSize) / 64 && pcap_next_ex(handle, &header, &data) == 1 { dropped += 1 }
    }

    /// Replaces the BPF filter. With `inbound`, our own outgoing packets are kept out too.
    func filter(_ filter: String, inbound: Bool = true) throws(RawError) {
        var program = bpf_program()
        // "inbound" keeps our own probes out of the capture; fall back if the device lacks it.
        var compiled: Int32 = -1
        if inbound { compiled = pcap_compile(handle, &program, "inbound and (\(filter))", 1, PCAP_NETMASK_UNKNOWN) }
        if compiled != 0 { compiled = pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) }
        guard compiled == 0 else { throw RawError(message: "libpcap: bad filter \"\(filter)\": \(Self.error(handle))") }
        defer { pcap_freecode(&program) }
        guard pcap_setfilter(handle, &program) == 0 else { throw RawError(message: "libpcap: \(Self.error(handle))") }
    }

    deinit {
        let handle = Teardown.Handle(pointer: handle)
        Teardown.later { pcap_close(handle.pointer) }
    }

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

/// A capture opened ahead of the raw run that will use it (see `Ahead`): opening one waits for
/// the kernel much as closing does (its ring is set up under an RCU grace period), 15-20 ms
/// here, which a port scan would otherwise spend after its first host was found. It takes no
/// packet until its run gives it the run's filter.
final class SpareCapture: Sendable {
    private let ahead = Ahead<PacketCapture>()

    /// Starts opening one, unless one is open or opening; the command's early one when it has one.
    func prepare(bufferSize: Int32 = 32 << 20) {
        ahead.start(from: EarlyCapture.claim(atLeast: bufferSize)) { try? PacketCapture(filter: nil, bufferSize: bufferSize) }
    }

    /// The one prepared (waiting for it to be open), or nil when none was asked for or opening
    /// it failed (the run then opens its own, and says why if that fails too).
    func take() -> PacketCapture? { ahead.take() }
}

/// Captures whose raw runs ended, kept for the process's next run: opening one waits out a
/// kernel grace period (15-20 ms) and closing one another, so a one-host map's scan takes its
/// sweep's capture at once. One given back takes no packet and holds none, and the next run's
/// prober (with its own cookie key) gives it the filter; a late answer to the last run's
/// probes fails the new key. The pool is emptied when a map's scan stage ends.
public final class CapturePool: @unchecked Sendable {
    /// The process's.
    public static let shared = CapturePool()

    private let lock = NSLock()
    private var captures: [PacketCapture] = []

    init() {}

    /// Keeps `capture` for the next run (or closes it, when it cannot be quiesced).
    func give(_ capture: PacketCapture) {
        guard (try? capture.quiesce()) != nil else { return }
        lock.withLock { captures.append(capture) }
    }

    /// One whose ring holds at least `bufferSize` bytes, if one is idle.
    func take(bufferSize: Int32) -> PacketCapture? {
        lock.withLock {
            guard let index = captures.firstIndex(where: { $0.bufferSize >= bufferSize }) else { return nil }
            return captures.remove(at: index)
        }
    }

    /// Closes every idle capture (each on a thread of its own, see `Teardown`).
    public func drain() {
        let idle = lock.withLock {
            defer { captures = [] }
            return captures
        }
        _ = idle
    }
}

/// Captures opened when a command that will map starts, before its profile, targets and store
/// are read, so that the kernel's grace periods overlap them: one for the first map's sweep and
/// one for its scan, which the engines' `SpareCapture`s take over when the map is prepared
/// (opened later, they would hold up the sweep's start and then the scan's). Their rings are
/// sized for a sweep of up to 4096 answers (a /24 with the default probes) and for every TCP
/// port of one host; a larger run opens its own.
public enum EarlyCapture {
    private static let planned: [(size: Int32, ahead: Ahead<PacketCapture>)] = [
        (PacketCapture.bufferSize(forAnswers: 4096), Ahead()), (PacketCapture.bufferSize(forAnswers: 65535), Ahead()),
    ]
    private static let claimed = Mutex<Set<Int>>([])

    /// Starts opening them (where raw packets are allowed).
    public static func open() {
        guard RawPrivileges.available else { return }
        for (size, ahead) in planned { ahead.start { try? PacketCapture(filter: nil, bufferSize: size) } }
    }

    /// The smallest one not yet claimed whose ring holds `size` bytes, to take over (an empty
    /// one when none is left).
    static func claim(atLeast size: Int32) -> Ahead<PacketCapture> {
        claimed.withLock { claimed in
            guard let index = planned.indices.first(where: { planned[$0].size >= size && !claimed.contains($0) }) else {
                return Ahead()
            }
            claimed.insert(index)
            return planned[index].ahead
        }
    }

    /// Lets go of those no engine took, without waiting for them to open.
    public static func release() { for (_, ahead) in planned { ahead.abandon() } }
}

/// Closing a packet socket (libpcap's capture, the link path's sender, ARP's) waits for the
/// kernel's RCU grace period (`synchronize_net` in `packet_release`): 10-25 ms here, at the end
/// of every raw run and on a map's critical path. Nothing is lost by letting a thread of its
/// own wait for it instead; the packets a closing capture still holds are no longer wanted.
enum Teardown {
    struct Handle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    static func later(_ work: @escaping @Sendable () -> Void) { Thread.detachNewThread(work) }

    static func close(_ fd: Int32) { later { _ = Glibc.close(fd) } }
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
