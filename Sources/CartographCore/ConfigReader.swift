import Yams

/// A configuration file error, located at `file:line`.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// Reads one YAML mapping with the checks every configuration file needs: unknown keys (with a
/// suggestion), wrong types and out-of-range values, each reported with file, line and key path.
struct ConfigReader {
    let file: String
    let path: String
    let mapping: Node.Mapping
    let line: Int?

    /// Parses `text` and returns a reader for its top-level mapping.
    static func document(_ text: String, file: String) throws(ConfigError) -> ConfigReader {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(file: file, line: error.line, message: "YAML syntax error: \(error.problem)")
        } catch {
            throw ConfigError(file: file, line: nil, message: "YAML syntax error: \(error)")
        }
        guard let node else { throw ConfigError(file: file, line: nil, message: "the file is empty") }
        guard let mapping = node.mapping else {
            throw ConfigError(file: file, line: node.mark?.line, message: "expected a mapping of keys to values at the top level")
        }
        return ConfigReader(file: file, path: "", mapping: mapping, line: node.mark?.line)
    }

    func fail(_ message: String, at node: Node? = nil) -> ConfigError {
        ConfigError(file: file, line: node?.mark?.line ?? line, message: message)
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Throws for the first key that is not in `allowed`, suggesting the nearest allowed key.
    func checkKeys(_ allowed: [String]) throws(ConfigError) {
        for key in mapping.keys {
            guard let name = key.string else { throw fail("keys must be plain names", at: key) }
            if !allowed.contains(name) {
                var message = "unknown key \"\(keyPath(name))\""
                if let near = Suggestion.nearest(name, in: allowed) { message += " (did you mean \"\(near)\"?)" }
                throw fail(message, at: key)
            }
        }
    }

    func node(_ key: String) -> Node? {
        mapping.first { $0.key.string == key }?.value
    }

    func keyNode(_ key: String) -> Node? {
        mapping.first { $0.key.string == key }?.key
    }

    func object(_ key: String) throws(ConfigError) -> ConfigReader? {
        guard let value = node(key), !isNull(value) else { return nil }
        guard let mapping = value.mapping else { throw fail("\"\(keyPath(key))\" must be a mapping", at: value) }
        return ConfigReader(file: file, path: keyPath(key), mapping: mapping, line: value.mark?.line)
    }

    func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let value = node(key), !isNull(value) else { return nil }
        guard let scalar = value.scalar, let bool = value.bool, scalar.style == .plain else {
            throw fail("\"\(keyPath(key))\" must be true or false, not \"\(value.string ?? "a list")\"", at: value)
        }
        return bool
    }

    func int(_ key: String, range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let value = node(key), !isNull(value) else { return nil }
        guard let int = value.int, value.scalar?.style == .plain else {
            throw fail("\"\(keyPath(key))\" must be a whole number, not \"\(value.string ?? "a list")\"", at: value)
        }
        guard range.contains(int) else {
            throw fail("\"\(keyPath(key))\" is \(int), out of range (\(range.lowerBound)-\(range.upperBound))", at: value)
        }
        return int
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let value = node(key), !isNull(value) else { return nil }
        guard let scalar = value.scalar else { throw fail("\"\(keyPath(key))\" must be text", at: value) }
        return scalar.string
    }

    /// A list of strings; a single scalar counts as a list of one.
    func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let value = node(key), !isNull(value) else { return nil }
        if let scalar = value.scalar { return [scalar.string] }
        guard let sequence = value.sequence else { throw fail("\"\(keyPath(key))\" must be a list", at: value) }
        var result: [String] = []
        for item in sequence {
            guard let scalar = item.scalar else { throw fail("items of \"\(keyPath(key))\" must be text", at: item) }
            result.append(scalar.string)
        }
        return result
    }

    /// Where each item of a `strings` list was written, as `file:line`, so that a check made
    /// later (a probe name, once the probes are loaded) can still point at its line.
    func stringLocations(_ key: String) -> [String: String] {
        guard let value = node(key) else { return [:] }
        let items = value.sequence.map(Array.init) ?? [value]
        var locations: [String: String] = [:]
        for item in items {
            guard let text = item.scalar?.string, locations[text] == nil else { continue }
            locations[text] = "\(file):\(item.mark?.line ?? line ?? 1)"
        }
        return locations
    }

    /// Ports written as a list (`[22, 80, "8000-8100"]`) or a string in `-p` syntax (`"top:100"`),
    /// without duplicates; `ordered` keeps the order written (discovery ports are tried in it).
    func ports(_ key: String, proto: TransportProtocol, ordered: Bool = false) throws(ConfigError) -> [UInt16]? {
        guard let value = node(key), !isNull(value) else { return nil }
        let items: [Node]
        if value.scalar != nil { items = [value] }
        else if let sequence = value.sequence { items = Array(sequence) }
        else { throw fail("\"\(keyPath(key))\" must be a list of ports or a port specification", at: value) }
        var ports: [UInt16] = []
        for item in items {
            guard let text = item.scalar?.string else { throw fail("items of \"\(keyPath(key))\" must be ports", at: item) }
            // YAML reads a plain `-5` as the number minus five, which nmap's syntax would take for
            // the range 1-5: in a profile it is a mistake, said as one (a quoted "-1024" is a range).
            if item.scalar?.style == .plain, text.hasPrefix("-"), text.count > 1, text.dropFirst().allSatisfy(\.isASCIIDigit) {
                throw fail("\"\(keyPath(key))\": port \(text) is out of range (1-65535); write a range as \"1-\(text.dropFirst())\"", at: item)
            }
            if text.contains(":") && !text.lowercased().hasPrefix("top:") {
                throw fail("\"\(keyPath(key))\": \"\(text)\": T:/U: prefixes do not belong here; use tcp_ports and udp_ports", at: item)
            }
            do {
                let selection = try PortSpec.parse(text, defaultProtocol: proto)
                ports += proto == .tcp ? selection.tcp : selection.udp
            } catch {
                throw fail("\"\(keyPath(key))\": \(error.reason) in \"\(text)\"", at: item)
            }
        }
        if !ordered { return Array(Set(ports)).sorted() }
        var seen = Set<UInt16>()
        return ports.filter { seen.insert($0).inserted }
    }

    func isNull(_ node: Node) -> Bool {
        node.scalar?.style == .plain && ["", "~", "null"].contains(node.scalar?.string ?? "x")
    }
}

extension YamlError {
    var line: Int? {
        switch self {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    var problem: String {
        switch self {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
             .composer(let context, let problem, _, _):
            context.map { "\(problem) (\($0.text))" } ?? problem
        case .reader(let problem, _, _, _): problem
        default: "\(self)"
        }
    }
}

/// Typo suggestions for error messages ("did you mean ...?").
public enum Suggestion {
    /// The allowed word closest to `word` by edit distance, when it is plausibly a typo; of
    /// equally close words the first, so pass the likeliest first.
    public static func nearest(_ word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(word, $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, word.count / 3) else { return nil }
        return best
    }

    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
