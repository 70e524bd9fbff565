import Foundation
import CartographCore
import CLua
import CShims

/// What a probe file declares about itself; the loader checks every field.
public struct ProbeDefinition: Sendable, Hashable, Codable {
    public let name: String
    public let description: String
    public let categories: [String]
    /// Ports the probe is written for; it runs first on these.
    public let ports: [UInt16]
    public let proto: TransportProtocol
    /// 1 (tried early on ports it does not declare) to 9 (tried last); like nmap's rarity.
    public let rarity: Int
    /// The probe can run over TLS (it connects with `{tls = port.tls}`).
    public let tls: Bool
    /// The file it was loaded from, as given (relative paths stay relative).
    public let file: String
}

/// A probe file that could not be loaded, with `file:line` where Lua knows it.
public struct ProbeLoadError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let message: String
    public var description: String { message.hasPrefix(file) ? message : "\(file): \(message)" }
}

/// The probe files found in the probe directories, their source text, and their definitions.
///
/// Sources are read once; each probe worker compiles them again in its own Lua state.
public struct ProbeLibrary: Sendable {
    public private(set) var definitions: [ProbeDefinition] = []
    /// Files that failed to load; the others still run.
    public private(set) var errors: [ProbeLoadError] = []
    /// Notes that do not stop anything, e.g. a probe replaced by one of the same name.
    public private(set) var notices: [String] = []
    /// Probe directories and files any user may write: what runs in a map is then anyone's choice.
    public private(set) var warnings: [String] = []
    /// What every map run with this library carries in its report's warnings (and so in the
    /// store), once: the writable directories and files, then the files that failed to load.
    public var mapWarnings: [String] { warnings + errors.map(\.description) }
    var sources: [String: (file: String, text: String)] = [:]
    /// Shared libraries from `lib/` beside the probes, by name, for `require`.
    public private(set) var libraries: [String: (file: String, text: String)] = [:]
    /// The host classification rules, `classify/host.lua` of the last directory that has one.
    public var classifier: (file: String, text: String)?

    public init() {}

    /// Loads every `*.lua` file of each directory, in order; a later probe of the same name
    /// replaces an earlier one. An unreadable directory is an error the caller reports as fatal.
    public static func load(directories: [String]) throws(ProbeLoadError) -> ProbeLibrary {
        var files: [(path: String, text: String)] = []
        var libraries: [(path: String, text: String)] = []
        for directory in directories {
            for path in try ProbeFiles.list(directory: directory) {
                files.append((path, try ProbeFiles.read(path)))
            }
            let lib = (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/lib"
            if ProbeFiles.isDirectory(lib) {
                for path in try ProbeFiles.list(directory: lib) {
                    libraries.append((path, try ProbeFiles.read(path)))
                }
            }
        }
        var library = load(files: files, libraries: libraries)
        for directory in directories {
            let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
            for path in [base, base + "/lib", base + "/classify"] + files.map(\.path) + libraries.map(\.path)
            where path == base || path.hasPrefix(base + "/") {
                guard ProbeFiles.isWorldWritable(path) else { continue }
                let what = ProbeFiles.isDirectory(path) ? "probe directory" : "probe file"
                library.warnings.append("\(what) \(path) is writable by every user, who can change what runs in a map (chmod o-w \(path))")
            }
        }
        for directory in directories {
            let rules = (directory.hasSuffix("/") ? String(directory.dropLast()) : directory) + "/classify/host.lua"
            if FileManager.default.fileExists(atPath: rules) { library.classifier = (rules, try ProbeFiles.read(rules)) }
        }
        return library
    }

    /// Loads probes from already-read sources (used by `load(directories:)` and by tests).
    public static func load(files: [(path: String, text: String)],
                            libraries: [(path: String, text: String)] = []) -> ProbeLibrary {
        var library = ProbeLibrary()
        for (path, text) in libraries {
            let name = String(path.split(separator: "/").last ?? "").replacingOccurrences(of: ".lua", with: "")
            library.libraries[name] = (path, text)
        }
        let checker: ProbeChecker
        do {
            checker = try ProbeChecker(libraries: library.libraries)
        } catch {
            library.errors.append(ProbeLoadError(file: "prelude", message: error.message))
            return library
        }
        for (path, text) in files {
            switch checker.check(path: path, text: text) {
            case .success(let definition):
                if let index = library.definitions.firstIndex(where: { $0.name == definition.name }) {
                    library.notices.append("probe \"\(definition.name)\" from \(path) replaces the one from \(library.definitions[index].file)")
                    library.definitions.remove(at: index)
                }
                library.definitions.append(definition)
                library.sources[definition.name] = (path, text)
            case .failure(let error):
                library.errors.append(error)
            }
        }
        library.definitions.sort { $0.name < $1.name }
        return library
    }

    /// Every word a probe list may hold: probe names, categories, and `all`.
    public var selectableNames: [String] {
        Array(Set(definitions.map(\.name)).union(definitions.flatMap(\.categories)).union(["all"])).sorted()
    }

    /// The first name of a probe list that no probe or category has, and a line saying so:
    /// `no probe or category named "htpp" (did you mean "http"?)`; nil when all are known.
    public func unknownName(in names: [String]) -> (name: String, message: String)? {
        let known = selectableNames
        guard let unknown = names.first(where: { !known.contains($0) }) else { return nil }
        let hint = Suggestion.nearest(unknown, in: suggestionOrder).map { " (did you mean \"\($0)\"?)" } ?? ""
        return (unknown, "no probe or category named \"\(unknown)\"\(hint)")
    }

    /// Probe names, commonest first (by rarity, then name), then the categories and `all`: the
    /// order in which equally close names are suggested for a typo ("htpp" is one letter from
    /// both `http` and `htcp`, and far more likely meant `http`).
    public var suggestionOrder: [String] {
        let probes = probeNamesByCommonness
        return probes + Set(definitions.flatMap(\.categories)).union(["all"]).subtracting(probes).sorted()
    }

    /// Probe names, commonest first: by rarity, then name.
    public var probeNamesByCommonness: [String] {
        definitions.sorted { ($0.rarity, $0.name) < ($1.rarity, $1.name) }.map(\.name)
    }

    public func definition(named name: String) -> ProbeDefinition? {
        definitions.first { $0.name == name }
    }

    /// The probes a profile selects: `include` and `exclude` name probes or categories; `all`
    /// matches every probe. Unknown names are returned so the caller can report them.
    public func select(include: [String], exclude: [String]) -> (probes: [ProbeDefinition], unknown: [String]) {
        let known = Set(selectableNames)
        let unknown = (include + exclude).filter { !known.contains($0) }
        func matches(_ probe: ProbeDefinition, _ words: [String]) -> Bool {
            words.contains { $0 == "all" || $0 == probe.name || probe.categories.contains($0) }
        }
        let chosen = definitions.filter { matches($0, include) && !matches($0, exclude) }
        return (chosen, unknown)
    }
}

/// Compiles probe files in a scratch Lua state to validate them and read their declarations.
final class ProbeChecker {
    let lua: LuaState
    let makeEnvRef: Int32

