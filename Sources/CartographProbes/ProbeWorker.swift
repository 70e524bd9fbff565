import CartographCore
import CartographIO
import CLua
import CShims
import Glibc

/// Runs probe invocations as Lua coroutines over one epoll reactor, on one thread.
///
/// Each invocation is a coroutine of this worker's single `lua_State`. A socket call in a probe
/// yields a request; the worker starts the non-blocking operation, parks the coroutine in the
/// reactor, and resumes it with the result. Thousands of invocations wait at once this way.
/// A probe that errs, exhausts its instruction budget or memory, or outlives its time limit is
/// ended alone, with the reason and its file:line; the others go on.
///
/// Confined to the thread that created it, like the `lua_State` it owns.
final class ProbeWorker {
    enum Step: Equatable {
        case probe(String)
        case banner
    }

    private let lua: LuaState
    private let reactor: Reactor
    private let settings: ProbeSettings
    private let tokenRef: Int32
    private let bannerRef: Int32
    private let probesRef: Int32
    private var files: [String: String] = [:]
    private var invocations: [Int: Invocation] = [:]
    private var nextToken = 1

    init(library: ProbeLibrary, probes: [ProbeDefinition], settings: ProbeSettings) throws {
        self.settings = settings
        lua = try LuaState(memoryLimit: settings.memoryLimit)
        reactor = try Reactor(capacity: 4096)
        let stack = lua.main
        try stack.run(source: Prelude.source, chunkName: Prelude.chunkName, results: 3)
        bannerRef = luaL_ref(stack.L, stack.registryIndex())
        let makeEnvRef = luaL_ref(stack.L, stack.registryIndex())
        tokenRef = luaL_ref(stack.L, stack.registryIndex())
        cg_lua_newtable(stack.L)
        for probe in probes {
            guard let source = library.sources[probe.name] else { continue }
            // The checker compiled this text already; a failure here would be a bug, so it is
            // reported like any other probe error rather than trusted away.
            do {
                try ProbeCompiler.compile(stack, path: source.file, text: source.text, makeEnvRef: makeEnvRef)
            } catch {
                throw ProbeLoadError(file: source.file, message: error.message)
            }
            stack.setField(-2, probe.name)
            files[probe.name] = source.file
        }
        probesRef = luaL_ref(stack.L, stack.registryIndex())
    }

    /// Identifies every job by running its plan; returns one result per job, in order.
    func identify(_ jobs: [PortJob], plans: [[Step]], cancel: CancellationFlag) -> [PortIdentification] {
        var results = jobs.map { PortIdentification(address: $0.address, port: $0.port, proto: $0.proto) }
        var pipelines: [Int: Pipeline] = [:]
        var nextJob = 0

        func advance(_ jobIndex: Int) {
            guard var pipeline = pipelines[jobIndex] else { return }
            while pipeline.next < plans[jobIndex].count {
                let step = plans[jobIndex][pipeline.next]
                pipeline.next += 1
                pipelines[jobIndex] = pipeline
                if spawn(step: step, job: jobs[jobIndex], jobIndex: jobIndex, pipeline: pipeline) { return }
            }
            pipelines[jobIndex] = nil
            if results[jobIndex].match == nil, let tentative = pipeline.tentative {
                results[jobIndex].match = tentative.match
                results[jobIndex].method = tentative.method
            }
        }

        func finished(_ invocation: Invocation, _ outcome: Outcome) {
            let jobIndex = invocation.jobIndex
            guard var pipeline = pipelines[jobIndex] else { return }
            results[jobIndex].log += invocation.log
            switch (invocation.step, outcome) {
            case (.banner, .banner(let bytes)):
                pipeline.bannerRead = true
                pipeline.banner = bytes
            case (.probe(let name), .match(let match)):
                if match.certain {
                    results[jobIndex].match = match
                    results[jobIndex].method = name
                    pipelines[jobIndex] = nil
                    return
                }
                if pipeline.tentative == nil { pipeline.tentative = (match, name) }
            case (_, .failed(let reason)):
                results[jobIndex].errors.append(reason)
            default:
                break
            }
            pipelines[jobIndex] = pipeline
            advance(jobIndex)
        }

        self.onFinish = finished
        while !cancel.isCancelled {
            while pipelines.count < settings.concurrency && nextJob < jobs.count {
                pipelines[nextJob] = Pipeline()
                advance(nextJob)
                nextJob += 1
            }
            if pipelines.isEmpty && nextJob >= jobs.count { break }
            for event in reactor.poll(maxWait: .ms(200)) {
                switch event {
                case .ready(let token, _):
                    if let invocation = invocations[token] { ready(invocation) }
                case .timeout(let token):
                    if let invocation = invocations[token] { timedOut(invocation) }
                }
            }
        }
        for invocation in Array(invocations.values) {
            end(invocation, .failed("\(invocation.file): stopped: the map was interrupted"))
        }
        self.onFinish = nil
        return results
    }

