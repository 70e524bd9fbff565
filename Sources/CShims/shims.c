#include "CShims.h"
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static cg_run **cg_run_slot(lua_State *L) { return (cg_run **)lua_getextraspace(L); }

enum { CG_HOOK_STEP = 1000 };
// How long a run may compute past its slice where it cannot be preempted (see cg_budget_hook).
#define CG_STRETCH_NS (200ull * 1000000ull)
// The largest single block a run may allocate: a string or a table's array. Past it, building
// the block (string.rep, a concatenation that doubles) would hold the worker in one long copy
// that nothing can pause; a probe never needs one (receives are capped at 16 MiB).
#define CG_BLOCK_MAX ((size_t)32 << 20)
enum { CG_ALIVE = 0, CG_KILLED = 1, CG_OUT_OF_MEMORY = 2 };

struct cg_run {
    intptr_t budget;
    uint64_t deadline_ns;
    int timeout_ms;
    int killed;
    char reason[400];
    lua_State *L;
    // Memory: bytes of the live blocks this run allocated (garbage included until collected),
    // its cap, how many blocks, and whether the last allocation it asked for was refused.
    size_t used;
    size_t limit;
    size_t blocks;
    int refused;
    size_t big_block;   // the size of a block refused for being over CG_BLOCK_MAX, if one was
    int ended;
    // Preemption: past slice_end_ns (0: none) the hook yields the coroutine, so a run that
    // computes without waiting on I/O lets the worker's other runs have their turn.
    uint64_t slice_end_ns;
    int preempted;
};

// Every block starts with a header naming the run that allocated it, so that what one probe
// allocates counts against that probe alone, and frees go back to the right account even after
// the run has ended (a run's record lives until its last block is freed).
typedef struct {
    cg_run *owner;
    size_t size;
} cg_header;

typedef struct {
    cg_run state;       // blocks allocated outside any run: the prelude, Swift's pushes
    cg_run *current;    // the run whose code (or whose requests) the worker is serving
    size_t total;
    int enforced;
} cg_alloc_record;

static void cg_run_release(cg_run *run, cg_alloc_record *record) {
    if (run != &record->state && run->ended && run->blocks == 0) free(run);
}

static void cg_budget_hook(lua_State *L, lua_Debug *ar);

static void cg_big_block_text(const cg_run *run, char *out, size_t size) {
    snprintf(out, size, "an allocation of %zu MiB, more than the %zu MiB one string or table may take",
             (run->big_block + (1 << 20) - 1) >> 20, CG_BLOCK_MAX >> 20);
}

int cg_run_big_block(const cg_run *run, char *out, size_t size) {
    if (!run || !run->big_block) return 0;
    cg_big_block_text(run, out, size);
    return 1;
}

static void *cg_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    (void)osize;
    cg_alloc_record *record = ud;
    cg_header *header = ptr ? (cg_header *)ptr - 1 : NULL;
    cg_run *owner = header ? header->owner : NULL;
    size_t old = header ? header->size : 0;
    if (nsize == 0) {
        if (header) {
            owner->used -= old;
            owner->blocks--;
            record->total -= old;
            free(header);
            cg_run_release(owner, record);
        }
        return NULL;
    }
    cg_run *run = record->current ? record->current : &record->state;
    if (record->enforced && run != &record->state && nsize > CG_BLOCK_MAX && nsize > old) {
        if (!run->killed && run->L) {
            run->killed = CG_OUT_OF_MEMORY;
            run->big_block = nsize;
            lua_sethook(run->L, cg_budget_hook, LUA_MASKCOUNT, 1);
        }
        run->refused = 1;
        return NULL;
    }
    if (record->enforced && run->limit && nsize > old) {
        size_t after = run->used + nsize - (owner == run ? old : 0);
        if (after > run->limit) {
            // Lua collects garbage and asks once more; a second refusal in a row is final.
            if (run->refused && run != &record->state && !run->killed && run->L) {
                run->killed = CG_OUT_OF_MEMORY;
                lua_sethook(run->L, cg_budget_hook, LUA_MASKCOUNT, 1);
            }
            run->refused = 1;
            return NULL;
        }
    }
    cg_header *block = realloc(header, sizeof(cg_header) + nsize);
    if (!block) return NULL;
    if (owner) {
        owner->used -= old;
        owner->blocks--;
    }
    record->total = record->total - old + nsize;
    block->owner = run;
    block->size = nsize;
    run->used += nsize;
    run->blocks++;
    run->refused = 0;
    if (owner && owner != run) cg_run_release(owner, record);
    return block + 1;
}

