import CartographCore
import Foundation
import Glibc

/// What a probe worker process and its parent say to each other over their socket: frames of a
/// 4-byte big-endian length and that many bytes of JSON. The parent sends `setup` once, then
/// jobs as ports arrive; the child answers `ready`, then one `result` per job as each ends.
enum WorkerMessage: Codable {
    /// Parent → child, first: what to load and the limits.
    case setup(WorkerSetup)
    /// Parent → child: identify one port.
    case job(WireJob)
    /// Parent → child, classifier mode: classify these hosts, reported one by one.
    case classify(id: Int, hosts: [HostResult], neighbours: [String])
    /// Child → parent: loaded, ready for jobs.
    case ready
    /// Child → parent: a job's identification.
    case result(WireResult)
    /// Child → parent, classifier mode: one host's classification (nil: none) and warnings.
    case classified(id: Int, index: Int, result: WireClassification?, warnings: [String])
    /// Child → parent: the setup failed (a probe that does not compile); the child then exits.
    case failed(file: String, message: String)
}

struct WireSource: Codable {
    var file: String
    var text: String
}

struct WorkerSetup: Codable {
    enum Mode: String, Codable { case probes, classifier }
    var mode: Mode
    var settings: ProbeSettings
    var probes: [ProbeDefinition]
    var sources: [String: WireSource]
    var libraries: [String: WireSource]
    var classifier: WireSource?

    init(mode: Mode, library: ProbeLibrary, probes: [ProbeDefinition], settings: ProbeSettings) {
        self.mode = mode
        self.settings = settings
        self.probes = probes
        sources = [:]
        for probe in probes { if let source = library.sources[probe.name] { sources[probe.name] = WireSource(file: source.file, text: source.text) } }
        libraries = library.libraries.mapValues { WireSource(file: $0.file, text: $0.text) }
        classifier = library.classifier.map { WireSource(file: $0.file, text: $0.text) }
    }

    var library: ProbeLibrary {
        ProbeLibrary(sources: sources.mapValues { ($0.file, $0.text) }, libraries: libraries.mapValues { ($0.file, $0.text) },
                     classifier: classifier.map { ($0.file, $0.text) })
    }
}

struct WireJob: Codable {
    var id: Int
    var address: String
    var port: UInt16
    var proto: TransportProtocol
    var hostname: String?
    var plan: ProbePlan

    var job: PortJob? {
        IPAddress(address).map { PortJob(address: $0, port: port, proto: proto, hostname: hostname) }
    }
}

struct WireResult: Codable {
    var id: Int
    var match: ProbeMatch?
    var method: String?
    var errors: [String]
    var log: [String]
    var trace: [String]
    var tls: Bool

    init(id: Int, _ result: PortIdentification) {
        self.id = id
        match = result.match
        method = result.method
        errors = result.errors
        log = result.log
        trace = result.trace
        tls = result.tls
    }

    func identification(of job: PortJob) -> PortIdentification {
        var result = PortIdentification(address: job.address, port: job.port, proto: job.proto)
        result.match = match
        result.method = method
        result.errors = errors
        result.log = log
        result.trace = trace
        result.tls = tls
        return result
    }
}

struct WireClassification: Codable {
    var deviceType: String
    var deviceTypeConfidence: Int
    var deviceTypeEvidence: [String]
    var os: String?
    var osConfidence: Int
    var osEvidence: [String]

    init(_ value: HostClassification) {
        deviceType = value.deviceType.rawValue
        deviceTypeConfidence = value.deviceTypeConfidence
        deviceTypeEvidence = value.deviceTypeEvidence
        os = value.os
        osConfidence = value.osConfidence
        osEvidence = value.osEvidence
    }

    var value: HostClassification {
        HostClassification(deviceType: DeviceType(rawValue: deviceType) ?? .unknown, deviceTypeConfidence: deviceTypeConfidence,
                           deviceTypeEvidence: deviceTypeEvidence, os: os, osConfidence: osConfidence, osEvidence: osEvidence)
    }
}

/// Frames on a stream socket: blocking writes, and a reader that keeps partial frames.
enum WireFrames {
    /// The largest frame either side accepts (a setup carries every probe's source).
    static let maximum = 64 << 20

    static func encode(_ message: WorkerMessage) -> [UInt8] {
        let body = (try? JSONEncoder().encode(message)) ?? Data()
        let count = UInt32(body.count)
        return [UInt8(count >> 24), UInt8((count >> 16) & 0xff), UInt8((count >> 8) & 0xff), UInt8(count & 0xff)] + body
    }

    /// Writes the whole frame; false once the peer is gone. MSG_NOSIGNAL: a dead peer is an
    /// error here, not a SIGPIPE for the whole process.
    @discardableResult
    static func write(_ fd: Int32, _ message: WorkerMessage) -> Bool {
        let bytes = encode(message)
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = Glibc.poll(&poller, 1, 1000)
                    continue
                }
                return false
            }
            offset += sent
        }
        return true
    }
}

/// Gathers bytes into frames.
struct FrameBuffer {
    private var bytes: [UInt8] = []
    private var start = 0

    mutating func append(_ chunk: UnsafeRawBufferPointer) { bytes.append(contentsOf: chunk) }

    /// The next whole message; throws on a frame that is too large or not a message.
    mutating func next() throws -> WorkerMessage? {
        guard bytes.count - start >= 4 else { return nil }
        let count = Int(bytes[start]) << 24 | Int(bytes[start + 1]) << 16 | Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
        guard count <= WireFrames.maximum else { throw WireError(message: "frame of \(count) bytes") }
        guard bytes.count - start - 4 >= count else { return nil }
        let body = Data(bytes[(start + 4)..<(start + 4 + count)])
        start += 4 + count
        if start > 1 << 16 && start * 2 > bytes.count {
            bytes.removeFirst(start)
            start = 0
        }
        return try JSONDecoder().decode(WorkerMessage.self, from: body)
    }
}

struct WireError: Error { let message: String }
