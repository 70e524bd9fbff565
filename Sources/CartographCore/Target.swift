/// One thing a user asked to map, as written on the command line or in a target file.
public enum Target: Hashable, Sendable, CustomStringConvertible {
    /// Addresses given directly: one address, a CIDR block or a dash range.
    case addresses(AddressRange)
    /// A host or domain name; it becomes its own map.
    case domain(String, netblocks: [AddressRange])
    /// `none:[...]`: netblocks that belong to no domain, mapped with the other bare addresses.
    case none([AddressRange])
    /// `@NAME`: an asset group from the inventory.
    case assetGroup(String)

    public var description: String {
        switch self {
        case .addresses(let range): range.description
        case .domain(let name, let blocks) where blocks.isEmpty: name
        case .domain(let name, let blocks): "\(name):[\(blocks.map(\.description).joined(separator: ", "))]"
        case .none(let blocks): "none:[\(blocks.map(\.description).joined(separator: ", "))]"
        case .assetGroup(let name): "@\(name)"
        }
    }
}

/// A target that does not parse, with the offending token and why.
public struct TargetError: Error, Equatable, CustomStringConvertible {
    public let token: String
    public let reason: String
    /// Where the token came from, e.g. `targets.txt:3`, when it came from a file.
    public var location: String?

    public init(token: String, reason: String, location: String? = nil) {
        self.token = token
        self.reason = reason
        self.location = location
    }

    public var description: String {
        let prefix = location.map { "\($0): " } ?? ""
        return "\(prefix)invalid target \"\(token)\": \(reason)"
    }
}

/// The one target grammar, used for arguments, `-iL` files, `--exclude` lists and inventories.
///
/// ```
/// list     := item (SEP item)*           SEP: white space, or "," outside brackets
/// item     := "@" name | name ":[" blocks "]" | "none:[" blocks "]" | block | name
/// block    := address | address "/" prefix | address "-" address | ipv4 "-" octet
/// ```
public enum TargetParser {
    /// Largest IPv6 block accepted: smaller prefixes could never be walked address by address.
    public static let shortestIPv6Prefix = 64

    /// Splits `text` into items and parses each; `location` is put in front of errors.
    public static func parseList(_ text: String, location: String? = nil) throws(TargetError) -> [Target] {
        var targets: [Target] = []
        for token in try tokens(text, location: location) {
            do {
                if let blocks = try octetRanges(token) {
                    targets += blocks.map { .addresses($0) }
                    continue
                }
                targets.append(try parse(token))
            } catch {
                var located = error
                located.location = location
                throw located
            }
        }
        return targets
    }

    /// Parses a target file: one or more targets a line, `#` starts a comment. Errors name `path:line`.
    public static func parseFile(contents: String, path: String) throws(TargetError) -> [Target] {
        var targets: [Target] = []
        for (number, text) in listLines(contents) {
            targets += try parseList(text, location: "\(path):\(number)")
        }
        return targets
    }

    /// Parses an exclude file: address blocks only, as `parseFile` reads its lines.
    public static func parseBlockFile(contents: String, path: String) throws(TargetError) -> [AddressRange] {
        var blocks: [AddressRange] = []
        for (number, text) in listLines(contents) {
            blocks += try parseBlocks(text, location: "\(path):\(number)")
        }
        return blocks
    }

    /// The lines of a list file, numbered from 1, each without its `#` comment. LF, CRLF and CR
    /// all end a line: files written on Windows read the same (a Swift `Character` holds a CRLF
    /// whole, so splitting on "\n" alone would leave such a file one line long).
    public static func listLines(_ contents: String) -> [(number: Int, text: String)] {
        contents.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().map { index, line in
            (index + 1, String(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""))
        }
    }

    /// Parses a list of plain address blocks (for exclusions): no names, no groups.
    public static func parseBlocks(_ text: String, location: String? = nil) throws(TargetError) -> [AddressRange] {
        var blocks: [AddressRange] = []
        for token in try tokens(text, location: location) {
            do {
                if let octets = try octetRanges(token) {
                    blocks += octets
                    continue
                }
                blocks.append(try parseBlock(token))
            } catch {
                var located = error
                located.location = location
                throw located
            }
        }
        return blocks
    }