static cg_alloc_record *cg_record(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

lua_State *cg_lua_newstate(size_t limit) {
    cg_alloc_record *record = calloc(1, sizeof *record);
    if (!record) return NULL;
    record->state.limit = limit;
    lua_State *L = lua_newstate(cg_alloc, record);
    if (!L) { free(record); return NULL; }
    // Threads copy the main thread's extra space: no run until one begins.
    *cg_run_slot(L) = NULL;
    return L;
}

void cg_lua_close(lua_State *L) {
    cg_alloc_record *record = cg_record(L);
    lua_close(L);
    free(record);
}

size_t cg_lua_memory_used(lua_State *L) { return cg_record(L)->total; }

void cg_lua_set_memory_enforced(lua_State *L, int enforced) {
    cg_alloc_record *record = cg_record(L);
    record->enforced = enforced;
    if (enforced) record->state.refused = 0;
}

void cg_lua_set_owner(lua_State *L, cg_run *run) { cg_record(L)->current = run; }

int cg_run_out_of_memory(const cg_run *run) { return run && (run->killed == CG_OUT_OF_MEMORY || run->refused); }

static uint64_t cg_now_ns(void) {
    struct timespec spec;
    clock_gettime(CLOCK_MONOTONIC, &spec);
    return (uint64_t)spec.tv_sec * 1000000000u + (uint64_t)spec.tv_nsec;
}

// "file:line" of the innermost function loaded from a file (chunk names starting with '@').
static int cg_where(lua_State *L, char *buffer, size_t size) {
    lua_Debug ar;
    for (int level = 0; level < 32 && lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar)) continue;
        if (ar.source && ar.source[0] == '@' && ar.currentline > 0) {
            snprintf(buffer, size, "%s:%d", ar.short_src, ar.currentline);
            return 1;
        }
    }
    return 0;
}

static void cg_run_kill(lua_State *L, cg_run *run, const char *what) {
    char where[300] = "probe";
    cg_where(L, where, sizeof where);
    snprintf(run->reason, sizeof run->reason, "%s: %s", where, what);
    if (!run->killed) run->killed = CG_KILLED;
}

// Every CG_HOOK_STEP instructions: spend budget and check the clock. Once the run is killed the
// hook fires on every instruction and raises the same error again, so a pcall, an xpcall or an
// error handler that swallows the first error gets no further than its next instruction.
static void cg_budget_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    cg_run *run = *cg_run_slot(L);
    if (!run) return;
    if (run->killed == CG_OUT_OF_MEMORY && !run->reason[0]) {
        char what[128];
        if (run->big_block) cg_big_block_text(run, what, sizeof what);
        else snprintf(what, sizeof what, "memory limit of %zu MiB exceeded", run->limit >> 20);
        cg_run_kill(L, run, what);
    } else if (!run->killed) {
        run->budget -= CG_HOOK_STEP;
        if (run->budget <= 0) {
            cg_run_kill(L, run, "instruction budget exhausted (the probe computed too long without waiting on I/O)");
        } else if (run->deadline_ns && cg_now_ns() >= run->deadline_ns) {
            char what[64];
            snprintf(what, sizeof what, "timed out after %d ms", run->timeout_ms);
            cg_run_kill(L, run, what);
        } else if (!run->slice_end_ns) {
            return;
        } else {
            uint64_t now = cg_now_ns();
            if (now < run->slice_end_ns) return;
            if (lua_isyieldable(L)) {
                run->slice_end_ns = 0;
                run->preempted = 1;
                lua_yield(L, 0);   // from a count hook: the coroutine yields once the hook returns
                return;
            }
            // Inside a call that cannot pause (a string.gsub callback, a table.sort comparison,
            // a metamethod called from C): the worker's other steps wait on it, so it may run on
            // only so long past its slice.
            if (now < run->slice_end_ns + CG_STRETCH_NS) return;
            cg_run_kill(L, run, "computed for more than 200 ms inside one call that cannot pause (a string.gsub callback, a table.sort comparison or a metamethod)");
        }
        lua_sethook(L, cg_budget_hook, LUA_MASKCOUNT, 1);
    }
    lua_pushstring(L, run->reason);
    lua_error(L);
}

cg_run *cg_run_begin(lua_State *L, intptr_t instructions, uint64_t deadline_ns, int timeout_ms, size_t memory_limit) {
    cg_run *run = calloc(1, sizeof *run);
    if (!run) return NULL;
    run->budget = instructions;
    run->deadline_ns = deadline_ns;
    run->timeout_ms = timeout_ms;
    run->limit = memory_limit;
    run->L = L;
    *cg_run_slot(L) = run;
    lua_sethook(L, cg_budget_hook, LUA_MASKCOUNT, CG_HOOK_STEP);
    return run;
}

