import CartographCore
import Glibc
import CLua
import CShims
import CWorkerShims

/// Runs the host classification rules (`Probes/classify/host.lua`): a Lua chunk that returns a
/// function taking what the map knows of one host and returning its device type and OS family,
/// each with a confidence and evidence. The rules are data and Lua, not Swift; this type only
/// feeds them and checks their answers. Confined to the thread that calls `classify`.
public struct LuaHostClassifier: HostClassifying, Sendable {
    let file: String
    let text: String
    let libraries: [String: (file: String, text: String)]
    /// Per host; the rules walk small tables, so this is generous.
    let instructionBudget = 5_000_000
    /// A worker process started ahead of the first `classify` (see `prepare`).
    let spare = SpareWorker()

    public init?(library: ProbeLibrary) {
        guard let rules = library.classifier else { return nil }
        file = rules.file
        text = rules.text
        libraries = library.libraries
    }

    /// Runs the rules in a worker process (see `ClassifierSupervision`): rules that loop inside
    /// one C call (a pattern that backtracks) cost their host its classification, never the map.
    public func classify(_ hosts: [HostResult], neighbours: Set<String> = [], warnings: inout [String]) -> [HostClassification?] {
        guard !hosts.isEmpty else { return [] }
        return ClassifierSupervision(classifier: self).classify(hosts, neighbours: neighbours, warnings: &warnings)
    }