    init(libraries: [String: (file: String, text: String)]) throws(LuaError) {
        lua = try LuaState(memoryLimit: 64 << 20)
        makeEnvRef = try Prelude.install(in: lua.main, libraries: libraries).makeEnv
    }

    func check(path: String, text: String) -> Result<ProbeDefinition, ProbeLoadError> {
        let stack = lua.main
        let base = stack.top
        defer { stack.top = base }
        do {
            try ProbeCompiler.compile(stack, path: path, text: text, makeEnvRef: makeEnvRef)
        } catch {
            return .failure(ProbeLoadError(file: path, message: error.message))
        }
        return ProbeCompiler.declaration(stack, at: -1, path: path)
    }
}

/// Compiling and reading a probe file, shared by the checker and the workers.
enum ProbeCompiler {
    /// Budget for a probe file's top-level code, which only builds its declaration table.
    static let loadBudget = 10_000_000

    /// Loads `text` as a chunk named after `path`, gives it a fresh sandbox environment, runs it
    /// under an instruction budget and the memory limit, and leaves its returned table on top.
    static func compile(_ stack: LuaStack, path: String, text: String, makeEnvRef: Int32) throws(LuaError) {
        try load(stack, path: path, text: text, makeEnvRef: makeEnvRef)
        try runLoaded(stack, path: path)
        guard lua_type(stack.L, -1) == LUA_TTABLE else {
            let kind = stack.typeName(at: -1)
            stack.pop()
            throw LuaError(message: "\(path): the file must return a probe table, it returned \(kind)")
        }
    }

    /// Loads `text` as a chunk named after `path` with a fresh sandbox environment, and leaves
    /// the chunk (not yet run) on top.
    static func load(_ stack: LuaStack, path: String, text: String, makeEnvRef: Int32) throws(LuaError) {
        var bytes = Array(text.utf8)
        bytes.append(0)
        let status = bytes.withUnsafeBufferPointer { buffer in
            cg_lua_loadtext(stack.L, UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self),
                            buffer.count - 1, "@" + path)
        }
        guard status == LUA_OK else { throw LuaError(message: stack.popString()) }
        lua_rawgeti(stack.L, stack.registryIndex(), lua_Integer(makeEnvRef))
        guard cg_lua_pcall(stack.L, 0, 1) == LUA_OK else { throw LuaError(message: stack.popString()) }
        _ = lua_setupvalue(stack.L, -2, 1)   // the chunk's only upvalue is _ENV
    }