void cg_run_extend(cg_run *run, uint64_t ns) {
    if (run && run->deadline_ns) run->deadline_ns += ns;
}

void cg_run_set_slice(cg_run *run, uint64_t slice_end_ns) {
    if (run) run->slice_end_ns = slice_end_ns;
}

int cg_run_take_preempted(cg_run *run) {
    if (!run || !run->preempted) return 0;
    run->preempted = 0;
    return 1;
}

void cg_run_end(lua_State *L, cg_run *run) {
    if (!run) return;
    if (*cg_run_slot(L) == run) *cg_run_slot(L) = NULL;
    lua_sethook(L, NULL, 0, 0);
    cg_alloc_record *record = cg_record(L);
    if (record->current == run) record->current = NULL;
    run->ended = 1;
    run->L = NULL;
    cg_run_release(run, record);
}

const char *cg_run_killed(const cg_run *run) { return run && run->killed && run->reason[0] ? run->reason : NULL; }

// Lua: __cg_killed() -> the kill reason of the running probe, or nil.
static int cg_killed_l(lua_State *L) {
    const char *reason = cg_run_killed(*cg_run_slot(L));
    if (reason) lua_pushstring(L, reason); else lua_pushnil(L);
    return 1;
}

void cg_lua_push_killed(lua_State *L) { lua_pushcfunction(L, cg_killed_l); }

void cg_lua_pop(lua_State *L, int n) { lua_pop(L, n); }
void cg_lua_newtable(lua_State *L) { lua_newtable(L); }
int cg_lua_pcall(lua_State *L, int nargs, int nresults) { return lua_pcall(L, nargs, nresults, 0); }
const char *cg_lua_tostring(lua_State *L, int index, size_t *length) { return lua_tolstring(L, index, length); }
lua_Integer cg_lua_tointeger(lua_State *L, int index, int *isnum) { return lua_tointegerx(L, index, isnum); }
lua_Number cg_lua_tonumber(lua_State *L, int index, int *isnum) { return lua_tonumberx(L, index, isnum); }
int cg_lua_isfunction(lua_State *L, int index) { return lua_isfunction(L, index); }
int cg_lua_istable(lua_State *L, int index) { return lua_istable(L, index); }
int cg_lua_isnil(lua_State *L, int index) { return lua_isnil(L, index); }
int cg_lua_registryindex(void) { return LUA_REGISTRYINDEX; }
void cg_lua_pushglobaltable(lua_State *L) { lua_pushglobaltable(L); }
lua_State *cg_lua_tothread(lua_State *L, int index) { return lua_tothread(L, index); }

int cg_lua_loadtext(lua_State *L, const char *buffer, size_t size, const char *chunkname) {
    return luaL_loadbufferx(L, buffer, size, chunkname, "t");
}

void cg_lua_open_safe_libs(lua_State *L) {
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},
        {LUA_COLIBNAME, luaopen_coroutine},
        {LUA_TABLIBNAME, luaopen_table},
        {LUA_STRLIBNAME, luaopen_string},
        {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},
        {NULL, NULL},
    };
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
}

void cg_lua_traceback(lua_State *L, lua_State *co, const char *msg) { luaL_traceback(L, co, msg, 0); }

int cg_lua_where(lua_State *co, char *buffer, size_t size) { return cg_where(co, buffer, size); }

int cg_lua_linedefined(lua_State *L, int index) {
    lua_Debug ar;
    lua_pushvalue(L, index);   // lua_getinfo ">" pops it
    if (!lua_getinfo(L, ">S", &ar)) return 0;
    return ar.linedefined > 0 ? ar.linedefined : 0;
}

// The probes' regex API: PCRE2 with bounded work. Patterns are compiled with automatic
// callouts, and the callout counts every step of the whole match (over all start positions,
// which PCRE2's own match limit counts one by one), so a catastrophic pattern such as (a+)+$ on
// a long subject ends with an error instead of holding the worker; the match and depth limits
// bound each start position as well.
enum { CG_REGEX_STEPS = 5000000, CG_REGEX_MATCH_LIMIT = 1000000, CG_REGEX_DEPTH_LIMIT = 10000 };

static int cg_regex_callout(pcre2_callout_block *block, void *data) {
    (void)block;
    long *steps = data;
    return ++*steps > CG_REGEX_STEPS ? PCRE2_ERROR_CALLOUT : 0;
}

