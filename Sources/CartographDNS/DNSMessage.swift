import CartographCore

/// Record types Cartograph asks for or reads.
public enum DNSType: UInt16, Sendable, Hashable {
    case a = 1, ns = 2, cname = 5, soa = 6, ptr = 12, mx = 15, txt = 16, aaaa = 28, axfr = 252
}

/// One resource record of an answer, with the data Cartograph uses decoded.
public struct DNSRecord: Equatable, Sendable {
    public enum Data: Equatable, Sendable {
        case address(IPAddress)
        /// NS, CNAME, PTR, and MX's exchange (with its preference).
        case name(String)
        case mx(preference: UInt16, exchange: String)
        case text([String])
        case other(type: UInt16)
    }

    public var name: String
    public var type: UInt16
    public var ttl: UInt32
    public var data: Data
}

/// A decoded response: its id, flags, and the records of its three sections.
public struct DNSResponse: Equatable, Sendable {
    public var id: UInt16
    /// RCODE: 0 no error, 3 name does not exist, 5 refused, …
    public var rcode: UInt8
    public var truncated: Bool
    public var answers: [DNSRecord]
    public var authority: [DNSRecord]
    public var additional: [DNSRecord]
}

/// The DNS wire format (RFC 1035): queries out, responses in. The decoder reads any bytes without
/// crashing: every read is bounds-checked and compression pointers may only point backwards, so
/// a loop of pointers cannot spin.
public enum DNSMessage {
    /// A standard query with recursion desired, for UDP (or, with `tcp`, length-prefixed).
    public static func query(id: UInt16, name: String, type: DNSType, recursionDesired: Bool = true, tcp: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), recursionDesired ? 0x01 : 0x00, 0x00,
                              0, 1, 0, 0, 0, 0, 0, 0]
        bytes += encodeName(name)
        bytes += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xff), 0, 1]
        return tcp ? [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xff)] + bytes : bytes
    }

    static func encodeName(_ name: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in name.split(separator: ".") where !label.isEmpty {
            let utf8 = Array(label.utf8.prefix(63))
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        bytes.append(0)
        return bytes
    }

    /// The name PTR lookups ask for: `4.3.2.1.in-addr.arpa`, or nibbles under `ip6.arpa`.
    public static func reverseName(_ address: IPAddress) -> String {
        switch address {
        case .v4(let value):
            return "\(value & 0xff).\(value >> 8 & 0xff).\(value >> 16 & 0xff).\(value >> 24).in-addr.arpa"
        case .v6(let value):
            let nibbles = (0..<32).map { String((value >> (4 * UInt128($0))) & 0xf, radix: 16) }
            return nibbles.joined(separator: ".") + ".ip6.arpa"
        }
    }

    /// Decodes a response; nil for anything that is not a well-formed DNS response.
    public static func decode(_ message: [UInt8]) -> DNSResponse? {
        let bytes = message[...]
        guard let id = bytes.u16(at: 0), let flags = bytes.u16(at: 2), flags & 0x8000 != 0,
              let qd = bytes.u16(at: 4), let an = bytes.u16(at: 6), let ns = bytes.u16(at: 8),
              let ar = bytes.u16(at: 10) else { return nil }
        var offset = 12
        for _ in 0..<qd {
            guard let (_, next) = readName(bytes, at: offset), next + 4 <= bytes.count else { return nil }
            offset = next + 4
        }
        var sections: [[DNSRecord]] = []
        for count in [an, ns, ar] {
            var records: [DNSRecord] = []
            for _ in 0..<count {
                guard let (record, next) = readRecord(bytes, at: offset) else { return nil }
                records.append(record)
                offset = next
            }
            sections.append(records)
        }
        return DNSResponse(id: id, rcode: UInt8(flags & 0x000f), truncated: flags & 0x0200 != 0,
                           answers: sections[0], authority: sections[1], additional: sections[2])
    }

    static func readRecord(_ bytes: ArraySlice<UInt8>, at offset: Int) -> (DNSRecord, Int)? {
        guard let (name, after) = readName(bytes, at: offset), let type = bytes.u16(at: after),
              let ttl = bytes.u32(at: after + 4), let length = bytes.u16(at: after + 8) else { return nil }
        let start = after + 10, end = start + Int(length)
        guard end <= bytes.count else { return nil }
        let rdata = bytes[(bytes.startIndex + start)..<(bytes.startIndex + end)]
        let data: DNSRecord.Data
        switch DNSType(rawValue: type) {
        case .a where length == 4, .aaaa where length == 16:
            guard let address = IPAddress(bytes: rdata) else { return nil }
            data = .address(address)
        case .ns, .cname, .ptr:
            guard let (target, _) = readName(bytes, at: start) else { return nil }
            data = .name(target)
        case .mx:
            guard let preference = bytes.u16(at: start), let (exchange, _) = readName(bytes, at: start + 2) else { return nil }
            data = .mx(preference: preference, exchange: exchange)
        case .txt:
            var strings: [String] = []
            var index = rdata.startIndex
            while index < rdata.endIndex {
                let count = Int(rdata[index])
                let stop = min(rdata.endIndex, index + 1 + count)
                strings.append(String(decoding: rdata[(index + 1)..<stop], as: UTF8.self))
                index = stop
            }
            data = .text(strings)
        default:
            data = .other(type: type)
        }
        return (DNSRecord(name: name, type: type, ttl: ttl, data: data), end)
    }

    /// Reads a possibly compressed name at `offset`; returns it (lowercase, no trailing dot) and
    /// the offset just after it in the message.
    static func readName(_ bytes: ArraySlice<UInt8>, at offset: Int) -> (String, Int)? {
        var labels: [String] = []
        var position = offset
        var end: Int?
        var length = 0
        while true {
            guard let count = bytes.byte(at: position) else { return nil }
            if count == 0 {
                return (labels.joined(separator: "."), end ?? position + 1)
            }
            if count & 0xc0 == 0xc0 {
                guard let low = bytes.byte(at: position + 1) else { return nil }
                let target = Int(count & 0x3f) << 8 | Int(low)
                // Only backwards: every pointer moves strictly earlier, so the walk ends.
                guard target < position else { return nil }
                if end == nil { end = position + 2 }
                position = target
                continue
            }
            guard count & 0xc0 == 0, position + 1 + Int(count) <= bytes.count else { return nil }
            let start = bytes.startIndex + position + 1
            labels.append(String(decoding: bytes[start..<start + Int(count)], as: UTF8.self).lowercased())
            length += Int(count) + 1
            guard length <= 255 else { return nil }
            position += 1 + Int(count)
        }
    }
}
