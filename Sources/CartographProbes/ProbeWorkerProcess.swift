import CartographCore
import CWorkerShims
import Foundation
import Glibc

/// The child side of `ProbeSupervisor`: `cartograph probe-worker`, started by the supervisor
/// with its socket as stdin/stdout and the step slot as descriptor 3. It limits itself first
/// (address space, descriptors, CPU), loads the probes of the setup, then identifies jobs as
/// they arrive and writes each result back as it finishes. It never prints; it ends when its
/// socket closes, or is killed by its parent.
public enum ProbeWorkerProcess {
    /// Limits a worker sets on itself before it reads anything (see README: Probe runtime).
    static func limits(_ settings: ProbeSettings) -> (addressSpace: UInt64, descriptors: UInt64, cpuSeconds: UInt64) {
        // Lua's own cap plus room for the Swift runtime, TLS and socket buffers.
        let addressSpace = UInt64(settings.memoryLimit) + (1 << 30)
        // A few sockets per concurrent invocation, and the worker's own descriptors.
        let descriptors = UInt64(max(64, settings.concurrency * 4 + 32))
        return (addressSpace, descriptors, 3600)
    }

    /// Runs the worker; returns its exit status.
    public static func main() -> Int32 {
        let input: Int32 = 0, output: Int32 = 1
        guard let slot = cg_slot_map(3) else { return 2 }
        cg_slot_beat(slot)
        var buffer = FrameBuffer()
        // The setup comes first; read it blocking.
        var setup: WorkerSetup?
        while setup == nil {
            guard let message = try? read(input, into: &buffer, blocking: true) else { return 0 }
            if case .setup(let value) = message { setup = value }
        }
        guard let setup else { return 0 }
        let limits = limits(setup.settings)
        cg_worker_limit(limits.addressSpace, limits.descriptors, limits.cpuSeconds)
        switch setup.mode {
        case .probes: return runProbes(setup, input: input, output: output, slot: slot, buffer: &buffer)
        case .classifier: return runClassifier(setup, input: input, output: output, slot: slot, buffer: &buffer)
        }
    }

    /// The next message: from what is buffered, else read; nil at end of stream (or, when not
    /// blocking, when nothing is waiting). Throws when the stream is broken.
    static func read(_ fd: Int32, into buffer: inout FrameBuffer, blocking: Bool) throws -> WorkerMessage? {
        while true {
            if let message = try buffer.next() { return message }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, blocking ? 0 : Int32(MSG_DONTWAIT)) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN && !blocking { return nil }
                throw WireError(message: String(cString: strerror(errno)))
            }
            if count == 0 { throw WireError(message: "end of stream") }
            chunk.withUnsafeBytes { buffer.append(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
        }
    }

    static func runProbes(_ setup: WorkerSetup, input: Int32, output: Int32, slot: OpaquePointer, buffer: inout FrameBuffer) -> Int32 {
        let worker: ProbeWorker
        do {
            worker = try ProbeWorker(library: setup.library, probes: setup.probes, settings: setup.settings, slot: slot)
        } catch let error as ProbeLoadError {
            WireFrames.write(output, .failed(file: error.file, message: error.message))
            return 1
        } catch {
            WireFrames.write(output, .failed(file: "", message: "\(error)"))
            return 1
        }
        WireFrames.write(output, .ready)
        var queue: [ProbeWorker.StreamedJob] = []
        var ended = false
        var local = buffer
        worker.run(cancel: CancellationFlag(), wake: input, turn: { cg_slot_beat(slot) }, take: { room in
            while !ended {
                do {
                    guard let message = try read(input, into: &local, blocking: false) else { break }
                    if case .job(let wire) = message, let job = wire.job { queue.append(.init(id: wire.id, job: job, plan: wire.plan)) }
                } catch {
                    ended = true
                }
            }
            let taken = Array(queue.prefix(room))
            queue.removeFirst(taken.count)
            return (taken, ended && queue.isEmpty)
        }, finished: { id, result in
            WireFrames.write(output, .result(WireResult(id: id, result)))
        })
        return 0
    }

    static func runClassifier(_ setup: WorkerSetup, input: Int32, output: Int32, slot: OpaquePointer, buffer: inout FrameBuffer) -> Int32 {
        guard let classifier = LuaHostClassifier(library: setup.library) else { return 1 }
        WireFrames.write(output, .ready)
        while let message = try? read(input, into: &buffer, blocking: true) {
            guard case .classify(let id, let hosts, let neighbours) = message else { continue }
            classifier.classifyInProcess(hosts, neighbours: Set(neighbours), slot: slot) { index, result, warnings in
                WireFrames.write(output, .classified(id: id, index: index, result: result.map(WireClassification.init), warnings: warnings))
            }
        }
        return 0
    }
}
