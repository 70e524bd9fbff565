import Foundation

/// Lays out a DOT graph as SVG with Graphviz's `dot` program, bounded in input size, output size
/// and time, in a process of its own: a layout that runs away or crashes costs the report its
/// drawing, never the report (docs/html-report.md says why a process and not libgvc).
public struct Graphviz: Sendable {
    /// The `dot` to run; nil when none was found.
    public var executable: String?
    /// Seconds `dot` may run before it is killed.
    public var timeLimit: Double
    /// Bytes of DOT we hand it, and of SVG we take back, at most.
    public var maxInput: Int
    public var maxOutput: Int

    public init(executable: String?, timeLimit: Double = 20, maxInput: Int = 2_000_000, maxOutput: Int = 24_000_000) {
        self.executable = executable
        self.timeLimit = timeLimit
        self.maxInput = maxInput
        self.maxOutput = maxOutput
    }

    /// `dot` from PATH (or /usr/bin), as Debian's graphviz package installs it.
    public static func system() -> Graphviz {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let found = (path.split(separator: ":").map(String.init) + ["/usr/bin"])
            .map { $0 + "/dot" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        return Graphviz(executable: found)
    }

    /// Why there is no drawing, in words for the report's one line.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notInstalled
        case inputTooLarge(Int)
        case timedOut(Double)
        case failed(Int32, String)
        case badOutput(String)

        public var description: String {
            switch self {
            case .notInstalled: "Graphviz's dot was not found (Debian package graphviz)"
            case let .inputTooLarge(bytes): "the graph is too large to lay out (\(bytes) bytes of DOT)"
            case let .timedOut(seconds): "dot did not finish within \(Int(seconds)) s"
            case let .failed(status, message): "dot failed (exit \(status))" + (message.isEmpty ? "" : ": \(message)")
            case let .badOutput(why): "dot's output was not usable (\(why))"
            }
        }
    }

    public func svg(_ dot: String) -> Result<String, Failure> {
        guard let executable else { return .failure(.notInstalled) }
        let input = Data(dot.utf8)
        guard input.count <= maxInput else { return .failure(.inputTooLarge(input.count)) }
        let manager = FileManager.default
        let directory = manager.temporaryDirectory.appendingPathComponent("cartograph-dot-\(UUID().uuidString)")
        do { try manager.createDirectory(at: directory, withIntermediateDirectories: false) } catch {
            return .failure(.failed(-1, "cannot create a temporary directory: \(error.localizedDescription)"))
        }
        defer { try? manager.removeItem(at: directory) }
        let source = directory.appendingPathComponent("map.dot"), target = directory.appendingPathComponent("map.svg")
        let errors = directory.appendingPathComponent("stderr")
        // Files, not pipes: neither side can block on a full pipe, and the output's size is known
        // before it is read.
        guard manager.createFile(atPath: source.path, contents: input), manager.createFile(atPath: errors.path, contents: nil),
              let errorHandle = try? FileHandle(forWritingTo: errors) else {
            return .failure(.failed(-1, "cannot write the graph to a temporary file"))
        }
        defer { try? errorHandle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-Tsvg", "-o", target.path, source.path]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errorHandle
        do { try process.run() } catch { return .failure(.notInstalled) }
        let deadline = Date().addingTimeInterval(timeLimit)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            process.terminate()
            let grace = Date().addingTimeInterval(1)
            while process.isRunning && Date() < grace { usleep(5_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return .failure(.timedOut(timeLimit))
        }
        process.waitUntilExit()
        let message = ((try? String(contentsOf: errors, encoding: .utf8)) ?? "")
            .split(separator: "\n").first.map { String($0.prefix(200)) } ?? ""
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            return .failure(.failed(process.terminationStatus, message))
        }
        let size = (try? manager.attributesOfItem(atPath: target.path)[.size] as? Int) ?? nil
        guard let size, size <= maxOutput else { return .failure(.badOutput(size == nil ? "no SVG written" : "\(size!) bytes")) }
        guard let data = manager.contents(atPath: target.path) else { return .failure(.badOutput("no SVG written")) }
        return .success(String(decoding: data, as: UTF8.self))
    }

    /// dot's SVG document made an inline element: no XML prolog, doctype or comments (they
    /// repeat node names), no `<title>` (ours are ids; tooltips come from the links). Its size
    /// stays dot's, so labels keep their size and a large map scrolls inside its frame. Anything that is not the one SVG element dot writes is refused.
    static func inline(_ svg: String, classes: String, label: String) -> Result<String, Failure> {
        guard let start = svg.range(of: "<svg"), let end = svg.range(of: "</svg>", options: .backwards),
              start.lowerBound < end.lowerBound else { return .failure(.badOutput("no svg element")) }
        var body = String(svg[start.lowerBound..<end.upperBound])
        body = body.replacing(/<!--[\s\S]*?-->\n?/, with: "")
        body = body.replacing(/<title>[^<]*<\/title>\n?/, with: "")
        guard let open = body.firstRange(of: /<svg[^>]*>/) else { return .failure(.badOutput("no svg element")) }
        var tag = String(body[open])
        tag = tag.replacingOccurrences(of: "<svg", with: "<svg class=\"\(classes)\" role=\"img\" aria-label=\"\(label)\"")
        body.replaceSubrange(open, with: tag)
        // dot writes only shapes, text and links; a script or event handler could only come from
        // input we escaped, and every link is to an anchor of the page; anything else means something
        // is wrong: draw nothing.
        if body.firstMatch(of: /(?i)<(script|foreignObject|iframe|style|image|use)\b|<[^>]*\son[a-z]+\s*=|href="(?!#)/) != nil {
            return .failure(.badOutput("unexpected markup"))
        }
        return .success(body + "\n")
    }
}
