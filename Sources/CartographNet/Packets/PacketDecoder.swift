import CartographCore

/// A packet the raw engines received, reduced to what matching a probe needs.
public struct ReceivedPacket: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// `echoedTimestamp` is the TSecr of a timestamp option, when the segment has one.
        case tcp(sourcePort: UInt16, destinationPort: UInt16, sequence: UInt32, acknowledgement: UInt32, flags: UInt8,
                 echoedTimestamp: UInt32?)
        case udp(sourcePort: UInt16, destinationPort: UInt16, payloadLength: Int)
        /// `echoedTimestamp`: the first four payload bytes, where our requests carry their send time.
        case icmpEchoReply(identifier: UInt16, sequence: UInt16, echoedTimestamp: UInt32?)
        case icmpTimestampReply(identifier: UInt16, sequence: UInt16)
        /// An ICMP error about a datagram we sent, with that datagram's destination and ports.
        case icmpUnreachable(type: UInt8, code: UInt8, originalDestination: IPAddress, originalProtocol: UInt8,
                             originalSourcePort: UInt16, originalDestinationPort: UInt16)
        case arpReply(senderMAC: [UInt8])
    }

    public var source: IPAddress
    public var destination: IPAddress
    /// TTL or hop limit as received, for OS and hop-count hints.
    public var ttl: UInt8
    public var kind: Kind

    public static let synACK: UInt8 = 0x12, rst: UInt8 = 0x04
}

/// Decodes captured frames. Every read is bounds-checked: any bytes at all give a packet or nil,
/// never a crash.
public enum PacketDecoder {
    /// libpcap link types this decoder understands.
    public enum LinkType: Int32, Sendable {
        case ethernet = 1, raw = 12, rawIP = 101, linuxSLL = 113, linuxSLL2 = 276
    }

    public static func decode(_ frame: [UInt8], linkType: LinkType) -> ReceivedPacket? {
        var bytes = frame[...]
        let etherType: UInt16
        switch linkType {
        case .ethernet:
            guard let type = bytes.u16(at: 12) else { return nil }
            var offset = 14, kind = type
            if kind == 0x8100, let inner = bytes.u16(at: 16) { kind = inner; offset = 18 }   // one VLAN tag
            etherType = kind
            bytes = bytes.dropFirst(offset)
        case .linuxSLL:
            guard let type = bytes.u16(at: 14) else { return nil }
            etherType = type
            bytes = bytes.dropFirst(16)
        case .linuxSLL2:
            guard let type = bytes.u16(at: 0) else { return nil }
            etherType = type
            bytes = bytes.dropFirst(20)
        case .raw, .rawIP:
            guard let first = bytes.first else { return nil }
            etherType = first >> 4 == 6 ? 0x86dd : 0x0800
        }
        switch etherType {
        case 0x0800: return ipv4(bytes)
        case 0x86dd: return ipv6(bytes)
        case 0x0806: return arp(bytes)
        default: return nil
        }
    }

    static func ipv4(_ packet: ArraySlice<UInt8>) -> ReceivedPacket? {
        guard let first = packet.byte(at: 0), first >> 4 == 4 else { return nil }
        let headerLength = Int(first & 0x0f) * 4
        guard headerLength >= 20, let total = packet.u16(at: 2), Int(total) >= headerLength,
              let ttl = packet.byte(at: 8), let proto = packet.byte(at: 9),
              let source = packet.address(at: 12, length: 4), let destination = packet.address(at: 16, length: 4) else { return nil }
        let end = min(packet.count, Int(total))
        let payload = packet.dropFirst(headerLength).prefix(max(0, end - headerLength))
        guard let kind = transport(proto, payload, v6: false) else { return nil }
        return ReceivedPacket(source: source, destination: destination, ttl: ttl, kind: kind)
    }

    static func ipv6(_ packet: ArraySlice<UInt8>) -> ReceivedPacket? {
        guard let first = packet.byte(at: 0), first >> 4 == 6, let length = packet.u16(at: 4),
              let next = packet.byte(at: 6), let hops = packet.byte(at: 7),
              let source = packet.address(at: 8, length: 16), let destination = packet.address(at: 24, length: 16) else { return nil }
        let payload = packet.dropFirst(40).prefix(Int(length))
        guard let kind = transport(next, payload, v6: true) else { return nil }
        return ReceivedPacket(source: source, destination: destination, ttl: hops, kind: kind)
    }