    // MARK: - Invocations

    private var onFinish: ((Invocation, Outcome) -> Void)?

    enum Outcome {
        case match(ProbeMatch)
        case noMatch
        case banner([UInt8]?)
        case failed(String)
    }

    struct Pipeline {
        var next = 0
        /// Whether the passive banner read ran; `banner` is what it got (nil: the service was silent).
        var bannerRead = false
        var banner: [UInt8]?
        var tentative: (match: ProbeMatch, method: String)?
    }

    /// Starts one step as a coroutine; returns false when the step cannot run (and was skipped).
    private func spawn(step: Step, job: PortJob, jobIndex: Int, pipeline: Pipeline) -> Bool {
        let L = lua.main.L
        let file: String
        switch step {
        case .probe(let name):
            guard let path = files[name] else { return false }
            file = path
        case .banner:
            file = "passive banner read"
        }
        guard let co = lua_newthread(L) else { return false }
        let ref = luaL_ref(L, lua.main.registryIndex())
        let thread = LuaStack(L: co)
        cg_lua_set_budget(co, settings.instructionBudget)
        let nargs: Int32
        switch step {
        case .probe(let name):
            lua_rawgeti(co, thread.registryIndex(), lua_Integer(probesRef))
            thread.rawField(-1, name)
            thread.rawField(-1, "run")
            lua_rotate(co, -3, 1)
            thread.pop(2)
            pushHost(thread, job)
            pushPort(thread, job, pipeline: pipeline)
            cg_lua_newtable(co)
            for (key, value) in settings.args[name] ?? [:] {
                thread.push(value)
                thread.setField(-2, key)
            }
            nargs = 3
        case .banner:
            lua_rawgeti(co, thread.registryIndex(), lua_Integer(bannerRef))
            pushHost(thread, job)
            pushPort(thread, job, pipeline: Pipeline())
            thread.push(settings.bannerWaitMs)
            nargs = 3
        }
        let token = nextToken
        nextToken += 1
        let invocation = Invocation(token: token, co: co, ref: ref, jobIndex: jobIndex, step: step, file: file,
                                    address: job.address,
                                    deadline: MonotonicClock.now() + .ms(settings.probeTimeoutMs))
        invocations[token] = invocation
        drive(invocation, nargs: nargs)
        return true
    }

    private func pushHost(_ thread: LuaStack, _ job: PortJob) {
        cg_lua_newtable(thread.L)
        thread.push(job.address.description)
        thread.setField(-2, "address")
        thread.push(job.address.family == .v4 ? "ipv4" : "ipv6")
        thread.setField(-2, "family")
        if let name = job.hostname {
            thread.push(name)
            thread.setField(-2, "name")
        }
    }

    /// The `port` table: number, protocol, and what the passive banner read learned: `banner`
    /// (what the service said first) or `silent = true` (it said nothing while we waited).
    private func pushPort(_ thread: LuaStack, _ job: PortJob, pipeline: Pipeline) {
        cg_lua_newtable(thread.L)
        thread.push(Int(job.port))
        thread.setField(-2, "number")
        thread.push(job.proto.rawValue)
        thread.setField(-2, "protocol")
        if let banner = pipeline.banner {
            thread.push(bytes: banner)
            thread.setField(-2, "banner")
        } else if pipeline.bannerRead {
            thread.push(true)
            thread.setField(-2, "silent")
        }
    }

