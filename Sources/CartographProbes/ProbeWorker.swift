import CartographCore
import CartographIO
import CLua
import CShims
import CTLSShims
import CWorkerShims
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
        case tlsDetect
    }

    /// Log lines, bytes, and bytes of one line a single run may log.
    static let logLines = 100, logBytes = 16384, logLineBytes = 1024
    /// Bytes one socket may receive unless its probe asks for more, and the most it may ask for.
    static let receiveLimit = 1 << 20, receiveLimitMax = 16 << 20
    /// Trace lines kept per step (`probes test`).
    static let traceLimit = 2000
    /// Sockets one probe run may hold open at once.
    static let socketsPerRun = 16
    /// How long one run may go on before the others get a turn (when its requests never wait):
    /// short, so that however many runs compute, one waiting on a service is served promptly.
    static let sliceMs = 2

    private let lua: LuaState
    private let reactor: Reactor
    private let settings: ProbeSettings
    private let refs: Prelude.References
    private let probesRef: Int32
    private var files: [String: String] = [:]
    /// The line of each probe's `run` function: where "run returned …" errors point, since the
    /// `return` statement's own line is gone once the coroutine has ended.
    private var runLines: [String: Int32] = [:]
    private var invocations: [Int: Invocation] = [:]
    /// Runs that computed through their slice, waiting for their next turn (tokens, oldest
    /// first). Each loop turn gives them one slice between them, after the I/O that arrived:
    /// however many compute, a step waiting on a service is never queued behind more than one
    /// slice of their work.
    private var turns: [Int] = []
    private var nextToken = 1
    private var onFinish: ((Invocation, Outcome) -> Void)?
    private var report: ((Int, PortIdentification) -> Void)?
    /// The ports being identified, by job id; steps their pipelines asked for, not yet started;
    /// ports whose pipeline changed since their answer was last looked at.
    private var ports: [Int: PortRun] = [:]
    private var pending: [(Int, Pipeline.Action)] = []
    private var settled: Set<Int> = []
    /// Open sockets, in all and per host, and connects waiting for room (tokens, oldest first).
    private var openSockets = 0
    private var hostSockets: [IPAddress: Int] = [:]
    private var waitingConnects: [Int] = []
    /// In a worker process: the step slot its parent watches (see `ProbeSupervisor`).
    private let slot: OpaquePointer?

    init(library: ProbeLibrary, probes: [ProbeDefinition], settings: ProbeSettings, slot: OpaquePointer? = nil) throws {
        self.settings = settings
        self.slot = slot
        lua = try LuaState(memoryLimit: settings.memoryLimit)
        reactor = try Reactor(capacity: 256)
        let stack = lua.main
        if let slot { cg_slot_instrument_libraries(stack.L, slot) }
        refs = try Prelude.install(in: stack, libraries: library.libraries)
        cg_lua_newtable(stack.L)
        for probe in probes {
            guard let source = library.sources[probe.name] else { continue }
            // The checker compiled this text already; a failure here is reported like any other.
            do {
                try ProbeCompiler.compile(stack, path: source.file, text: source.text, makeEnvRef: refs.makeEnv)
            } catch {
                throw ProbeLoadError(file: source.file, message: error.message)
            }
            if stack.rawField(-1, "run") == LUA_TFUNCTION { runLines[probe.name] = cg_lua_linedefined(stack.L, -1) }
            stack.pop()
            stack.setField(-2, probe.name)
            files[probe.name] = source.file
        }
        probesRef = luaL_ref(stack.L, stack.registryIndex())
    }

    /// Identifies every job by running its plan; returns one result per job, in order.
    func identify(_ jobs: [PortJob], plans: [ProbePlan], cancel: CancellationFlag,
                  progress: ProgressMeter? = nil) -> [PortIdentification] {
        var results = jobs.map { PortIdentification(address: $0.address, port: $0.port, proto: $0.proto) }
        var next = 0
        run(cancel: cancel, take: { room in
            let end = min(jobs.count, next + room)
            defer { next = end }
            return ((next..<end).map { StreamedJob(id: $0, job: jobs[$0], plan: plans[$0]) }, end >= jobs.count)
        }, finished: { id, result in
            results[id] = result
            progress?.advance()
        })
        return results
    }

    /// A job of a stream: `id` names its result.
    struct StreamedJob {
        let id: Int
        let job: PortJob
        let plan: ProbePlan
    }

    /// Runs jobs as they come. `take(room)` gives up to `room` new jobs and whether no more will
    /// come; it is called whenever there is room, and when `wake` (a descriptor the reactor
    /// watches) becomes readable. `finished` gets each job's result as its plan ends; `turn`
    /// runs once per loop turn (a worker process's heartbeat). Returns once the stream ended and
    /// every job finished, or on cancel (unfinished jobs then finish with what they have).
    func run(cancel: CancellationFlag, wake: Int32? = nil, turn: () -> Void = {},
             take: (Int) -> (jobs: [StreamedJob], ended: Bool),
             finished report: @escaping (Int, PortIdentification) -> Void) {
        var ended = false
        var wakeArmed = false
        self.report = report
        onFinish = { [unowned self] invocation, outcome in self.finished(invocation, outcome) }
        defer {
            onFinish = nil
            self.report = nil
        }
        while !cancel.isCancelled {
            if !ended && ports.count < settings.concurrency {
                let (new, end) = take(settings.concurrency - ports.count)
                ended = end
                for job in new {
                    let port = PortRun(job: job, started: MonotonicClock.now())
                    ports[job.id] = port
                    enqueue(port, port.pipeline.start())
                }
                if let wake, !ended, !wakeArmed {
                    reactor.wait(fd: wake, for: .readable, deadline: nil, token: 0)
                    wakeArmed = true
                }
            }
            settle()
            if ports.isEmpty && ended { break }
            turn()
            for event in reactor.poll(maxWait: turns.isEmpty ? .ms(200) : 0) {
                switch event {
                case .ready(let token, _):
                    if token == 0 { wakeArmed = false } else if let invocation = invocations[token] { ready(invocation) }
                case .timeout(let token):
                    if token < 0 {
                        silenceEnded(job: -1 - token)
                    } else if let invocation = invocations[token] {
                        timedOut(invocation)
                    }
                }
                settle()
            }
            takeTurns()
        }
        for invocation in Array(invocations.values) {
            end(invocation, .failed("\(location(invocation)): stopped: the map was interrupted"))
        }
        pending.removeAll()
        for port in Array(ports.values) { complete(port, port.pipeline.bestSoFar) }
    }

    /// Gives the runs waiting for a turn one slice between them, oldest first; the rest wait for
    /// the next loop turn. A run past its time limit ends when its turn comes.
    private func takeTurns() {
        guard !turns.isEmpty else { return }
        let roundEnd = MonotonicClock.now() + .ms(Self.sliceMs)
        var waiting = turns.count
        while waiting > 0, !turns.isEmpty {
            waiting -= 1
            let token = turns.removeFirst()
            if let invocation = invocations[token], case .turn = invocation.waiting {
                timedOut(invocation)
                settle()
            }
            if MonotonicClock.now() >= roundEnd { break }
        }
    }

    /// A run computed through its slice: it goes on at its next turn (`takeTurns`).
    private func yieldTurn(_ invocation: Invocation, results: Int32) {
        invocation.waiting = .turn(results)
        reactor.cancel(token: invocation.token)
        turns.append(invocation.token)
    }

    /// One port being identified: its pipeline, its result so far, the invocations running for it.
    private final class PortRun {
        let job: StreamedJob
        let started: UInt64
        var pipeline: Pipeline
        var result: PortIdentification
        var tokens: Set<Int> = []
        /// The banner read's short silence (from its connect's round trip), and when it ran out:
        /// from then on, while the port stays silent, waits for an answer are cut (see `capped`).
        var silenceMs = 0
        var silentSince: UInt64?
        /// When TLS detection completed a handshake, and whether anything came through the
        /// tunnel since: until then, the same cut applies to the runs over TLS.
        var tlsSince: UInt64?
        var heardOverTLS = false

        init(job: StreamedJob, started: UInt64) {
            self.job = job
            self.started = started
            pipeline = Pipeline(plan: job.plan)
            result = PortIdentification(address: job.job.address, port: job.job.port, proto: job.job.proto)
        }
    }

    private func enqueue(_ port: PortRun, _ actions: [Pipeline.Action]) {
        pending += actions.map { (port.job.id, $0) }
        settled.insert(port.job.id)
    }

    /// Starts the steps the pipelines asked for, lets waiting connects in as sockets close, and
    /// ends the ports whose answer is settled. Runs only between resumes, never inside a
    /// request: it resumes coroutines and ends invocations.
    private func settle() {
        while true {
            if !pending.isEmpty {
                let (id, action) = pending.removeFirst()
                if let port = ports[id] { spawn(action, port: port) }
                continue
            }
            if admitConnect() { continue }
            guard let id = settled.popFirst() else { return }
            guard let port = ports[id], let outcome = port.pipeline.outcome else { continue }
            if settings.patientWaitMs > 0 && port.pipeline.owesPatience(outcome) {
                // The first banner read is still listening: the round starts when it ends.
                if port.pipeline.bannerLingering { continue }
                trace(port, "[patient round] at \((MonotonicClock.now() - port.started) / 1_000_000) ms: not a word yet; listening \(patientWait) ms")
                enqueue(port, port.pipeline.patientRound())
            } else {
                complete(port, outcome)
            }
        }
    }

    /// Ends a port: its steps still running are dropped, its result is reported.
    private func complete(_ port: PortRun, _ outcome: (match: ProbeMatch?, method: String?)) {
        ports[port.job.id] = nil
        reactor.cancel(token: -1 - port.job.id)
        for token in port.tokens.sorted() {
            if let invocation = invocations[token] { end(invocation, .noMatch) }
        }
        var result = port.result
        result.match = outcome.match
        result.method = outcome.method
        result.tls = port.pipeline.tls == .found
        report?(port.job.id, result)
    }

    /// What a step's end tells its port's pipeline.
    private func finished(_ invocation: Invocation, _ outcome: Outcome) {
        guard let port = ports[invocation.jobIndex] else { return }
        port.tokens.remove(invocation.token)
        port.result.log += invocation.log
        port.result.trace += invocation.trace
        // The banner read and TLS detection ending at their time limit (their worker busy with
        // a hostile probe, say) are silence and "not TLS", as below: not a probe's error.
        if case .failed(let reason) = outcome, case .probe = invocation.step { port.result.errors.append(reason) }
        var actions: [Pipeline.Action]
        switch (invocation.step, outcome) {
        case (.banner, .passive(let bytes)):
            actions = port.pipeline.bannerEnded(bytes)
            if bytes == nil { markSilent(port) }
        case (.banner, _):
            actions = port.pipeline.bannerEnded(nil)
            markSilent(port)
        case (.tlsDetect, .tls(let found)):
            if found { port.tlsSince = MonotonicClock.now() }
            actions = port.pipeline.tlsDetected(found)
        case (.tlsDetect, _):
            actions = port.pipeline.tlsDetected(false)
        // A run cut by the port's silence gets a second try when the port speaks; one cut by a
        // quiet tunnel does not (the handshake already counts as the port speaking).
        case (.probe, .match(let match)):
            actions = port.pipeline.finished(run: invocation.entry ?? -1, match: match, cut: invocation.cut && !invocation.overTLS)
        case (.probe, _):
            actions = port.pipeline.finished(run: invocation.entry ?? -1, match: nil, cut: invocation.cut && !invocation.overTLS)
        }
        enqueue(port, actions)
    }

    /// The banner read's short silence ran out (or the read ended with nothing): the port is
    /// silent until it says something, and the waits of its running steps are cut accordingly.
    private func markSilent(_ port: PortRun) {
        guard port.silentSince == nil else { return }
        let now = MonotonicClock.now()
        port.silentSince = now
        if port.silenceMs == 0 { port.silenceMs = settings.silenceMs }
        // The port's own timer (negative tokens) marks the end of its time to answer.
        reactor.sleep(until: now + .ms(Self.replySilences * port.silenceMs), token: -1 - port.job.id)
        rearm(port)
    }

    private func silenceEnded(job id: Int) {
        guard let port = ports[id] else { return }
        port.pipeline.silenceEnded()
        enqueue(port, [])
    }

    /// The service said something on one of the port's connections.
    private func heard(_ invocation: Invocation) {
        guard let port = ports[invocation.jobIndex], !port.pipeline.heard else { return }
        enqueue(port, port.pipeline.heardService())
        rearm(port)
    }

    /// A run over TLS got data (or a close) through the tunnel.
    private func heardOverTLS(_ invocation: Invocation) {
        guard invocation.overTLS, let port = ports[invocation.jobIndex], !port.heardOverTLS else { return }
        port.heardOverTLS = true
        rearm(port)
    }

    /// The short silence for a port whose connect took `rtt` nanoseconds: ten round trips, at
    /// least `silenceMs`, at most the full banner wait. While a port stays silent, a request to
    /// it waits `replySilences` of them for an answer.
    func silence(rtt: UInt64) -> Int {
        min(settings.bannerWaitMs, max(settings.silenceMs, Int(rtt * 10 / 1_000_000)))
    }

    /// `deadline`, or sooner when the port is silent: a wait for an answer from a port that has
    /// said nothing to anyone ends four short silences after the silence was found, not at the
    /// probe's own timeout; past that, the port's silence is settled and the waits of the runs
    /// still to come end at once. The probes that declare the port get more patience, the full
    /// banner wait from the port's start (the port's number says what to expect, and a slow
    /// greeting there is likelier than a silent service); the banner read itself keeps listening
    /// while the port's other steps run. Time spent waiting for a connection to the host is not
    /// the port's silence. A run cut short in the clear runs again if the port speaks up after all.
    private func capped(_ invocation: Invocation, _ deadline: UInt64) -> UInt64 {
        guard invocation.step != .banner, let port = ports[invocation.jobIndex] else { return deadline }
        if let entry = invocation.entry, port.pipeline.runs.indices.contains(entry), port.pipeline.runs[entry].patient { return deadline }
        let silence = UInt64(Self.replySilences * max(port.silenceMs, settings.silenceMs)) * 1_000_000
        let patience = UInt64(settings.bannerWaitMs) * 1_000_000
        if invocation.overTLS {
            // Inside a tunnel that has carried nothing yet, the same, from the handshake.
            guard !port.heardOverTLS, let since = port.tlsSince else { return deadline }
            if case .probe(let name) = invocation.step, port.pipeline.plan.declared.contains(name) {
                return min(deadline, since + max(silence, patience) + invocation.queued)
            }
            return min(deadline, since + silence + invocation.queued)
        }
        guard port.pipeline.silent, let since = port.silentSince else { return deadline }
        if let entry = invocation.entry, entry < port.pipeline.plan.declared.count {
            return min(deadline, max(since + silence, port.started + patience) + invocation.queued)
        }
        return min(deadline, since + silence + invocation.queued)
    }

    /// How many short silences a silent port gets to answer a request.
    static let replySilences = 4

    /// The patient round's banner wait, as `begin` caps every step's wait (for the trace).
    var patientWait: Int { min(settings.patientWaitMs, settings.probeTimeoutMs * 3 / 4) }

    /// Arms a wait for an answer (a receive or a handshake) under the port's silence cap.
    private func arm(_ invocation: Invocation, fd: Int32, for interest: Interest, until deadline: UInt64) {
        let own = min(deadline, invocation.deadline)
        invocation.armed = (fd, interest, own)
        reactor.wait(fd: fd, for: interest, deadline: capped(invocation, own), token: invocation.token)
    }

    /// The port's silence began or ended: its waits for an answer are armed again.
    private func rearm(_ port: PortRun) {
        for token in port.tokens {
            guard let invocation = invocations[token], invocation.waiting != nil, let armed = invocation.armed else { continue }
            reactor.wait(fd: armed.fd, for: armed.interest, deadline: capped(invocation, armed.deadline), token: token)
        }
    }

    // MARK: - Connection limits

    /// Sockets one host may have open at once (`performance.host_parallelism`), and in all.
    private var hostCap: Int { max(1, settings.hostParallelism) }
    private var socketBudget: Int { max(16, settings.concurrency * 4) }

    private func roomForConnect(to address: IPAddress) -> Bool {
        openSockets < socketBudget && hostSockets[address, default: 0] < hostCap
    }

    /// Starts the oldest waiting connect whose host has room; false when there is none. A host
    /// that is full while a banner read only lingers for a late greeting gets that connection
    /// back: the steps that wait matter more than a greeting that may never come.
    private func admitConnect() -> Bool {
        guard !waitingConnects.isEmpty else { return false }
        guard let index = waitingConnects.firstIndex(where: { token in
            guard let invocation = invocations[token] else { return true }
            return roomForConnect(to: invocation.address)
        }) else {
            let full = Set(waitingConnects.compactMap { invocations[$0]?.address })
            guard let lingering = invocations.values.first(where: { $0.lingering && full.contains($0.address) }) else { return false }
            end(lingering, .passive(nil))
            return true
        }
        let token = waitingConnects.remove(at: index)
        guard let invocation = invocations[token], case .admission(let request) = invocation.waiting else { return true }
        invocation.waiting = nil
        // Time spent waiting for the host's cap is not the step's: its limit starts again
        // where it stopped (the kill-at-limit watch reads the moved deadline too).
        let waited = MonotonicClock.now() - invocation.queuedSince
        invocation.queued += waited
        invocation.deadline += waited
        cg_run_extend(invocation.run, waited)
        reactor.cancel(token: token)
        cg_lua_set_owner(lua.main.L, invocation.run)
        continueWith(invocation, startConnect(invocation, request))
        return true
    }

    private func addSocket(_ invocation: Invocation, fd: Int32, proto: TransportProtocol) -> Int {
        openSockets += 1
        hostSockets[invocation.address, default: 0] += 1
        return invocation.add(fd: fd, proto: proto)
    }

    /// Closes one of the invocation's sockets; a connect waiting for room may go in.
    private func release(_ invocation: Invocation, _ id: Int) {
        guard let socket = invocation.sockets.removeValue(forKey: id) else { return }
        socket.close()
        openSockets -= 1
        let left = hostSockets[invocation.address, default: 1] - 1
        hostSockets[invocation.address] = left > 0 ? left : nil
    }

    // MARK: - Invocations

    enum Outcome {
        case match(ProbeMatch)
        case noMatch
        case passive([UInt8]?)
        case tls(Bool)
        case failed(String)
    }

    /// Starts one step of a port as a coroutine; a step that cannot start ends at once with nothing.
    private func spawn(_ action: Pipeline.Action, port: PortRun) {
        let step: Step
        var view = Pipeline.View()
        var run: Int?
        switch action {
        case .probe(let index, let name, let portView):
            step = .probe(name)
            view = portView
            run = index
        case .banner: step = .banner
        case .tlsDetect: step = .tlsDetect
        case .drop(let index):
            for token in port.tokens.sorted() {
                if let invocation = invocations[token], invocation.entry == index { end(invocation, .noMatch) }
            }
            return
        }
        guard let invocation = begin(step: step, job: port.job.job, jobIndex: port.job.id, view: view) else {
            switch step {
            case .banner:
                let actions = port.pipeline.bannerEnded(nil)
                markSilent(port)
                enqueue(port, actions)
            case .tlsDetect: enqueue(port, port.pipeline.tlsDetected(false))
            case .probe: enqueue(port, port.pipeline.finished(run: run ?? -1, match: nil, cut: false))
            }
            return
        }
        invocation.entry = run
        invocation.overTLS = view.tls
        if settings.trace {
            invocation.trace.append("[\(invocation.file)] at \((MonotonicClock.now() - port.started) / 1_000_000) ms")
        }
        port.tokens.insert(invocation.token)
        invocations[invocation.token] = invocation
        drive(invocation, nargs: 3)
    }

    /// Prepares one step's coroutine with its arguments on the stack; nil when it cannot run.
    private func begin(step: Step, job: PortJob, jobIndex: Int, view: Pipeline.View) -> Invocation? {
        let L = lua.main.L
        let file: String
        switch step {
        case .probe(let name):
            guard let path = files[name] else { return nil }
            file = path
        case .banner: file = "passive banner read"
        case .tlsDetect: file = "TLS detection"
        }
        guard let co = lua_newthread(L) else { return nil }
        let ref = luaL_ref(L, lua.main.registryIndex())
        let thread = LuaStack(L: co)
        let deadline = MonotonicClock.now() + .ms(settings.probeTimeoutMs)
        guard let run = cg_run_begin(co, settings.instructionBudget, deadline, Int32(settings.probeTimeoutMs),
                                     settings.memoryLimit) else {
            luaL_unref(L, lua.main.registryIndex(), ref)
            return nil
        }
        // From here on what this step allocates counts against its own memory cap.
        cg_lua_set_owner(L, run)
        switch step {
        case .probe(let name):
            lua_rawgeti(co, thread.registryIndex(), lua_Integer(probesRef))
            thread.rawField(-1, name)
            thread.rawField(-1, "run")
            lua_rotate(co, -3, 1)
            thread.pop(2)
            pushHost(thread, job)
            pushPort(thread, job, view: view)
            cg_lua_newtable(co)
            for (key, value) in settings.args[name] ?? [:] {
                thread.push(value)
                thread.setField(-2, key)
            }
        case .banner, .tlsDetect:
            lua_rawgeti(co, thread.registryIndex(), lua_Integer(step == .banner ? refs.passiveBanner : refs.detectTLS))
            pushHost(thread, job)
            pushPort(thread, job, view: view)
            // The step's own wait ends well inside its time limit, so a silent service is
            // silence, not a step stopped at its limit (a profile may set probe_timeout_ms low).
            let patient = step == .banner && ports[jobIndex]?.pipeline.patient == true
            let wait = patient ? settings.patientWaitMs : step == .banner ? settings.bannerWaitMs : settings.tlsDetectMs
            thread.push(min(wait, settings.probeTimeoutMs * 3 / 4))
        }
        let token = nextToken
        nextToken += 1
        return Invocation(token: token, co: co, ref: ref, run: run, jobIndex: jobIndex, step: step, file: file,
                          address: job.address, deadline: deadline)
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

    /// The `port` table: number, protocol, and what the passive steps learned: `banner` (what
    /// the service said first) or `silent = true`, and `tls = true` when it speaks TLS.
    private func pushPort(_ thread: LuaStack, _ job: PortJob, view: Pipeline.View) {
        cg_lua_newtable(thread.L)
        thread.push(Int(job.port))
        thread.setField(-2, "number")
        thread.push(job.proto.rawValue)
        thread.setField(-2, "protocol")
        if let banner = view.banner {
            thread.push(bytes: banner)
            thread.setField(-2, "banner")
        } else if view.silent {
            thread.push(true)
            thread.setField(-2, "silent")
        }
        if view.tls {
            thread.push(true)
            thread.setField(-2, "tls")
        }
    }

    /// Resumes the coroutine with `nargs` values on its stack and serves its requests until it
    /// must wait on I/O, returns, or fails.
    private func drive(_ invocation: Invocation, nargs: Int32) {
        var nargs = nargs
        let slice = MonotonicClock.now() + .ms(Self.sliceMs)
        while true {
            var results: Int32 = 0
            cg_lua_set_owner(lua.main.L, invocation.run)
            cg_lua_set_memory_enforced(lua.main.L, 1)
            if let slot {
                // What the parent names if this resume never returns: "NAME<tab>FILE" for a probe.
                var what = invocation.file
                if case .probe(let name) = invocation.step { what = name + "\t" + invocation.file }
                cg_slot_enter_at(slot, Int64(invocation.jobIndex), invocation.deadline - .ms(settings.probeTimeoutMs),
                                 UInt32(clamping: settings.probeTimeoutMs), what, invocation.co)
            }
            cg_run_set_slice(invocation.run, slice)
            let status = lua_resume(invocation.co, lua.main.L, nargs, &results)
            cg_run_set_slice(invocation.run, 0)
            if let slot { cg_slot_leave(slot) }
            cg_lua_set_memory_enforced(lua.main.L, 0)
            let thread = LuaStack(L: invocation.co)
            switch status {
            case LUA_YIELD where cg_run_take_preempted(invocation.run) != 0:
                // The run computed through its slice: the others go first, it goes on after.
                yieldTurn(invocation, results: 0)
                return
            case LUA_YIELD:
                switch serve(invocation, results: results) {
                case .resume(let count):
                    nargs = count
                    // A run whose requests never wait (a service that streams without pause)
                    // lets the others have their turn: it goes on at the next loop turn.
                    if MonotonicClock.now() >= slice {
                        yieldTurn(invocation, results: count)
                        return
                    }
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
                var reason: String
                if let killed = cg_run_killed(invocation.run) {
                    // Whatever the probe's handlers made of the error, the first kill is the reason.
                    reason = String(cString: killed)
                } else if let big = Self.bigBlock(invocation.run) {
                    reason = "\(location(invocation)): \(big)"
                } else if status == LUA_ERRMEM || cg_run_out_of_memory(invocation.run) != 0 {
                    reason = "\(location(invocation)): memory limit of \(settings.memoryLimit >> 20) MiB exceeded"
                } else {
                    reason = errorReason(invocation, thread.string(at: -1) ?? "error object is a \(thread.typeName(at: -1))")
                }
                end(invocation, .failed(reason))
                return
            }
        }
    }

    /// What to say when the run asked for a block over the largest one it may allocate.
    static func bigBlock(_ run: OpaquePointer?) -> String? {
        var text = [CChar](repeating: 0, count: 160)
        guard cg_run_big_block(run, &text, text.count) != 0 else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A Lua error as one line that starts at the probe's file:line. The coroutine's stack is
    /// still there after a failed resume, so the place is its innermost frame in a probe or
    /// library file. A place in the shared prelude (a probe's bad argument to `socket.connect`,
    /// `rawset`, …) means nothing to a probe's author: it is replaced by the probe's own. A
    /// message with no place (`error({})`, `error("x", 0)`) gets the probe's.
    private func errorReason(_ invocation: Invocation, _ message: String) -> String {
        var message = message
        if message.hasPrefix(Prelude.chunkName.dropFirst() + ":"), let place = Self.placeEnd(message) {
            message = String(message[place...])
        }
        if Self.placeEnd(message) == nil { message = "\(location(invocation)): \(message)" }
        return message.hasPrefix(invocation.file) ? message : "\(invocation.file): \(message)"
    }

    /// Where the text after a leading "chunk:line: " begins, or nil without one.
    static func placeEnd(_ message: String) -> String.Index? {
        guard let colon = message.range(of: ": ") else { return nil }
        let head = message[..<colon.lowerBound]
        guard let lineColon = head.lastIndex(of: ":"), lineColon > head.startIndex else { return nil }
        let line = head[head.index(after: lineColon)...]
        return !line.isEmpty && line.allSatisfy(\.isASCII) && line.allSatisfy(\.isNumber) ? colon.upperBound : nil
    }

    private func timeoutReason(_ invocation: Invocation) -> String {
        "\(location(invocation)): timed out after \(settings.probeTimeoutMs) ms"
    }

    private func location(_ invocation: Invocation) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if cg_lua_where(invocation.co, &buffer, buffer.count) != 0 {
            return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
        return invocation.file
    }

    private func outcome(of invocation: Invocation, thread: LuaStack, results: Int32) -> Outcome {
        let co = invocation.co
        switch invocation.step {
        case .banner:
            return .passive(results > 0 ? thread.bytes(at: -results) : nil)
        case .tlsDetect:
            return .tls(results > 0 && lua_type(co, -results) == LUA_TTABLE)
        case .probe:
            break
        }
        guard results > 0, lua_type(co, -results) != LUA_TNIL else { return .noMatch }
        let index = lua_absindex(co, -results)
        var place = invocation.file
        if case .probe(let name) = invocation.step, let line = runLines[name], line > 0 { place += ":\(line)" }
        guard lua_type(co, index) == LUA_TTABLE else {
            return .failed("\(place): run returned a \(thread.typeName(at: index)), expected a table or nil")
        }
        guard let name = thread.stringField(index, "name"), !name.isEmpty else {
            return .failed("\(place): run returned a table without a \"name\"")
        }
        var match = ProbeMatch(name: name)
        match.product = thread.stringField(index, "product")
        match.version = thread.stringField(index, "version")
        match.extraInfo = thread.stringField(index, "extra")
        match.cpe = thread.stringListField(index, "cpe") ?? []
        match.deviceType = thread.stringField(index, "device_type")
        match.osHints = thread.stringListField(index, "os") ?? []
        match.hostnames = thread.stringListField(index, "hostnames") ?? []
        if thread.rawField(index, "certain") != LUA_TNIL { match.certain = lua_toboolean(co, -1) != 0 }
        thread.pop()
        return .match(match)
    }

    /// Ends an invocation: closes its sockets, forgets its coroutine, and reports the outcome.
    private func end(_ invocation: Invocation, _ outcome: Outcome) {
        guard invocations.removeValue(forKey: invocation.token) != nil else { return }
        reactor.cancel(token: invocation.token)
        for id in Array(invocation.sockets.keys) { release(invocation, id) }
        if case .admission = invocation.waiting { waitingConnects.removeAll { $0 == invocation.token } }
        lua_settop(invocation.co, 0)
        cg_run_end(invocation.co, invocation.run)
        luaL_unref(lua.main.L, lua.main.registryIndex(), invocation.ref)
        if settings.trace {
            switch outcome {
            // A built-in step stopped at its limit is silence or "not TLS", not a probe's error.
            case .failed(let reason) where invocation.step == .banner:
                invocation.trace.append("  -> stopped (\(reason)): taken as silence")
            case .failed(let reason) where invocation.step == .tlsDetect:
                invocation.trace.append("  -> stopped (\(reason)): taken as not TLS")
            case .failed(let reason): invocation.trace.append("failed: \(reason)")
            case .noMatch: invocation.trace.append("returned nil")
            default: break
            }
        }
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
        lua_rawgeti(co, thread.registryIndex(), lua_Integer(refs.token))
        let fromPrelude = results >= 2 && lua_rawequal(co, base, -1) != 0
        thread.pop()
        guard fromPrelude, let op = thread.string(at: base + 1) else {
            return .fail("\(location(invocation)): the probe yielded outside the socket API")
        }
        // Yielded values: TOKEN, op, then the arguments; argument n sits at base + 1 + n.
        func present(_ n: Int32) -> Bool { n + 1 < results && lua_type(co, base + 1 + n) != LUA_TNIL }
        func integerArg(_ n: Int32) -> Int? { present(n) ? thread.integer(at: base + 1 + n) : nil }
        func stringArg(_ n: Int32) -> String? { present(n) ? thread.string(at: base + 1 + n) : nil }
        func bytesArg(_ n: Int32) -> [UInt8]? { present(n) ? thread.bytes(at: base + 1 + n) : nil }
        let now = MonotonicClock.now()
        // The time limit holds at every request, not only while waiting: a service that never
        // stops sending keeps the probe busy without one wait running out.
        if now >= invocation.deadline { return .fail(timeoutReason(invocation)) }

        switch op {
        case "limit":
            let id = integerArg(1) ?? -1
            let wanted = integerArg(2) ?? Self.receiveLimit
            lua_settop(co, 0)
            guard invocation.sockets[id] != nil else { return reply(co, nil, "socket is closed") }
            let limit = min(max(wanted, 0), Self.receiveLimitMax)
            invocation.sockets[id]?.receiveLimit = limit
            lua_pushinteger(co, lua_Integer(limit))
            return .resume(1)

        case "follow":
            let id = integerArg(1) ?? -1
            lua_settop(co, 0)
            guard let socket = invocation.sockets[id], socket.proto == .udp else { return reply(co, nil, "not a UDP socket") }
            guard let port = Sockets.peerPort(socket.fd), Sockets.disconnect(socket.fd) else {
                return reply(co, nil, Self.errorText(errno))
            }
            invocation.sockets[id]?.follows = (invocation.address, port)
            trace(invocation, "follow: the next datagram from \(invocation.address) on any port")
            lua_pushboolean(co, 1)
            return .resume(1)

        case "log":
            // Capped per run: a probe that logs in a loop gets one note, not the worker's memory.
            if invocation.logBytes <= Self.logBytes && invocation.log.count <= Self.logLines {
                let line = "\(location(invocation)): \(String((stringArg(1) ?? "").prefix(Self.logLineBytes)))"
                invocation.logBytes += line.utf8.count
                if invocation.logBytes > Self.logBytes || invocation.log.count == Self.logLines {
                    invocation.log.append("\(location(invocation)): log truncated (at most \(Self.logLines) lines "
                                          + "and \(Self.logBytes) bytes a run)")
                    invocation.logBytes = Self.logBytes + 1
                } else {
                    invocation.log.append(line)
                }
            }
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
            let protoName = stringArg(4) ?? "tcp"
            let tls = present(5) && lua_toboolean(co, base + 6) != 0
            let sni = stringArg(6)
            lua_settop(co, 0)
            guard let address = IPAddress(host) else { return reply(co, nil, "invalid address \"\(host)\"") }
            guard address == invocation.address else {
                return reply(co, nil, "probes may only connect to the host they probe (\(invocation.address))")
            }
            guard (1...65535).contains(port) else { return reply(co, nil, "invalid port \(port)") }
            guard let proto = TransportProtocol(rawValue: protoName) else {
                return reply(co, nil, "protocol must be \"tcp\" or \"udp\"")
            }
            if tls && proto == .udp { return reply(co, nil, "TLS needs TCP") }
            guard invocation.sockets.count < Self.socketsPerRun else {
                return reply(co, nil, "too many open sockets (at most \(Self.socketsPerRun) a probe run; close one first)")
            }
            guard invocation.sockets.count < hostCap else {
                // Waiting for room would wait for this run's own sockets.
                return reply(co, nil, "too many open sockets (at most \(hostCap) to one host at once: performance.host_parallelism)")
            }
            let request = ConnectRequest(address: address, port: UInt16(port), proto: proto, tls: tls, sni: sni, timeoutMs: timeout)
            guard roomForConnect(to: address) else {
                // The host has as many connections open as it may: wait for one to close.
                trace(invocation, "connect \(address):\(port)/\(proto.rawValue): waiting for a free connection to the host")
                invocation.waiting = .admission(request)
                invocation.queuedSince = MonotonicClock.now()
                // Bounded: three more time limits, for a host whose connections other steps hold.
                reactor.sleep(until: invocation.deadline + 3 * .ms(settings.probeTimeoutMs), token: invocation.token)
                waitingConnects.append(invocation.token)
                return .wait
            }
            return startConnect(invocation, request)

        case "silence":
            // The banner read's short silence, from its connect's round trip.
            let id = integerArg(1) ?? -1
            lua_settop(co, 0)
            let rtt = invocation.sockets[id]?.rtt ?? 0
            let ms = silence(rtt: rtt)
            if invocation.step == .banner, let port = ports[invocation.jobIndex] { port.silenceMs = ms }
            lua_pushinteger(co, lua_Integer(ms))
            return .resume(1)

        case "silent":
            // The banner read heard nothing within its short silence; it goes on listening while
            // the pipeline moves on.
            lua_settop(co, 0)
            if invocation.step == .banner, let port = ports[invocation.jobIndex] {
                invocation.lingering = true
                trace(invocation, "  -> silent for \(port.silenceMs) ms; still listening")
                // The pipeline first, so that the waits armed again see the port silent.
                let actions = port.pipeline.bannerSilent()
                markSilent(port)
                enqueue(port, actions)
            }
            return .resume(0)

        case "starttls":
            let id = integerArg(1) ?? -1
            let sni = stringArg(2)
            lua_settop(co, 0)
            guard let socket = invocation.sockets[id], socket.proto == .tcp, socket.tls == nil else {
                return reply(co, nil, "not an open plain TCP socket")
            }
            trace(invocation, "starttls")
            return startTLS(invocation, socket: id, sni: sni, deadline: min(now + .ms(settings.socketTimeoutMs), invocation.deadline))

        case "certificate":
            let id = integerArg(1) ?? -1
            lua_settop(co, 0)
            guard let tls = invocation.sockets[id]?.tls else { lua_pushnil(co); return .resume(1) }
            pushCertificate(thread, tls)
            return .resume(1)

        case "send":
            guard let id = integerArg(1), invocation.sockets[id] != nil else {
                lua_settop(co, 0)
                return reply(co, nil, "socket is closed")
            }
            let data = bytesArg(2) ?? []
            lua_settop(co, 0)
            trace(invocation, "send \(data.count) bytes: \(Self.printable(data))")
            return send(invocation, socket: id, data: data[...])

        case "recv":
            guard let id = integerArg(1), invocation.sockets[id] != nil else {
                lua_settop(co, 0)
                return reply(co, nil, "socket is closed")
            }
            let deadline: UInt64
            if let given = integerArg(3) { deadline = UInt64(max(0, given)) * 1_000_000 }
            else { deadline = now + .ms(integerArg(2) ?? settings.socketTimeoutMs) }
            lua_settop(co, 0)
            return receive(invocation, socket: id, deadline: deadline)

        case "close":
            if let id = integerArg(1), invocation.sockets[id] != nil {
                reactor.cancel(token: invocation.token)
                release(invocation, id)
                trace(invocation, "close")
            }
            lua_settop(co, 0)
            return .resume(0)

        default:
            return .fail("\(location(invocation)): unknown request \"\(op)\"")
        }
    }

    /// A socket.connect a probe asked for, kept while it waits for room on its host.
    struct ConnectRequest {
        let address: IPAddress
        let port: UInt16
        let proto: TransportProtocol
        let tls: Bool
        let sni: String?
        let timeoutMs: Int
    }

    /// Starts a connect; its timeout runs from now, not from when the probe asked.
    private func startConnect(_ invocation: Invocation, _ request: ConnectRequest) -> Service {
        let now = MonotonicClock.now()
        let deadline = min(now + .ms(request.timeoutMs), invocation.deadline)
        trace(invocation, "connect \(request.address):\(request.port)/\(request.proto.rawValue)\(request.tls ? " tls" : "")")
        switch Sockets.startConnect(to: request.address, port: request.port, type: request.proto) {
        case .connected(let fd):
            let id = addSocket(invocation, fd: fd, proto: request.proto)
            invocation.sockets[id]?.rtt = 0
            guard request.tls else { return connected(invocation, id) }
            invocation.sockets[id]?.announcedAsConnect = true
            return startTLS(invocation, socket: id, sni: request.sni, deadline: deadline)
        case .inProgress(let fd):
            let id = addSocket(invocation, fd: fd, proto: request.proto)
            invocation.sockets[id]?.connectStarted = now
            invocation.waiting = .connect(socket: id, tls: request.tls, sni: request.sni, deadline: deadline)
            reactor.wait(fd: fd, for: .writable, deadline: deadline, token: invocation.token)
            return .wait
        case .failed(let code):
            trace(invocation, "  -> \(Self.errorText(code))")
            if code == ECONNREFUSED { heard(invocation) }
            return reply(invocation.co, nil, Self.errorText(code))
        }
    }

    private func reply(_ co: OpaquePointer, _ value: String?, _ error: String) -> Service {
        lua_pushnil(co)
        LuaStack(L: co).push(error)
        return .resume(2)
    }

    private func connected(_ invocation: Invocation, _ id: Int) -> Service {
        trace(invocation, "  -> connected")
        lua_pushinteger(invocation.co, lua_Integer(id))
        return .resume(1)
    }

    /// Begins (or continues) a TLS handshake on socket `id`; resumes with the socket id (for a
    /// connect) or true (for starttls) once it completes.
    private func startTLS(_ invocation: Invocation, socket id: Int, sni: String?, deadline: UInt64) -> Service {
        guard var socket = invocation.sockets[id] else { return reply(invocation.co, nil, "socket is closed") }
        if socket.tls == nil {
            guard let session = cg_tls_new(socket.fd, sni) else { return reply(invocation.co, nil, "tls: cannot create a session") }
            socket.tls = session
            socket.handshaking = true
            invocation.sockets[id] = socket
        }
        return continueHandshake(invocation, socket: id, deadline: deadline)
    }

    private func continueHandshake(_ invocation: Invocation, socket id: Int, deadline: UInt64) -> Service {
        guard var socket = invocation.sockets[id], let tls = socket.tls else { return reply(invocation.co, nil, "socket is closed") }
        let status = cg_tls_handshake(tls)
        switch status {
        case Int32(CG_TLS_DONE):
            socket.handshaking = false
            invocation.sockets[id] = socket
            heard(invocation)
            trace(invocation, "  -> tls \(Self.peer(tls).version)")
            if socket.announcedAsConnect { lua_pushinteger(invocation.co, lua_Integer(id)) } else { lua_pushboolean(invocation.co, 1) }
            return .resume(1)
        case Int32(CG_TLS_WANT_READ), Int32(CG_TLS_WANT_WRITE):
            invocation.waiting = .handshake(socket: id, deadline: deadline)
            arm(invocation, fd: socket.fd, for: status == Int32(CG_TLS_WANT_READ) ? .readable : .writable, until: deadline)
            return .wait
        default:
            let reason = "tls: " + String(cString: cg_tls_error(tls)).replacingOccurrences(of: "handshake: ", with: "handshake failed: ")
            trace(invocation, "  -> \(reason)")
            // The service answered the handshake, if only with an alert or a close.
            heard(invocation)
            if socket.announcedAsConnect { release(invocation, id) }
            return reply(invocation.co, nil, reason.isEmpty ? "tls: handshake failed" : reason)
        }
    }

    private func send(_ invocation: Invocation, socket id: Int, data: ArraySlice<UInt8>) -> Service {
        guard let socket = invocation.sockets[id] else { return reply(invocation.co, nil, "socket is closed") }
        var remaining = data
        while !remaining.isEmpty {
            if let tls = socket.tls {
                var count: Int32 = 0
                let status = remaining.withUnsafeBytes { cg_tls_write(tls, $0.baseAddress, Int32($0.count), &count) }
                switch status {
                case Int32(CG_TLS_DONE):
                    remaining = remaining.dropFirst(Int(count))
                    continue
                case Int32(CG_TLS_WANT_READ), Int32(CG_TLS_WANT_WRITE):
                    invocation.waiting = .send(socket: id, remaining: remaining)
                    reactor.wait(fd: socket.fd, for: status == Int32(CG_TLS_WANT_READ) ? .readable : .writable,
                                 deadline: invocation.deadline, token: invocation.token)
                    return .wait
                default:
                    return reply(invocation.co, nil, status == Int32(CG_TLS_CLOSED) ? "closed" : String(cString: cg_tls_error(tls)))
                }
            }
            let sent = remaining.withUnsafeBytes { bytes in
                socket.follows.map { Sockets.send(socket.fd, bytes, to: $0.0, port: $0.1) } ?? Sockets.send(socket.fd, bytes)
            }
            guard let sent else {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK {
                    invocation.waiting = .send(socket: id, remaining: remaining)
                    reactor.wait(fd: socket.fd, for: .writable, deadline: invocation.deadline, token: invocation.token)
                    return .wait
                }
                return reply(invocation.co, nil, Self.errorText(code))
            }
            remaining = remaining.dropFirst(sent)
        }
        lua_pushboolean(invocation.co, 1)
        return .resume(1)
    }

    private func receive(_ invocation: Invocation, socket id: Int, deadline: UInt64) -> Service {
        guard let socket = invocation.sockets[id] else { return recvReply(invocation, nil, "socket is closed", deadline) }
        if MonotonicClock.now() >= invocation.deadline { return .fail(timeoutReason(invocation)) }
        let allowed = socket.receiveLimit - socket.received
        guard allowed > 0 else {
            return recvReply(invocation, nil, "receive limit reached (\(socket.receiveLimit) bytes on this socket; "
                             + "sock:set_receive_limit(n) allows up to \(Self.receiveLimitMax))", deadline)
        }
        if let tls = socket.tls {
            var buffer = [UInt8](repeating: 0, count: min(16384, allowed))
            var count: Int32 = 0
            let status = buffer.withUnsafeMutableBytes { cg_tls_read(tls, $0.baseAddress, Int32($0.count), &count) }
            switch status {
            case Int32(CG_TLS_DONE):
                invocation.sockets[id]?.received += Int(count)
                heard(invocation)
                heardOverTLS(invocation)
                return recvReply(invocation, Array(buffer[..<Int(count)]), nil, deadline)
            case Int32(CG_TLS_WANT_READ), Int32(CG_TLS_WANT_WRITE):
                if MonotonicClock.now() >= deadline { return recvReply(invocation, nil, "timeout", deadline) }
                invocation.waiting = .receive(socket: id, deadline: deadline)
                arm(invocation, fd: socket.fd, for: status == Int32(CG_TLS_WANT_READ) ? .readable : .writable, until: deadline)
                return .wait
            case Int32(CG_TLS_CLOSED):
                heard(invocation)
                heardOverTLS(invocation)
                return recvReply(invocation, nil, "closed", deadline)
            default:
                heard(invocation)
                heardOverTLS(invocation)
                return recvReply(invocation, nil, String(cString: cg_tls_error(tls)), deadline)
            }
        }
        if let peer = socket.follows?.0 {
            // Datagrams from other addresses are dropped; the first from the host fixes the peer.
            var bytes: [UInt8]?
            for _ in 0..<16 {
                guard let (data, from, port) = Sockets.receiveFrom(socket.fd, max: min(65536, allowed)) else { break }
                if from == peer {
                    if Sockets.connectUDP(socket.fd, to: from, port: port) { invocation.sockets[id]?.follows = nil }
                    trace(invocation, "follow: answered from port \(port)")
                    bytes = data
                    break
                }
            }
            if let bytes {
                heard(invocation)
                invocation.sockets[id]?.received += bytes.count
                return recvReply(invocation, bytes, nil, deadline)
            }
            if MonotonicClock.now() >= deadline { return recvReply(invocation, nil, "timeout", deadline) }
            invocation.waiting = .receive(socket: id, deadline: deadline)
            arm(invocation, fd: socket.fd, for: .readable, until: deadline)
            return .wait
        }
        guard let bytes = Sockets.receive(socket.fd, max: min(65536, allowed)) else {
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK {
                if MonotonicClock.now() >= deadline { return recvReply(invocation, nil, "timeout", deadline) }
                invocation.waiting = .receive(socket: id, deadline: deadline)
                arm(invocation, fd: socket.fd, for: .readable, until: deadline)
                return .wait
            }
            heard(invocation)
            return recvReply(invocation, nil, Self.errorText(code), deadline)
        }
        // Data or a close: the service answered.
        heard(invocation)
        if bytes.isEmpty { return recvReply(invocation, nil, "closed", deadline) }
        invocation.sockets[id]?.received += bytes.count
        return recvReply(invocation, bytes, nil, deadline)
    }

    private func recvReply(_ invocation: Invocation, _ bytes: [UInt8]?, _ error: String?, _ deadline: UInt64) -> Service {
        let thread = LuaStack(L: invocation.co)
        if let bytes {
            trace(invocation, "recv \(bytes.count) bytes: \(Self.printable(bytes))")
            thread.push(bytes: bytes)
        } else {
            trace(invocation, "recv: \(error ?? "nothing")")
            thread.pushNil()
        }
        if let error { thread.push(error) } else { thread.pushNil() }
        thread.push(Int(deadline / 1_000_000))
        return .resume(3)
    }

    private func pushCertificate(_ thread: LuaStack, _ tls: OpaquePointer) {
        let peer = Self.peer(tls)
        cg_lua_newtable(thread.L)
        for (key, value) in [("subject", peer.subject), ("issuer", peer.issuer), ("not_before", peer.notBefore),
                             ("not_after", peer.notAfter), ("sha256", peer.sha256), ("version", peer.version),
                             ("cipher", peer.cipher)] where !value.isEmpty {
            thread.push(value)
            thread.setField(-2, key)
        }
        cg_lua_newtable(thread.L)
        for (index, name) in peer.sans.enumerated() {
            thread.push(name)
            lua_rawseti(thread.L, -2, lua_Integer(index + 1))
        }
        thread.setField(-2, "sans")
    }

    struct Peer {
        var subject = "", issuer = "", notBefore = "", notAfter = "", sha256 = "", version = "", cipher = ""
        var sans: [String] = []
    }

    static func peer(_ tls: OpaquePointer) -> Peer {
        var info = cg_tls_peer()
        _ = cg_tls_peer_info(tls, &info)
        func text<T>(_ field: inout T) -> String {
            withUnsafeBytes(of: &field) { raw in
                let bytes = raw.prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
        }
        var peer = Peer()
        peer.subject = text(&info.subject)
        peer.issuer = text(&info.issuer)
        peer.notBefore = text(&info.not_before)
        peer.notAfter = text(&info.not_after)
        peer.sha256 = text(&info.sha256)
        peer.version = text(&info.version)
        peer.cipher = text(&info.cipher)
        peer.sans = text(&info.sans).split(separator: ",").map(String.init)
        return peer
    }

    /// The descriptor an invocation waits on became ready.
    private func ready(_ invocation: Invocation) {
        guard let waiting = invocation.waiting else { return }
        cg_lua_set_owner(lua.main.L, invocation.run)
        invocation.waiting = nil
        invocation.armed = nil
        let service: Service
        switch waiting {
        case .connect(let id, let tls, let sni, let deadline):
            guard let socket = invocation.sockets[id] else { return }
            let code = Sockets.pendingError(socket.fd)
            if code != 0 {
                release(invocation, id)
                trace(invocation, "  -> \(Self.errorText(code))")
                if code == ECONNREFUSED || code == ECONNRESET { heard(invocation) }
                service = reply(invocation.co, nil, Self.errorText(code))
            } else if tls {
                invocation.sockets[id]?.connected()
                invocation.sockets[id]?.announcedAsConnect = true
                service = startTLS(invocation, socket: id, sni: sni, deadline: deadline)
            } else {
                invocation.sockets[id]?.connected()
                service = connected(invocation, id)
            }
        case .handshake(let id, let deadline):
            service = continueHandshake(invocation, socket: id, deadline: deadline)
        case .send(let id, let remaining):
            service = send(invocation, socket: id, data: remaining)
        case .receive(let id, let deadline):
            service = receive(invocation, socket: id, deadline: deadline)
        case .sleep:
            service = .resume(0)
        case .admission, .turn:
            return
        }
        continueWith(invocation, service)
    }

    /// A wait ran out: the call's own timeout, or the probe's whole time limit.
    private func timedOut(_ invocation: Invocation) {
        guard let waiting = invocation.waiting else { return }
        cg_lua_set_owner(lua.main.L, invocation.run)
        invocation.waiting = nil
        invocation.armed = nil
        let now = MonotonicClock.now()
        if now >= invocation.deadline {
            end(invocation, .failed(timeoutReason(invocation)))
            return
        }
        let service: Service
        switch waiting {
        case .connect(let id, _, _, _):
            release(invocation, id)
            trace(invocation, "  -> timeout")
            service = reply(invocation.co, nil, "timeout")
        case .handshake(let id, let deadline):
            // A failed connect-with-TLS leaves no socket; a failed starttls leaves it to the probe.
            if invocation.sockets[id]?.announcedAsConnect == true { release(invocation, id) }
            if now < deadline { invocation.cut = true }
            trace(invocation, now < deadline ? "  -> tls handshake timeout (the port is silent)" : "  -> tls handshake timeout")
            service = reply(invocation.co, nil, "timeout")
        case .send:
            service = reply(invocation.co, nil, "timeout")
        case .receive(_, let deadline):
            // Before its own deadline: the port's silence cut it short.
            if now < deadline {
                invocation.cut = true
                trace(invocation, "  (the port is silent)")
            }
            service = recvReply(invocation, nil, "timeout", deadline)
        case .sleep:
            service = .resume(0)
        case .admission:
            service = .fail(timeoutReason(invocation))
        case .turn(let count):
            service = .resume(count)
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

    /// A line of the port's own, between its steps' blocks.
    private func trace(_ port: PortRun, _ line: String) {
        guard settings.trace else { return }
        port.result.trace.append(line)
    }

    private func trace(_ invocation: Invocation, _ line: String) {
        // Bounded like `log()`: a probe looping on a call that fails at once (a receive past
        // its limit) would otherwise trace millions of lines in `probes test`.
        guard settings.trace, invocation.trace.count <= Self.traceLimit else { return }
        invocation.trace.append(invocation.trace.count < Self.traceLimit ? line : "[the trace stops here: \(Self.traceLimit) lines]")
    }

    /// Bytes as quoted text: printable ASCII as is, the rest escaped, long data cut.
    static func printable(_ bytes: [UInt8], limit: Int = 160) -> String {
        var out = "\""
        for byte in bytes.prefix(limit) {
            switch byte {
            case 0x0d: out += "\\r"
            case 0x0a: out += "\\n"
            case 0x09: out += "\\t"
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x20...0x7e: out.append(Character(UnicodeScalar(byte)))
            default: out += String(format: "\\x%02x", byte)
            }
        }
        out += "\""
        if bytes.count > limit { out += "…" }
        return out
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
        case connect(socket: Int, tls: Bool, sni: String?, deadline: UInt64)
        case handshake(socket: Int, deadline: UInt64)
        case send(socket: Int, remaining: ArraySlice<UInt8>)
        case receive(socket: Int, deadline: UInt64)
        case sleep
        /// A connect waiting for room under the host's connection cap.
        case admission(ProbeWorker.ConnectRequest)
        /// Ready to go on with this many values, after the others had their turn.
        case turn(Int32)
    }

    struct Socket {
        let fd: Int32
        let proto: TransportProtocol
        var tls: OpaquePointer?
        var handshaking = false
        /// The handshake belongs to `socket.connect` (resume with the id) rather than starttls.
        var announcedAsConnect = false
        /// Bytes received so far, and how many this socket may receive in all.
        var received = 0
        var receiveLimit = ProbeWorker.receiveLimit
        /// A UDP socket that `follow_port` disconnected: it sends to this address and port, takes
        /// the next datagram from the address, whatever its port, then is connected to that port.
        var follows: (IPAddress, UInt16)?
        /// When its connect began, and how long it took (nanoseconds).
        var connectStarted: UInt64 = 0
        var rtt: UInt64?

        mutating func connected() {
            if rtt == nil, connectStarted > 0 { rtt = MonotonicClock.now() - connectStarted }
        }

        func close() {
            if let tls { cg_tls_free(tls) }
            Glibc.close(fd)
        }
    }

    let token: Int
    let co: OpaquePointer
    let ref: Int32
    /// The C record of its instruction budget and deadline (and, once killed, why).
    let run: OpaquePointer
    let jobIndex: Int
    let step: ProbeWorker.Step
    let file: String
    let address: IPAddress
    var deadline: UInt64
    var sockets: [Int: Socket] = [:]
    var nextSocket = 1
    var waiting: Waiting?
    var log: [String] = []
    var logBytes = 0
    var trace: [String] = []
    /// Its place in the port's pipeline (probe steps).
    var entry: Int?
    /// The wait for an answer now armed (its descriptor, readiness and own deadline), which the
    /// port's silence may shorten or lengthen again.
    var armed: (fd: Int32, interest: Interest, deadline: UInt64)?
    /// A wait of it was ended by the port's silence before its own timeout.
    var cut = false
    /// It runs over TLS (after TLS detection): the tunnel's silence applies to it.
    var overTLS = false
    /// A banner read past its short silence, listening only for a late greeting.
    var lingering = false
    /// Nanoseconds it waited for room under the host's connection cap, and since when it waits.
    var queued: UInt64 = 0
    var queuedSince: UInt64 = 0

    init(token: Int, co: OpaquePointer, ref: Int32, run: OpaquePointer, jobIndex: Int, step: ProbeWorker.Step, file: String,
         address: IPAddress, deadline: UInt64) {
        self.token = token
        self.co = co
        self.ref = ref
        self.run = run
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