    /// Runs the loaded chunk on top under the load budget and the memory limit, leaving its one
    /// result on top.
    static func runLoaded(_ stack: LuaStack, path: String) throws(LuaError) {
        let run = cg_run_begin(stack.L, loadBudget, 0, 0, 0)
        defer { cg_run_end(stack.L, run) }
        cg_lua_set_memory_enforced(stack.L, 1)
        let result = cg_lua_pcall(stack.L, 0, 1)
        cg_lua_set_memory_enforced(stack.L, 0)
        guard result == LUA_OK else {
            var message = stack.popString()
            if let killed = cg_run_killed(run) { message = String(cString: killed) }
            throw LuaError(message: result == LUA_ERRMEM ? "\(path): memory limit exceeded while loading" : message)
        }
    }

    /// Reads and checks the declaration table at `index`.
    static func declaration(_ stack: LuaStack, at index: Int32, path: String) -> Result<ProbeDefinition, ProbeLoadError> {
        func failure(_ message: String) -> Result<ProbeDefinition, ProbeLoadError> {
            .failure(ProbeLoadError(file: path, message: message))
        }
        let table = lua_absindex(stack.L, index)
        let allowed: Set<String> = ["name", "description", "categories", "ports", "protocol", "rarity", "tls", "run"]
        lua_pushnil(stack.L)
        while lua_next(stack.L, table) != 0 {
            let key = lua_type(stack.L, -2) == LUA_TSTRING ? stack.string(at: -2) : nil
            stack.pop()
            guard let key, allowed.contains(key) else {
                stack.pop()
                let name = key ?? "(a non-string key)"
                return failure("unknown field \"\(name)\" (fields: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
        guard let name = stack.stringField(table, "name"), !name.isEmpty,
              name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            return failure("field \"name\" must be a lowercase name (letters, digits, '-', '_')")
        }
        guard let description = stack.stringField(table, "description"), !description.isEmpty else {
            return failure("field \"description\" must be a one-line text")
        }
        guard let categories = stack.stringListField(table, "categories"), !categories.isEmpty else {
            return failure("field \"categories\" must be a list of words, e.g. {\"default\", \"safe\"}")
        }
        var ports: [UInt16] = []
        let portsKind = stack.rawField(table, "ports")
        if portsKind == LUA_TTABLE {
            var i: lua_Integer = 1
            while lua_rawgeti(stack.L, -1, i) != LUA_TNIL {
                guard let port = stack.integer(at: -1), (1...65535).contains(port) else {
                    stack.pop(2)
                    return failure("field \"ports\" must list port numbers from 1 to 65535")
                }
                ports.append(UInt16(port))
                stack.pop()
                i += 1
            }
        } else if portsKind != LUA_TNIL {
            stack.pop()
            return failure("field \"ports\" must be a list of port numbers")
        }
        stack.pop()
        let protoName = stack.stringField(table, "protocol") ?? "tcp"
        guard let proto = TransportProtocol(rawValue: protoName) else {
            return failure("field \"protocol\" must be \"tcp\" or \"udp\", not \"\(protoName)\"")
        }
        var rarity = 5
        if stack.rawField(table, "rarity") != LUA_TNIL {
            guard let value = stack.integer(at: -1), (1...9).contains(value) else {
                stack.pop()
                return failure("field \"rarity\" must be a whole number from 1 to 9")
            }
            rarity = value
        }
        stack.pop()
        let tlsKind = stack.rawField(table, "tls")
        let tls = lua_toboolean(stack.L, -1) != 0
        stack.pop()
        guard tlsKind == LUA_TNIL || tlsKind == LUA_TBOOLEAN else { return failure("field \"tls\" must be true or false") }
        let runKind = stack.rawField(table, "run")
        stack.pop()
        guard runKind == LUA_TFUNCTION else { return failure("field \"run\" must be a function(host, port, args)") }
        return .success(ProbeDefinition(name: name, description: description, categories: categories,
                                        ports: ports, proto: proto, rarity: rarity, tls: tls, file: path))
    }
}

extension ProbeLibrary {
    /// A library made again from its parts, in a probe worker process (`ProbeWorkerProcess`).
    init(sources: [String: (file: String, text: String)], libraries: [String: (file: String, text: String)],
         classifier: (file: String, text: String)?) {
        self.init()
        self.sources = sources
        self.libraries = libraries
        self.classifier = classifier
    }
}