    /// Starts the first call's worker process now: starting one and loading the rules costs
    /// 20-30 ms, which the map's end would otherwise wait for.
    public func prepare() {
        spare.prepare { () throws(WorkerStartError) in
            let supervision = ClassifierSupervision(classifier: self)
            let process = try WorkerProcess(executable: supervision.executable)
            // Started while the map's senders want both cores: it yields to them.
            setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(process.pid), 10)
            process.send(.setup(supervision.setup))
            return process
        }
    }

    public func release() { spare.release() }

    /// Wall-clock limit of the rules on one host; past it and one second more, the worker
    /// process is killed.
    static let timeLimitMs = 2000

    /// Runs the rules here, on this thread, reporting each host's classification (and the
    /// warnings it brought) in order. `slot`: the step slot of a worker process.
    func classifyInProcess(_ hosts: [HostResult], neighbours: Set<String>, slot: OpaquePointer? = nil,
                           report: (Int, HostClassification?, [String]) -> Void) {
        let lua: LuaState
        do {
            lua = try LuaState(memoryLimit: 64 << 20)
            if let slot { cg_slot_instrument_libraries(lua.main.L, slot) }
            let refs = try Prelude.install(in: lua.main, libraries: libraries)
            // The probes' sandbox: no load, no finalizers, the same limits that stay enforced.
            try ProbeCompiler.load(lua.main, path: file, text: text, makeEnvRef: refs.makeEnv)
            try ProbeCompiler.runLoaded(lua.main, path: file)
        } catch {
            for index in hosts.indices { report(index, nil, index == 0 ? ["host classification: \(error.message)"] : []) }
            return
        }
        let stack = lua.main
        guard cg_lua_isfunction(stack.L, -1) != 0 else {
            let warning = "host classification: \(file) must return a function, not a \(stack.typeName(at: -1))"
            for index in hosts.indices { report(index, nil, index == 0 ? [warning] : []) }
            return
        }
        let rules = stack.top
        var failures = 0
        for (index, host) in hosts.enumerated() {
            var warnings: [String] = []
            lua_pushvalue(stack.L, rules)
            push(host, on: stack)
            stack.push(neighbours.contains(host.address))
            stack.setField(-2, "neighbour_off_link")
            let run = cg_run_begin(stack.L, instructionBudget, 0, 0, 0)
            defer { cg_run_end(stack.L, run) }
            // The memory cap holds only while rule code runs: Swift's own pushes must not fail.
            cg_lua_set_memory_enforced(stack.L, 1)
            if let slot { cg_slot_enter(slot, Int64(index), cg_now_ns(), UInt32(Self.timeLimitMs), file) }
            let status = cg_lua_pcall(stack.L, 1, 1)
            if let slot { cg_slot_leave(slot) }
            cg_lua_set_memory_enforced(stack.L, 0)
            var result: HostClassification?
            if status == LUA_OK {
                result = read(at: stack.top, on: stack, host: host, warnings: &warnings)
            } else {
                failures += 1
                var message = stack.popString()
                if let killed = cg_run_killed(run) { message = String(cString: killed) }
                if failures <= 3 { warnings.append("host classification of \(host.address): \(message)") }
            }
            stack.top = rules
            report(index, result, warnings)
        }
    }

    /// The host as the rules see it: plain tables of strings, numbers and booleans.
    func push(_ host: HostResult, on stack: LuaStack) {
        let L = stack.L
        lua_createtable(L, 0, 12)
        let table = stack.top
        stack.push(host.address)
        stack.setField(table, "address")
        stack.push(host.address.contains(":") ? "ipv6" : "ipv4")
        stack.setField(table, "family")
        if let ttl = host.ttl {
            stack.push(ttl)
            stack.setField(table, "ttl")
        }
        if let hops = host.hops {
            stack.push(hops)
            stack.setField(table, "hops")
        }
        pushList(host.forwards ?? [], on: stack)
        stack.setField(table, "forwards")
        pushList(host.hostnames.map(\.name), on: stack)
        stack.setField(table, "hostnames")
        pushList(host.discovery, on: stack)
        stack.setField(table, "discovery")
        lua_createtable(L, Int32(host.services.count), 0)
        let services = stack.top
        for (index, service) in host.services.enumerated() {
            lua_createtable(L, 0, 10)
            let entry = stack.top
            stack.push(Int(service.port))
            stack.setField(entry, "port")
            stack.push(service.protocol.rawValue)
            stack.setField(entry, "protocol")
            for (key, value) in [("name", service.name), ("product", service.product), ("version", service.version),
                                 ("extra_info", service.extraInfo), ("device_type", service.deviceType),
                                 ("method", service.method)] {
                if let value {
                    stack.push(value)
                    stack.setField(entry, key)
                }
            }
            stack.push(service.tls == true)
            stack.setField(entry, "tls")
            pushList(service.os ?? [], on: stack)
            stack.setField(entry, "os")
            pushList(service.cpe ?? [], on: stack)
            stack.setField(entry, "cpe")
            lua_rawseti(L, services, lua_Integer(index + 1))
        }
        stack.setField(table, "services")
    }

    func pushList(_ items: [String], on stack: LuaStack) {
        lua_createtable(stack.L, Int32(items.count), 0)
        let list = stack.top
        for (index, item) in items.enumerated() {
            stack.push(item)
            lua_rawseti(stack.L, list, lua_Integer(index + 1))
        }
    }

    /// Reads `{device_type = {type, confidence, evidence}, os = {name, confidence, evidence}}`.
    func read(at index: Int32, on stack: LuaStack, host: HostResult, warnings: inout [String]) -> HostClassification? {
        guard cg_lua_istable(stack.L, index) != 0 else {
            warnings.append("host classification: \(file) returned a \(stack.typeName(at: index)) for \(host.address), not a table")
            return nil
        }
        var result = HostClassification()
        if stack.rawField(index, "device_type") == LUA_TTABLE {
            let device = stack.top
            if let name = stack.stringField(device, "type") {
                guard let type = DeviceType(rawValue: name) else {
                    warnings.append("host classification: \(file) gave \(host.address) the device type \"\(name)\", which is not one of \(DeviceType.allCases.map(\.rawValue).joined(separator: ", "))")
                    stack.pop()
                    return nil
                }
                result.deviceType = type
            }
            result.deviceTypeConfidence = confidence(stack, device)
            result.deviceTypeEvidence = stack.stringListField(device, "evidence") ?? []
        }
        stack.pop()
        if stack.rawField(index, "os") == LUA_TTABLE {
            let os = stack.top
            result.os = stack.stringField(os, "name")
            result.osConfidence = confidence(stack, os)
            result.osEvidence = stack.stringListField(os, "evidence") ?? []
        }
        stack.pop()
        return result
    }

    func confidence(_ stack: LuaStack, _ table: Int32) -> Int {
        _ = stack.rawField(table, "confidence")
        defer { stack.pop() }
        var isNumber: Int32 = 0
        let value = cg_lua_tonumber(stack.L, -1, &isNumber)
        return isNumber != 0 && value.isFinite ? Int(max(0, min(100, value.rounded()))) : 0
    }
}