    static func transport(_ proto: UInt8, _ segment: ArraySlice<UInt8>, v6: Bool) -> ReceivedPacket.Kind? {
        switch proto {
        case 6:
            guard let sport = segment.u16(at: 0), let dport = segment.u16(at: 2), let seq = segment.u32(at: 4),
                  let ack = segment.u32(at: 8), let offset = segment.byte(at: 12), let flags = segment.byte(at: 13) else { return nil }
            return .tcp(sourcePort: sport, destinationPort: dport, sequence: seq, acknowledgement: ack, flags: flags,
                        echoedTimestamp: timestampEcho(segment.prefix(Int(offset >> 4) * 4).dropFirst(20)))
        case 17:
            guard let sport = segment.u16(at: 0), let dport = segment.u16(at: 2), let length = segment.u16(at: 4) else { return nil }
            return .udp(sourcePort: sport, destinationPort: dport, payloadLength: max(0, Int(length) - 8))
        case 1 where !v6, 58 where v6:
            guard let type = segment.byte(at: 0), let code = segment.byte(at: 1) else { return nil }
            let echoReply: UInt8 = v6 ? 129 : 0
            if type == echoReply || (!v6 && type == 14) {
                guard let identifier = segment.u16(at: 4), let sequence = segment.u16(at: 6) else { return nil }
                return type == 14 ? .icmpTimestampReply(identifier: identifier, sequence: sequence)
                                  : .icmpEchoReply(identifier: identifier, sequence: sequence, echoedTimestamp: segment.u32(at: 8))
            }
            // Destination unreachable (v4 3, v6 1) and time exceeded (v4 11, v6 3) quote our datagram.
            let errors: Set<UInt8> = v6 ? [1, 3] : [3, 11]
            guard errors.contains(type) else { return nil }
            let quoted = segment.dropFirst(8)
            let original = v6 ? ipv6Header(quoted) : ipv4Header(quoted)
            guard let original else { return nil }
            return .icmpUnreachable(type: type, code: code, originalDestination: original.destination,
                                    originalProtocol: original.proto, originalSourcePort: original.sport,
                                    originalDestinationPort: original.dport)
        default:
            return nil
        }
    }

    /// TSecr of the timestamp option (kind 8) among TCP options, if present.
    static func timestampEcho(_ options: ArraySlice<UInt8>) -> UInt32? {
        var index = 0
        while let kind = options.byte(at: index) {
            switch kind {
            case 0: return nil
            case 1: index += 1
            default:
                guard let length = options.byte(at: index + 1), length >= 2 else { return nil }
                if kind == 8 && length == 10 { return options.u32(at: index + 6) }
                index += Int(length)
            }
        }
        return nil
    }

    /// The destination, protocol and ports of a quoted IPv4 datagram (ports 0 when absent).
    static func ipv4Header(_ bytes: ArraySlice<UInt8>) -> (destination: IPAddress, proto: UInt8, sport: UInt16, dport: UInt16)? {
        guard let first = bytes.byte(at: 0), first >> 4 == 4, let proto = bytes.byte(at: 9),
              let destination = bytes.address(at: 16, length: 4) else { return nil }
        let rest = bytes.dropFirst(Int(first & 0x0f) * 4)
        return (destination, proto, rest.u16(at: 0) ?? 0, rest.u16(at: 2) ?? 0)
    }

    static func ipv6Header(_ bytes: ArraySlice<UInt8>) -> (destination: IPAddress, proto: UInt8, sport: UInt16, dport: UInt16)? {
        guard let first = bytes.byte(at: 0), first >> 4 == 6, let proto = bytes.byte(at: 6),
              let destination = bytes.address(at: 24, length: 16) else { return nil }
        let rest = bytes.dropFirst(40)
        return (destination, proto, rest.u16(at: 0) ?? 0, rest.u16(at: 2) ?? 0)
    }

    static func arp(_ bytes: ArraySlice<UInt8>) -> ReceivedPacket? {
        // Ethernet/IPv4 ARP only: htype 1, ptype 0x0800, hlen 6, plen 4, op 2 (reply).
        guard bytes.u16(at: 0) == 1, bytes.u16(at: 2) == 0x0800, bytes.byte(at: 4) == 6, bytes.byte(at: 5) == 4,
              bytes.u16(at: 6) == 2, let senderIP = bytes.address(at: 14, length: 4),
              let targetIP = bytes.address(at: 24, length: 4) else { return nil }
        let start = bytes.startIndex + 8
        let mac = Array(bytes[start..<start + 6])
        return ReceivedPacket(source: senderIP, destination: targetIP, ttl: 0, kind: .arpReply(senderMAC: mac))
    }
}
