import CartographCore

/// What the raw engines send: one probe packet's meaning, before it becomes bytes.
public struct ProbePacket: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        case tcpSYN(sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32, timestamp: UInt32)
        case tcpACK(sourcePort: UInt16, destinationPort: UInt16, acknowledgement: UInt32)
        case icmpEcho(identifier: UInt16, sequence: UInt16, timestamp: UInt32)
        case icmpTimestamp(identifier: UInt16, sequence: UInt16)
        case udp(sourcePort: UInt16, destinationPort: UInt16, payload: [UInt8])
    }

    public var source: IPAddress
    public var destination: IPAddress
    public var kind: Kind
    public var ttl: UInt8 = 64
    public var ipIdentifier: UInt16 = 0

    public init(source: IPAddress, destination: IPAddress, kind: Kind, ttl: UInt8 = 64, ipIdentifier: UInt16 = 0) {
        self.source = source
        self.destination = destination
        self.kind = kind
        self.ttl = ttl
        self.ipIdentifier = ipIdentifier
    }
}

/// Encodes probe packets as IP datagrams (header included), ready for a raw IP socket.
public enum PacketEncoder {
    static let tcpProtocol: UInt8 = 6, udpProtocol: UInt8 = 17, icmpProtocol: UInt8 = 1, icmpv6Protocol: UInt8 = 58

    public static func encode(_ packet: ProbePacket) -> [UInt8] {
        let (proto, segment) = transport(packet)
        switch packet.source {
        case .v4(let source):
            // One allocation for the whole datagram: at line rate this runs a million times a second.
            let total = 20 + segment.count
            let destination = UInt32(truncatingIfNeeded: packet.destination.value)   // the same family as the source
            var datagram = [UInt8](repeating: 0, count: 20)
            datagram.reserveCapacity(total)
            datagram[0] = 0x45
            datagram[2] = UInt8(total >> 8); datagram[3] = UInt8(total & 0xff)
            datagram[4] = UInt8(packet.ipIdentifier >> 8); datagram[5] = UInt8(packet.ipIdentifier & 0xff)
            datagram[6] = 0x40   // don't fragment
            datagram[8] = packet.ttl
            datagram[9] = proto
            for i in 0..<4 {
                datagram[12 + i] = UInt8(truncatingIfNeeded: source >> (24 - 8 * i))
                datagram[16 + i] = UInt8(truncatingIfNeeded: destination >> (24 - 8 * i))
            }
            let checksum = Checksum.compute(datagram)
            datagram[10] = UInt8(checksum >> 8); datagram[11] = UInt8(checksum & 0xff)
            datagram += segment
            return datagram
        case .v6:
            var header = [UInt8](repeating: 0, count: 40)
            header[0] = 0x60
            header[4] = UInt8(segment.count >> 8); header[5] = UInt8(segment.count & 0xff)
            header[6] = proto
            header[7] = packet.ttl
            header.replaceSubrange(8..<24, with: packet.source.bytes)
            header.replaceSubrange(24..<40, with: packet.destination.bytes)
            return header + segment
        }
    }

    /// The transport segment with its checksum filled in.
    static func transport(_ packet: ProbePacket) -> (UInt8, [UInt8]) {
        let v6 = packet.source.family == .v6
        var segment: [UInt8]
        let proto: UInt8
        var checksumOffset: Int
        var pseudo = true
        switch packet.kind {
        case .tcpSYN(let sport, let dport, let sequence, let timestamp):
            // MSS 1460 as real stacks send, and a timestamp the SYN-ACK echoes back: that echo
            // gives the round-trip time without remembering when each probe left.
            segment = tcp(sport: sport, dport: dport, sequence: sequence, acknowledgement: 0, flags: 0x02,
                          options: [0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x08, 0x0a,
                                    UInt8(timestamp >> 24), UInt8(timestamp >> 16 & 0xff),
                                    UInt8(timestamp >> 8 & 0xff), UInt8(timestamp & 0xff), 0, 0, 0, 0])
            proto = tcpProtocol
            checksumOffset = 16
        case .tcpACK(let sport, let dport, let acknowledgement):
            segment = tcp(sport: sport, dport: dport, sequence: 0, acknowledgement: acknowledgement, flags: 0x10, options: [])
            proto = tcpProtocol
            checksumOffset = 16
        case .icmpEcho(let identifier, let sequence, let timestamp):
            // The payload carries the send time; the reply echoes it back.
            segment = [v6 ? 128 : 8, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff),
                       UInt8(sequence >> 8), UInt8(sequence & 0xff),
                       UInt8(timestamp >> 24), UInt8(timestamp >> 16 & 0xff), UInt8(timestamp >> 8 & 0xff), UInt8(timestamp & 0xff)]
            proto = v6 ? icmpv6Protocol : icmpProtocol
            checksumOffset = 2
            pseudo = v6
        case .icmpTimestamp(let identifier, let sequence):
            segment = [13, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff),
                       UInt8(sequence >> 8), UInt8(sequence & 0xff)] + [UInt8](repeating: 0, count: 12)
            proto = icmpProtocol
            checksumOffset = 2
            pseudo = false
        case .udp(let sport, let dport, let payload):
            let length = 8 + payload.count
            segment = [UInt8(sport >> 8), UInt8(sport & 0xff), UInt8(dport >> 8), UInt8(dport & 0xff),
                       UInt8(length >> 8), UInt8(length & 0xff), 0, 0] + payload
            proto = udpProtocol
            checksumOffset = 6
        }
        let initial = pseudo ? Checksum.pseudoHeader(source: packet.source, destination: packet.destination,
                                                     protocol: proto, length: segment.count) : 0
        var checksum = Checksum.compute(segment, initial: initial)
        if proto == udpProtocol && checksum == 0 { checksum = 0xffff }   // 0 means "no checksum" in UDP
        segment[checksumOffset] = UInt8(checksum >> 8)
        segment[checksumOffset + 1] = UInt8(checksum & 0xff)
        return (proto, segment)
    }

    static func tcp(sport: UInt16, dport: UInt16, sequence: UInt32, acknowledgement: UInt32, flags: UInt8, options: [UInt8]) -> [UInt8] {
        let headerLength = 20 + options.count
        var bytes = [UInt8](repeating: 0, count: 20)
        bytes.reserveCapacity(headerLength)
        bytes[0] = UInt8(sport >> 8); bytes[1] = UInt8(sport & 0xff)
        bytes[2] = UInt8(dport >> 8); bytes[3] = UInt8(dport & 0xff)
        for i in 0..<4 { bytes[4 + i] = UInt8(truncatingIfNeeded: sequence >> (24 - 8 * i)) }
        for i in 0..<4 { bytes[8 + i] = UInt8(truncatingIfNeeded: acknowledgement >> (24 - 8 * i)) }
        bytes[12] = UInt8(headerLength / 4) << 4
        bytes[13] = flags
        bytes[14] = 0x04; bytes[15] = 0x00   // window 1024
        bytes += options
        return bytes
    }
}
