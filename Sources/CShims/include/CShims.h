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

/// A state whose allocator counts bytes per owner; outside any run, it refuses to grow the
/// state's own share past `limit` while enforced.
lua_State *cg_lua_newstate(size_t limit);
/// Closes the state and frees its allocator record.
void cg_lua_close(lua_State *L);
/// Bytes currently allocated by the state.
size_t cg_lua_memory_used(lua_State *L);
/// Enforce the memory limit only while probe code runs: Swift's own pushes must not fail,
/// because an allocation error outside a protected call would abort the process.
void cg_lua_set_memory_enforced(lua_State *L, int enforced);

/// The limits of one run of probe code on one Lua thread: an instruction budget and a
/// monotonic deadline (0: none), enforced by a count hook that raises an error naming the
/// probe's file:line. A run once killed stays dead: the hook then raises the same error on every
/// instruction, so pcall, xpcall and error handlers cannot swallow it. Errors are raised from a
/// C hook, so no Swift frame is unwound.
typedef struct cg_run cg_run;
/// Starts a run on thread `L` (a probe's coroutine or a main state); NULL when out of memory.
cg_run *cg_run_begin(lua_State *L, intptr_t instructions, uint64_t deadline_ns, int timeout_ms, size_t memory_limit);
/// Makes `run` the owner of what the state allocates from now on (NULL: the state itself). Each
/// block carries its owner, so a run's memory cap (`memory_limit` of cg_run_begin, enforced
/// while cg_lua_set_memory_enforced is on) counts only that run's own live bytes.
void cg_lua_set_owner(lua_State *L, cg_run *run);
/// Whether the run was refused memory (its cap, not real exhaustion).
int cg_run_out_of_memory(const cg_run *run);
/// Ends the run: removes the hook and frees it.
void cg_run_end(lua_State *L, cg_run *run);
/// The reason the run was killed ("file:line: ..."), or NULL while it is alive.
const char *cg_run_killed(const cg_run *run);
/// Past `slice_end_ns` (monotonic; 0: never) the instruction hook yields the run's coroutine, so
/// one that computes without waiting on I/O cannot hold its worker's other runs; the yield is
/// told apart from a request by `cg_run_take_preempted`, which clears it.
void cg_run_set_slice(cg_run *run, uint64_t slice_end_ns);
/// Moves the run's deadline `ns` later (time it spent waiting for a connection slot).
void cg_run_extend(cg_run *run, uint64_t ns);
int cg_run_take_preempted(cg_run *run);
/// 1 (and what to say in `out`) when the run asked for one block over the largest a run may
/// allocate (32 MiB: a string or a table's array), else 0.
int cg_run_big_block(const cg_run *run, char *out, size_t size);
/// Pushes a Lua function returning the running thread's kill reason, or nil.
void cg_lua_push_killed(lua_State *L);

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

/// Pushes the `regex` library: PCRE2 (Perl-compatible) expressions, binary-safe, with bounded
/// work. `regex.match(s, re [, flags])` returns the captures (or the whole match) or nil;
/// `regex.find(s, re [, flags])` the 1-based start and end or nil; flags "i", "m", "s". A match
/// that reaches the step, match or depth limit returns nil and an error text; a bad expression
/// raises a Lua error naming it.
void cg_lua_push_regex(lua_State *L);

/// Writes "file:line" of the innermost function of coroutine `co` loaded from a file (chunk
/// names starting with '@'), skipping the prelude; returns 0 when there is none.
int cg_lua_where(lua_State *co, char *buffer, size_t size);

/// The line where the Lua function at `index` begins; 0 for a C function.
int cg_lua_linedefined(lua_State *L, int index);

#endif