    /// Resumes the coroutine with `nargs` values on its stack and serves its requests until it
    /// must wait on I/O, returns, or fails.
    private func drive(_ invocation: Invocation, nargs: Int32) {
        var nargs = nargs
        while true {
            var results: Int32 = 0
            cg_lua_set_memory_enforced(lua.main.L, 1)
            let status = lua_resume(invocation.co, lua.main.L, nargs, &results)
            cg_lua_set_memory_enforced(lua.main.L, 0)
            let thread = LuaStack(L: invocation.co)
            switch status {
            case LUA_YIELD:
                switch serve(invocation, results: results) {
                case .resume(let count):
                    nargs = count
                    continue
                case .wait:
                    return
                case .fail(let reason):
                    end(invocation, .failed(reason))
                    return
                }
            case LUA_OK:
                end(invocation, outcome(of: invocation, thread: thread, results: results))
                return
            default:
                var reason = thread.string(at: -1) ?? "error object is a \(thread.typeName(at: -1))"
                if status == LUA_ERRMEM || cg_lua_memory_limit_hit(lua.main.L) != 0 {
                    let mib = settings.memoryLimit >> 20
                    reason = "\(location(invocation)): memory limit of \(mib) MiB exceeded"
                } else if !reason.hasPrefix(invocation.file) {
                    reason = "\(invocation.file): \(reason)"
                }
                end(invocation, .failed(reason))
                return
            }
        }
    }