// Runs one expression over argument 1; returns the number of ovector pairs set (> 0), 0 for no
// match (nil pushed), or -1 with nil and an error text pushed when a limit was hit. A bad expression raises
// a Lua error naming it. Pushes nothing else; *out gets the match data (caller frees).
static int cg_regex_exec(lua_State *L, pcre2_match_data **out, pcre2_code **code_out) {
    size_t length, pattern_length;
    const char *subject = luaL_checklstring(L, 1, &length);
    const char *pattern = luaL_checklstring(L, 2, &pattern_length);
    const char *flags = luaL_optstring(L, 3, "");
    uint32_t options = PCRE2_AUTO_CALLOUT;
    if (strchr(flags, 'i')) options |= PCRE2_CASELESS;
    if (strchr(flags, 'm')) options |= PCRE2_MULTILINE;
    if (strchr(flags, 's')) options |= PCRE2_DOTALL;
    int error;
    PCRE2_SIZE offset;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, pattern_length, options, &error, &offset, NULL);
    if (!code) {
        PCRE2_UCHAR message[200];
        pcre2_get_error_message(error, message, sizeof message);
        return luaL_error(L, "regex \"%s\": %s at offset %d", pattern, (const char *)message, (int)offset);
    }
    pcre2_match_data *match = pcre2_match_data_create_from_pattern(code, NULL);
    pcre2_match_context *context = pcre2_match_context_create(NULL);
    long steps = 0;
    int rc = PCRE2_ERROR_NOMEMORY;
    if (match && context) {
        pcre2_set_match_limit(context, CG_REGEX_MATCH_LIMIT);
        pcre2_set_depth_limit(context, CG_REGEX_DEPTH_LIMIT);
        pcre2_set_callout(context, cg_regex_callout, &steps);
        rc = pcre2_match(code, (PCRE2_SPTR)subject, length, 0, 0, match, context);
    }
    pcre2_match_context_free(context);
    *out = match;
    *code_out = code;
    if (rc == PCRE2_ERROR_NOMATCH) { lua_pushnil(L); return 0; }
    if (rc < 0) {
        lua_pushnil(L);
        if (rc == PCRE2_ERROR_CALLOUT || rc == PCRE2_ERROR_MATCHLIMIT) {
            lua_pushstring(L, "regex: match limit reached (the expression backtracks too much on this subject)");
        } else if (rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT) {
            lua_pushstring(L, "regex: depth limit reached");
        } else {
            PCRE2_UCHAR message[200];
            pcre2_get_error_message(rc, message, sizeof message);
            lua_pushfstring(L, "regex: %s", (const char *)message);
        }
        return -1;
    }
    return rc == 0 ? (int)pcre2_get_ovector_count(match) : rc;
}

static void cg_regex_free(pcre2_match_data *match, pcre2_code *code) {
    pcre2_match_data_free(match);
    pcre2_code_free(code);
}

// What match and find return without a match: nil, or nil and the limit's error text.
static int cg_regex_miss(int filled, pcre2_match_data *match, pcre2_code *code) {
    cg_regex_free(match, code);
    return filled == 0 ? 1 : 2;
}

static int cg_regex_match(lua_State *L) {
    pcre2_match_data *match = NULL;
    pcre2_code *code = NULL;
    int filled = cg_regex_exec(L, &match, &code);
    if (filled <= 0) return cg_regex_miss(filled, match, code);
    uint32_t groups = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups);
    PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
    const char *subject = lua_tostring(L, 1);
    int pushed = 0;
    if (groups == 0) {
        lua_pushlstring(L, subject + ovector[0], ovector[1] - ovector[0]);
        pushed = 1;
    } else {
        luaL_checkstack(L, (int)groups, "too many captures");
        for (uint32_t i = 1; i <= groups; i++, pushed++) {
            if ((int)i >= filled || ovector[2 * i] == PCRE2_UNSET) lua_pushnil(L);
            else lua_pushlstring(L, subject + ovector[2 * i], ovector[2 * i + 1] - ovector[2 * i]);
        }
    }
    cg_regex_free(match, code);
    return pushed;
}

static int cg_regex_find(lua_State *L) {
    pcre2_match_data *match = NULL;
    pcre2_code *code = NULL;
    int filled = cg_regex_exec(L, &match, &code);
    if (filled <= 0) return cg_regex_miss(filled, match, code);
    PCRE2_SIZE *ovector = pcre2_get_ovector_pointer(match);
    lua_pushinteger(L, (lua_Integer)ovector[0] + 1);
    lua_pushinteger(L, (lua_Integer)ovector[1]);
    cg_regex_free(match, code);
    return 2;
}

void cg_lua_push_regex(lua_State *L) {
    static const luaL_Reg functions[] = {{"match", cg_regex_match}, {"find", cg_regex_find}, {NULL, NULL}};
    luaL_newlib(L, functions);
}
