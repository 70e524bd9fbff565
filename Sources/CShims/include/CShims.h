#ifndef CARTOGRAPH_CSHIMS_H
#define CARTOGRAPH_CSHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

// Lua's C API is partly macros, which Swift cannot call, and errors in it longjmp, which must
// never cross a Swift frame. Every function here is either a macro made callable or a piece
// that has to raise Lua errors from C.

/// A state whose allocator counts bytes and refuses to grow past `limit` while enforced.
lua_State *cg_lua_newstate(size_t limit);
/// Closes the state and frees its allocator record.
void cg_lua_close(lua_State *L);
/// Bytes currently allocated by the state.
size_t cg_lua_memory_used(lua_State *L);
/// Enforce the memory limit only while probe code runs: Swift's own pushes must not fail,
/// because an allocation error outside a protected call would abort the process.
void cg_lua_set_memory_enforced(lua_State *L, int enforced);
/// Whether the last refused allocation came from the memory limit (not real exhaustion).
int cg_lua_memory_limit_hit(lua_State *L);

/// Gives coroutine `co` an instruction budget; when it is spent, the running probe gets an
/// error naming its file and line. Raised from a C hook, so no Swift frame is unwound.
void cg_lua_set_budget(lua_State *co, intptr_t instructions);

// Macros made callable.
void cg_lua_pop(lua_State *L, int n);
void cg_lua_newtable(lua_State *L);
int cg_lua_pcall(lua_State *L, int nargs, int nresults);
const char *cg_lua_tostring(lua_State *L, int index, size_t *length);
lua_Integer cg_lua_tointeger(lua_State *L, int index, int *isnum);
lua_Number cg_lua_tonumber(lua_State *L, int index, int *isnum);
int cg_lua_isfunction(lua_State *L, int index);
int cg_lua_istable(lua_State *L, int index);
int cg_lua_isnil(lua_State *L, int index);
int cg_lua_registryindex(void);
void cg_lua_pushglobaltable(lua_State *L);
lua_State *cg_lua_tothread(lua_State *L, int index);

/// Loads text (never bytecode) as a chunk named `chunkname` ("@path" gives "path:line" errors).
int cg_lua_loadtext(lua_State *L, const char *buffer, size_t size, const char *chunkname);
/// Opens only the libraries a probe may use: base, string, table, math, utf8, coroutine.
void cg_lua_open_safe_libs(lua_State *L);
/// Pushes a traceback of coroutine `co` under message `msg`.
void cg_lua_traceback(lua_State *L, lua_State *co, const char *msg);

/// Pushes the `regex` library: POSIX extended regular expressions, stronger than Lua patterns
/// (alternation, counted repetition, classes), binary-safe. `regex.match(s, re [, "i"])`
/// returns the captures (or the whole match) or nil; `regex.find(s, re [, "i"])` returns the
/// 1-based start and end or nil. A bad expression raises a Lua error naming it.
void cg_lua_push_regex(lua_State *L);

/// Writes "file:line" of the innermost function of coroutine `co` loaded from a file (chunk
/// names starting with '@'), skipping the prelude; returns 0 when there is none.
int cg_lua_where(lua_State *co, char *buffer, size_t size);

#endif
