import CartographCore
import CWorkerShims
import Foundation
import Glibc

/// Where the probe worker executable is: `cartograph` itself, run as `cartograph probe-worker`.
public enum ProbeWorkerExecutable {
    /// `CARTOGRAPH_PROBE_WORKER` when set; else this process's own binary (`cartograph`,
    /// whatever it was renamed to); in a test bundle (`*.xctest`), the `cartograph` beside it.
    /// Another program hosting `CartographProbes` sets the variable to a `cartograph` binary.
    public static var path: String {
        if let path = ProcessInfo.processInfo.environment["CARTOGRAPH_PROBE_WORKER"], !path.isEmpty { return path }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe)
        let inBundle = url.lastPathComponent.hasSuffix(".xctest") || url.deletingLastPathComponent().lastPathComponent.hasSuffix(".xctest")
        guard inBundle else { return url.path }
        url.deleteLastPathComponent()
        if url.lastPathComponent.hasSuffix(".xctest") { url.deleteLastPathComponent() }
        return url.appendingPathComponent("cartograph").path
    }
}

/// A worker process could not be started.
public struct WorkerStartError: Error, CustomStringConvertible, Sendable {
    public let description: String
}

/// One probe worker process as its parent sees it: the pid, the socket to it, its step slot.
/// The fields are set at start and read-only after, except `exited`, guarded by the owner's lock.
final class WorkerProcess: @unchecked Sendable {
    let pid: pid_t
    let socket: Int32
    let slot: OpaquePointer
    private let slotFD: Int32
    /// Writes go through one serial queue, so a child that stopped reading never blocks the
    /// caller (its socket buffer fills; the queue waits instead).
    private let writer: DispatchQueue

    init(executable: String) throws(WorkerStartError) {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw WorkerStartError(description: "probe worker: socketpair: \(String(cString: strerror(errno)))")
        }
        var fd: Int32 = -1
        guard let slot = cg_slot_create(&fd) else {
            close(pair[0]); close(pair[1])
            throw WorkerStartError(description: "probe worker: shared memory: \(String(cString: strerror(errno)))")
        }
        let pid = cg_spawn_worker(executable, pair[1], pair[1], fd)
        close(pair[1])
        guard pid > 0 else {
            close(pair[0]); close(fd); cg_slot_unmap(slot)
            throw WorkerStartError(description: "probe worker: cannot start \(executable): \(String(cString: strerror(-pid)))")
        }
        self.pid = pid
        socket = pair[0]
        self.slot = slot
        slotFD = fd
        writer = DispatchQueue(label: "cartograph.probe-worker.\(pid)")
    }

    func send(_ message: WorkerMessage) {
        let fd = socket
        writer.async { WireFrames.write(fd, message) }
    }

    /// What the child is doing now.
    func view() -> cg_slot_view {
        var view = cg_slot_view()
        cg_slot_read(slot, &view)
        return view
    }

    func kill() { Glibc.kill(pid, SIGKILL) }

    /// Says the parent is done: the child reads the end of its stream and exits.
    func finish() { shutdown(socket, Int32(SHUT_WR)) }

    /// Waits for the child to end; the reason, in words, when it did not exit cleanly.
    func reap() -> String? {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        writer.sync {}
        close(socket)
        close(slotFD)
        let signal = status & 0x7f
        if signal == 0 {
            let code = (status >> 8) & 0xff
            return code == 0 ? nil : "the worker process exited with status \(code)"
        }
        switch signal {
        case SIGXCPU: return "the worker process reached its CPU time limit"
        case SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGTRAP:
            return "the worker process crashed (signal \(signal)), e.g. out of address space"
        default: return "the worker process was killed (signal \(signal))"
        }
    }

    /// Reads messages until the stream ends; calls `receive` for each.
    func readAll(_ receive: (WorkerMessage) -> Void) {
        var buffer = FrameBuffer()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            do {
                while let message = try buffer.next() { receive(message) }
            } catch {
                return
            }
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(socket, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            chunk.withUnsafeBytes { buffer.append(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }

    deinit { cg_slot_unmap(slot) }
}

extension cg_slot_view {
    /// The `what` field: the probe file (or step name) that runs.
    var whatText: String { withUnsafeBytes(of: what) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
    /// The `where` field: file:line of the C call (a pattern) the step is in, when known.
    var whereText: String { withUnsafeBytes(of: self.where) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
}