    static func tokens(_ text: String, location: String?) throws(TargetError) -> [String] {
        var tokens: [String] = []
        var current = ""
        var depth = 0
        for char in text {
            switch char {
            case "[":
                depth += 1
                current.append(char)
            case "]":
                depth -= 1
                current.append(char)
                if depth < 0 { throw TargetError(token: current, reason: "unbalanced \"]\"", location: location) }
            case " ", "\t", "\r", "\n", "\r\n", ",":
                if depth > 0 {
                    if char == "," { current.append(char) }
                } else if !current.isEmpty {
                    tokens.append(current)
                    current = ""
                }
            default:
                current.append(char)
            }
        }
        if depth > 0 { throw TargetError(token: current, reason: "missing \"]\"", location: location) }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    /// Parses one item.
    public static func parse(_ token: String) throws(TargetError) -> Target {
        if token.hasPrefix("@") {
            let name = String(token.dropFirst())
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw TargetError(token: token, reason: "an asset group is written @NAME with letters, digits, '-', '_' or '.'")
            }
            return .assetGroup(name)
        }
        if let open = token.firstIndex(of: "[") {
            guard token.hasSuffix("]"), open > token.startIndex,
                  token[token.index(before: open)] == ":" else {
                throw TargetError(token: token, reason: "netblocks are written NAME:[BLOCK, ...]")
            }
            let name = String(token[..<token.index(before: open)])
            let inner = String(token[token.index(after: open)..<token.index(before: token.endIndex)])
            var blocks: [AddressRange] = []
            for part in inner.split(separator: ",") {
                let piece = part.trimmed(" \t")
                if piece.isEmpty { continue }
                do {
                    blocks.append(try parseBlock(piece))
                } catch {
                    throw TargetError(token: token, reason: "netblock \"\(piece)\": \(error.reason)")
                }
            }
            if name.lowercased() == "none" {
                guard !blocks.isEmpty else { throw TargetError(token: token, reason: "none:[...] needs at least one netblock") }
                return .none(blocks)
            }
            try validateHostname(name, token: token)
            return .domain(name.lowercased(), netblocks: blocks)
        }
        if looksLikeAddressBlock(token) {
            return .addresses(try parseBlock(token))
        }
        try validateHostname(token, token: token)
        return .domain(token.lowercased(), netblocks: [])
    }

    /// True when the token can only be meant as an address, CIDR block or range.
    static func looksLikeAddressBlock(_ token: String) -> Bool {
        if token.contains(":") { return true }
        let head = token.split(separator: "/", maxSplits: 1).first.map(String.init) ?? token
        return head.allSatisfy { $0.isASCIIDigit || $0 == "." || $0 == "-" }
    }

    /// The most blocks one octet pattern may stand for (`10.0-255.0-255.1` is 65,536 of them).
    public static let largestOctetPattern = 65536

