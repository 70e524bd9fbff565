import CLua
import CShims

/// Lua code run once in every probe state. It builds the probe API on top of one primitive:
/// `coroutine.yield(TOKEN, op, ...)`, which hands a socket request to the Swift scheduler and
/// resumes with its result. TOKEN is private to this chunk, so a probe cannot forge requests,
/// and the probe environment has no `coroutine`, so it cannot yield anything else.
enum Prelude {
    static let chunkName = "=prelude"

    /// Registry references to what the prelude returns.
    struct References {
        let token: Int32
        let makeEnv: Int32
        let passiveBanner: Int32
        let detectTLS: Int32
    }

    /// Runs the prelude in `stack`'s state and registers the shared probe libraries.
    static func install(in stack: LuaStack, libraries: [String: (file: String, text: String)]) throws(LuaError) -> References {
        cg_lua_push_regex(stack.L)
        lua_setglobal(stack.L, "__cg_regex")
        cg_lua_push_killed(stack.L)
        lua_setglobal(stack.L, "__cg_killed")
        try stack.run(source: source, chunkName: chunkName, results: 5)
        for (name, library) in libraries {
            lua_pushvalue(stack.L, -1)
            stack.push(name)
            stack.push(library.file)
            stack.push(library.text)
            guard cg_lua_pcall(stack.L, 3, 0) == LUA_OK else { throw LuaError(message: stack.popString()) }
        }
        stack.pop()   // register_library
        let registry = stack.registryIndex()
        let detectTLS = luaL_ref(stack.L, registry)
        let passiveBanner = luaL_ref(stack.L, registry)
        let makeEnv = luaL_ref(stack.L, registry)
        let token = luaL_ref(stack.L, registry)
        return References(token: token, makeEnv: makeEnv, passiveBanner: passiveBanner, detectTLS: detectTLS)
    }

    static let source = #"""
    local yield, pack, unpack, load = coroutine.yield, table.pack, table.unpack, load
    local regex, killed = __cg_regex, __cg_killed
    __cg_regex, __cg_killed, loadfile, dofile = nil, nil, nil, nil
    -- Strings share one metatable, whose __index is the string library: take dump out of it.
    local string_meta = getmetatable("")
    string.dump = nil
    local TOKEN = {}

    -- Socket methods live in a table no probe can reach: the metatable of every socket object
    -- hides itself (getmetatable gives "socket"), so one probe cannot rewrite another's methods.
    local Socket = {}
    local SocketMeta = { __index = Socket, __metatable = "socket" }

    local function addr(host) if type(host) == "table" then return host.address end return host end
    local function portnum(port) if type(port) == "table" then return port.number end return port end

    local socket = {}

    -- socket.connect(host, port [, {timeout = ms, protocol = "tcp"|"udp", tls = bool, sni = name,
    --   receive_limit = bytes}])
    --   -> sock | nil, err
    function socket.connect(host, port, options)
      options = options or {}
      local proto = options.protocol or (type(port) == "table" and port.protocol) or "tcp"
      local sni = options.sni or (type(host) == "table" and host.name) or nil
      local id, err = yield(TOKEN, "connect", tostring(addr(host)), math.tointeger(portnum(port)) or -1,
                            options.timeout, proto, options.tls and true or false, sni)
      if not id then return nil, err end
      local sock = setmetatable({ id = id, buffer = "" }, SocketMeta)
      if options.receive_limit then sock:set_receive_limit(options.receive_limit) end
      return sock
    end

    -- sock:set_receive_limit(bytes) -> the limit now in force: how much this socket may receive
    -- in all (1 MiB unless raised, at most 16 MiB); past it, receives return nil, err.
    function Socket:set_receive_limit(bytes)
      return yield(TOKEN, "limit", self.id, math.tointeger(bytes) or 0)
    end

    -- sock:follow_port() -> true | nil, err: for UDP, the next datagram may come from another port
    -- of the same host (TFTP answers from a new one, RFC 1350 4); the socket then talks to it.
    -- Call it before sending: sends still go to the port connected to until then.
    function Socket:follow_port()
      return yield(TOKEN, "follow", self.id)
    end

