import CLua
import CShims

/// An error raised by Lua code, with Lua's own message (which starts with `file:line:`).
public struct LuaError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

/// Owns one `lua_State` and frees it. Confined to the thread that created it: a `LuaState` is
/// never shared, and every call into Lua goes through `lua_pcall` or `lua_resume`, so a Lua
/// error never unwinds a Swift frame.
final class LuaState {
    let main: LuaStack
    let memoryLimit: Int

    init(memoryLimit: Int) throws(LuaError) {
        guard let state = cg_lua_newstate(memoryLimit) else { throw LuaError(message: "cannot create a Lua state") }
        main = LuaStack(L: state)
        self.memoryLimit = memoryLimit
        cg_lua_open_safe_libs(state)
    }

    deinit { cg_lua_close(main.L) }
}

/// Stack helpers for one Lua thread (the main state or a probe's coroutine). Reads of probe
/// tables are raw, so a probe's metamethods can never raise an error outside a protected call.
struct LuaStack {
    let L: OpaquePointer

    var top: Int32 {
        get { lua_gettop(L) }
        nonmutating set { lua_settop(L, newValue) }
    }

    func pop(_ count: Int32 = 1) { cg_lua_pop(L, count) }

    /// Loads and runs `source` under `lua_pcall`, leaving `results` values on the stack.
    func run(source: String, chunkName: String, results: Int32) throws(LuaError) {
        var bytes = Array(source.utf8)
        bytes.append(0)
        let status = bytes.withUnsafeBufferPointer { buffer in
            cg_lua_loadtext(L, UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                            buffer.count - 1, chunkName)
        }
        guard status == LUA_OK else { throw LuaError(message: popString()) }
        guard cg_lua_pcall(L, 0, results) == LUA_OK else { throw LuaError(message: popString()) }
    }

    /// Pops the value on top and returns it as text (a non-string error value is described).
    func popString() -> String {
        let text = string(at: -1) ?? "(a \(typeName(at: -1)) value)"
        pop()
        return text
    }

    func string(at index: Int32) -> String? {
        guard lua_type(L, index) == LUA_TSTRING || lua_type(L, index) == LUA_TNUMBER else { return nil }
        var length = 0
        guard let pointer = cg_lua_tostring(L, index, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    func bytes(at index: Int32) -> [UInt8]? {
        guard lua_type(L, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let pointer = cg_lua_tostring(L, index, &length) else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    func integer(at index: Int32) -> Int? {
        var isNumber: Int32 = 0
        let value = cg_lua_tointeger(L, index, &isNumber)
        return isNumber != 0 ? Int(value) : nil
    }

    func typeName(at index: Int32) -> String { String(cString: lua_typename(L, lua_type(L, index))) }

    func push(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBufferPointer { buffer in
            _ = lua_pushlstring(L, buffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, buffer.count)
        }
    }

    func push(bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            _ = lua_pushlstring(L, buffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, buffer.count)
        }
    }

    func push(_ value: Int) { lua_pushinteger(L, lua_Integer(value)) }
    func push(_ value: Bool) { lua_pushboolean(L, value ? 1 : 0) }
    func pushNil() { lua_pushnil(L) }

    /// Sets `table[key] = value on top` (the value is popped) without metamethods.
    func setField(_ table: Int32, _ key: String) {
        let absolute = lua_absindex(L, table)
        push(key)
        lua_rotate(L, -2, 1)
        lua_rawset(L, absolute)
    }

    /// Pushes `table[key]` without metamethods, which probe code could have set to raise errors.
    @discardableResult
    func rawField(_ table: Int32, _ key: String) -> Int32 {
        let absolute = lua_absindex(L, table)
        push(key)
        return lua_rawget(L, absolute)
    }

    /// Reads `table[key]` as a string field (numbers are converted); nil when absent.
    func stringField(_ table: Int32, _ key: String) -> String? {
        rawField(table, key)
        defer { pop() }
        return string(at: -1)
    }

    /// Reads `table[key]` as a list of strings (a lone string counts as a list of one).
    func stringListField(_ table: Int32, _ key: String) -> [String]? {
        let kind = rawField(table, key)
        defer { pop() }
        if kind == LUA_TSTRING { return [string(at: -1)!] }
        guard kind == LUA_TTABLE else { return nil }
        var result: [String] = []
        var index: lua_Integer = 1
        while lua_rawgeti(L, -1, index) != LUA_TNIL {
            if let text = string(at: -1) { result.append(text) }
            pop()
            index += 1
        }
        pop()
        return result
    }

    func registryIndex() -> Int32 { cg_lua_registryindex() }
}