    /// nmap's octet patterns: each IPv4 octet a number, a range `a-b` (either end may be left
    /// out) or `*` (0-255), as in `10.0.1-6.2` or `10.0.0.*`. Nil when the token is not one (a
    /// plain address, or a range only in the last octet, which `parseBlock` reads the same way).
    /// Each run of the last octets that covers 0-255 whole makes one block with the octet before.
    public static func octetRanges(_ token: String) throws(TargetError) -> [AddressRange]? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, token.contains("*") || parts.dropLast().contains(where: { $0.contains("-") }),
              parts.allSatisfy({ $0.allSatisfy { $0.isASCIIDigit || $0 == "-" || $0 == "*" } && !$0.isEmpty }) else { return nil }
        var octets: [ClosedRange<UInt32>] = []
        for part in parts {
            if part == "*" { octets.append(0...255); continue }
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard bounds.count <= 2, bounds.allSatisfy({ !$0.contains("-") && !$0.contains("*") }) else {
                throw TargetError(token: token, reason: "octet \"\(part)\" is not a number, a range a-b or *")
            }
            let low = bounds[0].isEmpty && bounds.count == 2 ? 0 : UInt32(bounds[0]) ?? 256
            let high = bounds.count == 2 ? (bounds[1].isEmpty ? 255 : UInt32(bounds[1]) ?? 256) : low
            guard low <= 255, high <= 255 else { throw TargetError(token: token, reason: "octet \"\(part)\" is out of range (0-255)") }
            guard low <= high else { throw TargetError(token: token, reason: "octet range \(part) ends before it starts") }
            octets.append(low...high)
        }
        // The last octet that does not cover 0-255 whole; the ones after it join into its blocks.
        var split = 3
        while split > 0 && octets[split] == 0...255 { split -= 1 }
        let count = octets[..<split].reduce(1) { $0 * $1.count }
        guard count <= largestOctetPattern else {
            throw TargetError(token: token, reason: "the pattern stands for \(count) separate blocks; at most \(largestOctetPattern) are mapped from one pattern")
        }
        let shift = UInt32(8 * (3 - split))
        var blocks: [AddressRange] = []
        func walk(_ index: Int, _ prefix: UInt32) {
            if index == split {
                let lower = (prefix << 8 | octets[split].lowerBound) << shift
                let upper = (prefix << 8 | octets[split].upperBound) << shift | (shift == 0 ? 0 : (UInt32(1) << shift) - 1)
                blocks.append(AddressRange(family: .v4, lower: UInt128(lower), upper: UInt128(upper)))
                return
            }
            for value in octets[index] { walk(index + 1, prefix << 8 | value) }
        }
        walk(0, 0)
        return blocks
    }

    /// Parses an address, `address/prefix`, `first-last` or `a.b.c.d-e`.
    public static func parseBlock(_ token: String) throws(TargetError) -> AddressRange {
        if let slash = token.firstIndex(of: "/") {
            let base = String(token[..<slash])
            let prefixText = String(token[token.index(after: slash)...])
            let address = try parseAddress(base, token: token)
            guard let prefix = Int(prefixText), prefixText.allSatisfy(\.isASCIIDigit),
                  (0...address.family.bits).contains(prefix) else {
                throw TargetError(token: token, reason: "prefix \"\(prefixText)\" is not a number from 0 to \(address.family.bits)")
            }
            if address.family == .v6 && prefix < shortestIPv6Prefix {
                throw TargetError(token: token, reason: "IPv6 blocks larger than /\(shortestIPv6Prefix) cannot be scanned address by address")
            }
            return AddressRange(cidr: address, prefix: prefix)
        }
        if let dash = token.firstIndex(of: "-") {
            let firstText = String(token[..<dash])
            let lastText = String(token[token.index(after: dash)...])
            let first = try parseAddress(firstText, token: token)
            let last: IPAddress
            if first.family == .v4, !lastText.isEmpty, lastText.allSatisfy(\.isASCIIDigit) {
                guard let octet = UInt32(lastText), octet <= 255 else {
                    throw TargetError(token: token, reason: "last octet \(lastText) is out of range (0-255)")
                }
                last = .v4(UInt32(first.value) & 0xffff_ff00 | octet)
            } else {
                last = try parseAddress(lastText, token: token)
            }
            guard last.family == first.family else {
                throw TargetError(token: token, reason: "a range cannot mix IPv4 and IPv6")
            }
            guard first.value <= last.value else {
                throw TargetError(token: token, reason: "range ends (\(last)) before it starts (\(first))")
            }
            // The same bound as CIDR blocks: a range may span at most one /64's worth of addresses.
            if first.family == .v6, last.value - first.value > UInt128.max >> shortestIPv6Prefix {
                throw TargetError(token: token, reason: "IPv6 ranges wider than a /\(shortestIPv6Prefix) (2^64 addresses) cannot be scanned address by address")
            }
            return AddressRange(family: first.family, lower: first.value, upper: last.value)
        }
        return AddressRange(try parseAddress(token, token: token))
    }

    static func parseAddress(_ text: String, token: String) throws(TargetError) -> IPAddress {
        if let address = IPAddress(text) { return address }
        if text.isEmpty { throw TargetError(token: token, reason: "missing address") }
        if text.contains(":") { throw TargetError(token: token, reason: "\"\(text)\" is not a valid IPv6 address") }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count != 4 {
            throw TargetError(token: token, reason: "\"\(text)\" is not an IPv4 address (it needs 4 octets, it has \(parts.count))")
        }
        for part in parts {
            if part.isEmpty { throw TargetError(token: token, reason: "\"\(text)\" has an empty octet") }
            if let value = Int(part), value > 255 {
                throw TargetError(token: token, reason: "octet \(value) is out of range (0-255)")
            }
        }
        throw TargetError(token: token, reason: "\"\(text)\" is not a valid IPv4 address")
    }

    /// Checks a host name as targets are checked (labels, characters, length).
    public static func validateName(_ name: String) throws(TargetError) { try validateHostname(name, token: name) }

    static func validateHostname(_ name: String, token: String) throws(TargetError) {
        guard !name.isEmpty else { throw TargetError(token: token, reason: "missing name") }
        guard name.utf8.count <= 253 else { throw TargetError(token: token, reason: "a name is at most 253 characters") }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            if label.isEmpty { throw TargetError(token: token, reason: "empty label in name \"\(name)\"") }
            if label.count > 63 { throw TargetError(token: token, reason: "label \"\(label)\" is longer than 63 characters") }
            if let bad = label.first(where: { !($0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_")) }) {
                throw TargetError(token: token, reason: "character \"\(bad)\" is not allowed in a host name")
            }
            if label.hasPrefix("-") || label.hasSuffix("-") {
                throw TargetError(token: token, reason: "label \"\(label)\" starts or ends with \"-\"")
            }
        }
    }
}

extension StringProtocol {
    func trimmed(_ set: String) -> String {
        var s = Substring(String(self))
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}