    -- sock:starttls([sni]) -> true | nil, err: a TLS handshake over the open connection.
    function Socket:starttls(sni)
      self.buffer = ""
      return yield(TOKEN, "starttls", self.id, sni)
    end

    -- sock:certificate() -> {subject, issuer, sans = {...}, not_before, not_after, sha256,
    --   version, cipher} for a TLS connection, nil otherwise.
    function Socket:certificate()
      return yield(TOKEN, "certificate", self.id)
    end

    -- sock:send(data) -> true | nil, err
    function Socket:send(data)
      return yield(TOKEN, "send", self.id, tostring(data))
    end

    -- Reads once more into the buffer; the deadline is shared by all reads of one call.
    local function fill(self, timeout, deadline)
      local data, err, newdeadline = yield(TOKEN, "recv", self.id, timeout, deadline)
      if not data then return nil, err, newdeadline end
      self.buffer = self.buffer .. data
      return true, nil, newdeadline
    end

    local function take(self, n)
      local out = self.buffer:sub(1, n)
      self.buffer = self.buffer:sub(n + 1)
      return out
    end

    -- sock:receive([timeout]) -> whatever arrives first (at least one byte) | nil, err
    function Socket:receive(timeout)
      if #self.buffer > 0 then return take(self, #self.buffer) end
      local ok, err = fill(self, timeout)
      if not ok then return nil, err end
      return take(self, #self.buffer)
    end

    -- sock:receive_bytes(n [, timeout]) -> exactly n bytes | nil, err, partial
    function Socket:receive_bytes(n, timeout)
      local deadline
      while #self.buffer < n do
        local ok, err
        ok, err, deadline = fill(self, timeout, deadline)
        if not ok then return nil, err, self.buffer end
      end
      return take(self, n)
    end

    -- sock:receive_until(pattern [, timeout]) -> data through the end of the first match of the
    -- Lua pattern | nil, err, partial
    function Socket:receive_until(pattern, timeout)
      local deadline
      while true do
        local _, finish = self.buffer:find(pattern)
        if finish then return take(self, finish) end
        local ok, err
        ok, err, deadline = fill(self, timeout, deadline)
        if not ok then return nil, err, self.buffer end
      end
    end

    -- sock:receive_line([timeout]) -> one line without its CR LF | nil, err, partial
    function Socket:receive_line(timeout)
      local line, err, partial = self:receive_until("\n", timeout)
      if not line then return nil, err, partial end
      return (line:gsub("\r?\n$", ""))
    end

    function Socket:close()
      if self.id then yield(TOKEN, "close", self.id) end
      self.id = nil
    end

    local function log(...)
      local parts = pack(...)
      for i = 1, parts.n do parts[i] = tostring(parts[i]):sub(1, 1024) end
      yield(TOKEN, "log", table.concat(parts, " ", 1, parts.n):sub(1, 1024))
    end

    local function sleep(ms) yield(TOKEN, "sleep", math.tointeger(ms) or 0) end

    local function copy(t) local c = {} for k, v in pairs(t) do c[k] = v end return c end
    local safe_string = copy(string)
    safe_string.dump = nil
    -- Methods of strings (("").upper) come from a table no probe can reach, and getmetatable("")
    -- gives false: no probe can change string methods for the others, or find string.dump.
    string_meta.__index = copy(safe_string)
    string_meta.__metatable = false

    -- Read-only views of the tables every run shares (the socket library, shared modules): a
    -- probe cannot change them for another, not even with rawset.
    local views, view_of = setmetatable({}, { __mode = "k" }), setmetatable({}, { __mode = "k" })
    local function readonly(t, what)
      if view_of[t] then return view_of[t] end
      local view = setmetatable({}, {
        __index = function(_, k)
          local v = t[k]
          if type(v) == "table" then return readonly(v, what) end
          return v
        end,
        __pairs = function()
          local k
          return function()
            local v
            k, v = next(t, k)
            if type(v) == "table" then v = readonly(v, what) end
            return k, v
          end
        end,
        __len = function() return #t end,
        __newindex = function() error(what .. " is read-only", 2) end,
        __metatable = false,
      })
      views[view], view_of[t] = true, view
      return view
    end
    local function safe_rawset(t, k, v)
      if views[t] then error("rawset: a shared table is read-only", 2) end
      return rawset(t, k, v)
    end
    local shared_socket = readonly(socket, "socket")

    -- Shared probe libraries (Probes/lib/NAME.lua), loaded on first require.
    local libraries, loaded = {}, {}
    local make_env

    local function register_library(name, path, source)
      libraries[name] = { path = path, source = source }
    end

    local function require_library(name)
      if loaded[name] ~= nil then return loaded[name] end
      local library = libraries[name]
      if not library then
        error("no probe library named \"" .. tostring(name) .. "\" (libraries live in Probes/lib/)", 2)
      end
      local chunk, err = load(library.source, "@" .. library.path, "t", make_env())
      if not chunk then error(err, 0) end
      local value = chunk()
      if type(value) == "table" then value = readonly(value, "library \"" .. name .. "\"") end
      loaded[name] = value == nil and true or value
      return loaded[name]
    end

    -- pcall and xpcall that never swallow a kill: a run that exhausted its budget or time stays
    -- stopped (the hook also raises again on the next instruction).
    local raw_pcall, raw_xpcall = pcall, xpcall
    local function rethrow(...)
      local reason = killed()
      if reason then error(reason, 0) end
      return ...
    end
    local function safe_pcall(f, ...) return rethrow(raw_pcall(f, ...)) end
    -- Lua runs a message handler for an error raised by the budget hook with hooks still off, so
    -- a looping handler would never be stopped: once killed, the probe's handler is not called.
    local function safe_xpcall(f, handler, ...)
      local function guarded(e)
        if killed() then return e end
        return handler(e)
      end
      return rethrow(raw_xpcall(f, guarded, ...))
    end

    -- setmetatable without finalizers: a __gc runs when the collector decides, outside any probe's
    -- limits. Lua 5.4 marks an object for finalization only if its metatable has the field when
    -- it is set, so checking at setmetatable is enough (and the probe has no other way to set a
    -- metatable: no debug library, no userdata, the string and socket metatables are hidden).
    local raw_setmetatable = setmetatable
    local function safe_setmetatable(t, mt)
      if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
        error("setmetatable: __gc finalizers are not allowed in probes", 2)
      end
      return raw_setmetatable(t, mt)
    end

    -- A fresh environment for one probe file: only pure libraries and the probe API.
    make_env = function()
      return {
        assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = safe_pcall,
        select = select, tonumber = tonumber, tostring = tostring, type = type, xpcall = safe_xpcall,
        setmetatable = safe_setmetatable, getmetatable = getmetatable, rawequal = rawequal,
        rawget = rawget, rawlen = rawlen, rawset = safe_rawset, _VERSION = _VERSION,
        string = copy(safe_string), table = copy(table), math = copy(math), utf8 = copy(utf8),
        socket = shared_socket, log = log, sleep = sleep, regex = copy(regex), require = require_library,
      }
    end

    -- The passive banner read of the identification pipeline: connect, wait for a service
    -- that speaks first, hand back what it said. Past a short silence (from the connect's round
    -- trip) the pipeline goes on as if the port were silent, while this read keeps listening up
    -- to `wait` for a late greeting.
    local function passive_banner(host, port, wait)
      local s = socket.connect(host, port, { timeout = wait })
      if not s then return nil end
      local silence = yield(TOKEN, "silence", s.id)
      local data, err = s:receive(silence)
      if not data and err == "timeout" and wait > silence then
        yield(TOKEN, "silent")
        data = s:receive(wait - silence)
      end
      s:close()
      return data
    end

    -- The TLS detection of the pipeline: a handshake, and the certificate if there is one.
    local function detect_tls(host, port, wait)
      local s = socket.connect(host, port, { timeout = wait, tls = true })
      if not s then return nil end
      local certificate = s:certificate()
      s:close()
      return certificate or {}
    end

    return TOKEN, make_env, passive_banner, detect_tls, register_library
    """#
}