    private func location(_ invocation: Invocation) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if cg_lua_where(invocation.co, &buffer, buffer.count) != 0 { return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } }
        return invocation.file
    }

    private func outcome(of invocation: Invocation, thread: LuaStack, results: Int32) -> Outcome {
        if invocation.step == .banner {
            return .banner(results > 0 ? thread.bytes(at: -results) : nil)
        }
        guard results > 0, lua_type(invocation.co, -results) != LUA_TNIL else { return .noMatch }
        let index = lua_absindex(invocation.co, -results)
        guard lua_type(invocation.co, index) == LUA_TTABLE else {
            return .failed("\(invocation.file): run returned a \(thread.typeName(at: index)), expected a table or nil")
        }
        guard let name = thread.stringField(index, "name"), !name.isEmpty else {
            return .failed("\(invocation.file): run returned a table without a \"name\"")
        }
        var match = ProbeMatch(name: name)
        match.product = thread.stringField(index, "product")
        match.version = thread.stringField(index, "version")
        match.extraInfo = thread.stringField(index, "extra")
        match.cpe = thread.stringListField(index, "cpe") ?? []
        match.deviceType = thread.stringField(index, "device_type")
        match.osHints = thread.stringListField(index, "os") ?? []
        match.hostnames = thread.stringListField(index, "hostnames") ?? []
        if thread.rawField(index, "certain") != LUA_TNIL { match.certain = lua_toboolean(invocation.co, -1) != 0 }
        thread.pop()
        return .match(match)
    }

    /// Ends an invocation: closes its sockets, forgets its coroutine, and reports the outcome.
    private func end(_ invocation: Invocation, _ outcome: Outcome) {
        guard invocations.removeValue(forKey: invocation.token) != nil else { return }
        reactor.cancel(token: invocation.token)
        for socket in invocation.sockets.values { close(socket.fd) }
        invocation.sockets.removeAll()
        lua_settop(invocation.co, 0)
        luaL_unref(lua.main.L, lua.main.registryIndex(), invocation.ref)
        onFinish?(invocation, outcome)
    }

    // MARK: - Requests

    enum Service {
        case resume(Int32)
        case wait
        case fail(String)
    }

    /// Reads the request a coroutine yielded and starts it.
    private func serve(_ invocation: Invocation, results: Int32) -> Service {
        let co = invocation.co
        let thread = LuaStack(L: co)
        let base = lua_gettop(co) - results + 1
        lua_rawgeti(co, thread.registryIndex(), lua_Integer(tokenRef))
        let fromPrelude = results >= 2 && lua_rawequal(co, base, -1) != 0
        thread.pop()
        guard fromPrelude, let op = thread.string(at: base + 1) else {
            return .fail("\(location(invocation)): the probe yielded outside the socket API")
        }
        func arg(_ n: Int32) -> Int32 { base + 1 + n }
        func integerArg(_ n: Int32) -> Int? { n + 1 < results ? thread.integer(at: arg(n)) : nil }
        func stringArg(_ n: Int32) -> String? { n + 1 < results ? thread.string(at: arg(n)) : nil }
        let now = MonotonicClock.now()

        switch op {
        case "log":
            invocation.log.append("\(location(invocation)): \(stringArg(1) ?? "")")
            lua_settop(co, 0)
            return .resume(0)

        case "sleep":
            let ms = min(integerArg(1) ?? 0, settings.probeTimeoutMs)
            lua_settop(co, 0)
            invocation.waiting = .sleep
            reactor.sleep(until: min(now + .ms(ms), invocation.deadline), token: invocation.token)
            return .wait

        case "connect":
            let host = stringArg(1) ?? ""
            let port = integerArg(2) ?? -1
            let timeout = integerArg(3) ?? settings.socketTimeoutMs
            let proto = TransportProtocol(rawValue: stringArg(4) ?? "tcp")
            lua_settop(co, 0)
            guard let address = IPAddress(host) else { return reply(co, nil, "invalid address \"\(host)\"") }
            guard address == invocation.address else {
                return reply(co, nil, "probes may only connect to the host they probe (\(invocation.address))")
            }
            guard (1...65535).contains(port) else { return reply(co, nil, "invalid port \(port)") }
            guard let proto else { return reply(co, nil, "protocol must be \"tcp\" or \"udp\"") }
            switch Sockets.startConnect(to: address, port: UInt16(port), type: proto) {
            case .connected(let fd):
                return reply(co, id: invocation.add(fd: fd, proto: proto))
            case .inProgress(let fd):
                let id = invocation.add(fd: fd, proto: proto)
                invocation.waiting = .connect(socket: id)
                reactor.wait(fd: fd, for: .writable, deadline: min(now + .ms(timeout), invocation.deadline), token: invocation.token)
                return .wait
            case .failed(let code):
                return reply(co, nil, Self.errorText(code))
            }

        case "send":
            guard let id = integerArg(1), let socket = invocation.sockets[id] else {
                lua_settop(co, 0)
                return reply(co, nil, "socket is closed")
            }
            let data = 3 < results ? (thread.bytes(at: arg(2)) ?? []) : []
            lua_settop(co, 0)
            return send(invocation, socket: id, fd: socket.fd, data: data[...])

        case "recv":
            guard let id = integerArg(1), let socket = invocation.sockets[id] else {
                lua_settop(co, 0)
                return reply(co, nil, "socket is closed")
            }
            let deadline: UInt64
            if let given = integerArg(3) { deadline = UInt64(max(0, given)) * 1_000_000 }
            else { deadline = now + .ms(integerArg(2) ?? settings.socketTimeoutMs) }
            lua_settop(co, 0)
            return receive(invocation, socket: id, fd: socket.fd, deadline: deadline)

        case "close":
            if let id = integerArg(1), let socket = invocation.sockets.removeValue(forKey: id) {
                reactor.cancel(token: invocation.token)
                close(socket.fd)
            }
            lua_settop(co, 0)
            return .resume(0)

        default:
            return .fail("\(location(invocation)): unknown request \"\(op)\"")
        }
    }

    private func reply(_ co: OpaquePointer, _ value: String?, _ error: String) -> Service {
        lua_pushnil(co)
        LuaStack(L: co).push(error)
        return .resume(2)
    }

    private func reply(_ co: OpaquePointer, id: Int) -> Service {
        lua_pushinteger(co, lua_Integer(id))
        return .resume(1)
    }

    private func send(_ invocation: Invocation, socket id: Int, fd: Int32, data: ArraySlice<UInt8>) -> Service {
        var remaining = data
        while !remaining.isEmpty {
            let sent = remaining.withUnsafeBytes { Sockets.send(fd, $0) }
            guard let sent else {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK {
                    invocation.waiting = .send(socket: id, remaining: remaining)
                    reactor.wait(fd: fd, for: .writable, deadline: invocation.deadline, token: invocation.token)
                    return .wait
                }
                return reply(invocation.co, nil, Self.errorText(code))
            }
            remaining = remaining.dropFirst(sent)
        }
        lua_pushboolean(invocation.co, 1)
        return .resume(1)
    }

    private func receive(_ invocation: Invocation, socket id: Int, fd: Int32, deadline: UInt64) -> Service {
        let co = invocation.co
        let thread = LuaStack(L: co)
        guard let bytes = Sockets.receive(fd) else {
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK {
                if MonotonicClock.now() >= deadline { return recvReply(thread, nil, "timeout", deadline) }
                invocation.waiting = .receive(socket: id, deadline: deadline)
                reactor.wait(fd: fd, for: .readable, deadline: min(deadline, invocation.deadline), token: invocation.token)
                return .wait
            }
            return recvReply(thread, nil, Self.errorText(code), deadline)
        }
        if bytes.isEmpty { return recvReply(thread, nil, "closed", deadline) }
        return recvReply(thread, bytes, nil, deadline)
    }

    private func recvReply(_ thread: LuaStack, _ bytes: [UInt8]?, _ error: String?, _ deadline: UInt64) -> Service {
        if let bytes { thread.push(bytes: bytes) } else { thread.pushNil() }
        if let error { thread.push(error) } else { thread.pushNil() }
        thread.push(Int(deadline / 1_000_000))
        return .resume(3)
    }

    /// The descriptor an invocation waits on became ready.
    private func ready(_ invocation: Invocation) {
        guard let waiting = invocation.waiting else { return }
        invocation.waiting = nil
        let service: Service
        switch waiting {
        case .connect(let id):
            guard let socket = invocation.sockets[id] else { return }
            let code = Sockets.pendingError(socket.fd)
            if code == 0 {
                service = reply(invocation.co, id: id)
            } else {
                close(socket.fd)
                invocation.sockets[id] = nil
                service = reply(invocation.co, nil, Self.errorText(code))
            }
        case .send(let id, let remaining):
            guard let socket = invocation.sockets[id] else { return }
            service = send(invocation, socket: id, fd: socket.fd, data: remaining)
        case .receive(let id, let deadline):
            guard let socket = invocation.sockets[id] else { return }
            service = receive(invocation, socket: id, fd: socket.fd, deadline: deadline)
        case .sleep:
            service = .resume(0)
        }
        continueWith(invocation, service)
    }

    /// A wait ran out: the call's own timeout, or the probe's whole time limit.
    private func timedOut(_ invocation: Invocation) {
        guard let waiting = invocation.waiting else { return }
        invocation.waiting = nil
        if MonotonicClock.now() >= invocation.deadline {
            end(invocation, .failed("\(location(invocation)): timed out after \(settings.probeTimeoutMs) ms"))
            return
        }
        let service: Service
        switch waiting {
        case .connect(let id):
            if let socket = invocation.sockets.removeValue(forKey: id) { close(socket.fd) }
            service = reply(invocation.co, nil, "timeout")
        case .send:
            service = reply(invocation.co, nil, "timeout")
        case .receive(_, let deadline):
            service = recvReply(LuaStack(L: invocation.co), nil, "timeout", deadline)
        case .sleep:
            service = .resume(0)
        }
        continueWith(invocation, service)
    }

    private func continueWith(_ invocation: Invocation, _ service: Service) {
        switch service {
        case .resume(let count): drive(invocation, nargs: count)
        case .wait: return
        case .fail(let reason): end(invocation, .failed(reason))
        }
    }

    static func errorText(_ code: Int32) -> String {
        switch code {
        case ECONNREFUSED: "refused"
        case ECONNRESET: "reset"
        case ETIMEDOUT: "timeout"
        case EPIPE: "closed"
        default: String(cString: strerror(code))
        }
    }
}

/// One probe running on one port: its coroutine, its sockets, what it waits for.
final class Invocation {
    enum Waiting {
        case connect(socket: Int)
        case send(socket: Int, remaining: ArraySlice<UInt8>)
        case receive(socket: Int, deadline: UInt64)
        case sleep
    }

    struct Socket {
        let fd: Int32
        let proto: TransportProtocol
    }

    let token: Int
    let co: OpaquePointer
    let ref: Int32
    let jobIndex: Int
    let step: ProbeWorker.Step
    let file: String
    let address: IPAddress
    let deadline: UInt64
    var sockets: [Int: Socket] = [:]
    var nextSocket = 1
    var waiting: Waiting?
    var log: [String] = []

    init(token: Int, co: OpaquePointer, ref: Int32, jobIndex: Int, step: ProbeWorker.Step, file: String,
         address: IPAddress, deadline: UInt64) {
        self.token = token
        self.co = co
        self.ref = ref
        self.jobIndex = jobIndex
        self.step = step
        self.file = file
        self.address = address
        self.deadline = deadline
    }

    func add(fd: Int32, proto: TransportProtocol) -> Int {
        let id = nextSocket
        nextSocket += 1
        sockets[id] = Socket(fd: fd, proto: proto)
        return id
    }
}
