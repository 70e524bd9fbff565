#include "CShims.h"
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t used;
    size_t limit;
    int enforced;
    int limit_hit;
} cg_alloc_record;

static void *cg_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    cg_alloc_record *record = ud;
    // When ptr is NULL, osize encodes the kind of object, not a size.
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        record->used -= old;
        return NULL;
    }
    if (record->enforced && nsize > old && record->used - old + nsize > record->limit) {
        record->limit_hit = 1;
        return NULL;
    }
    void *block = realloc(ptr, nsize);
    if (block) record->used = record->used - old + nsize;
    return block;
}

static cg_alloc_record *cg_record(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

lua_State *cg_lua_newstate(size_t limit) {
    cg_alloc_record *record = calloc(1, sizeof *record);
    if (!record) return NULL;
    record->limit = limit;
    lua_State *L = lua_newstate(cg_alloc, record);
    if (!L) free(record);
    return L;
}

void cg_lua_close(lua_State *L) {
    cg_alloc_record *record = cg_record(L);
    lua_close(L);
    free(record);
}

size_t cg_lua_memory_used(lua_State *L) { return cg_record(L)->used; }

void cg_lua_set_memory_enforced(lua_State *L, int enforced) {
    cg_alloc_record *record = cg_record(L);
    record->enforced = enforced;
    if (enforced) record->limit_hit = 0;
}

int cg_lua_memory_limit_hit(lua_State *L) { return cg_record(L)->limit_hit; }

enum { CG_HOOK_STEP = 1000 };

static void cg_budget_hook(lua_State *L, lua_Debug *ar) {
    intptr_t *budget = (intptr_t *)lua_getextraspace(L);
    *budget -= CG_HOOK_STEP;
    if (*budget > 0) return;
    lua_getinfo(L, "Sl", ar);
    lua_pushfstring(L, "%s:%d: instruction budget exhausted (the probe computed too long without waiting on I/O)",
                    ar->short_src, ar->currentline);
    lua_error(L);
}

void cg_lua_set_budget(lua_State *co, intptr_t instructions) {
    *(intptr_t *)lua_getextraspace(co) = instructions;
    lua_sethook(co, cg_budget_hook, LUA_MASKCOUNT, CG_HOOK_STEP);
}

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

int cg_lua_where(lua_State *co, char *buffer, size_t size) {
    lua_Debug ar;
    for (int level = 0; level < 32 && lua_getstack(co, level, &ar); level++) {
        if (!lua_getinfo(co, "Sl", &ar)) continue;
        if (ar.source && ar.source[0] == '@' && ar.currentline > 0) {
            snprintf(buffer, size, "%s:%d", ar.short_src, ar.currentline);
            return 1;
        }
    }
    return 0;
}

enum { CG_REGEX_GROUPS = 16 };

// Compiles and runs one expression; returns the number of filled slots, 0 for no match, or
// raises a Lua error (after freeing the compiled expression) for a bad expression.
static int cg_regex_exec(lua_State *L, regmatch_t *slots) {
    size_t length;
    const char *subject = luaL_checklstring(L, 1, &length);
    const char *pattern = luaL_checkstring(L, 2);
    const char *flags = luaL_optstring(L, 3, "");
    regex_t compiled;
    int options = REG_EXTENDED | (strchr(flags, 'i') ? REG_ICASE : 0);
    int status = regcomp(&compiled, pattern, options);
    if (status != 0) {
        char message[200];
        regerror(status, &compiled, message, sizeof message);
        regfree(&compiled);
        return luaL_error(L, "regex \"%s\": %s", pattern, message);
    }
    slots[0].rm_so = 0;
    slots[0].rm_eo = (regoff_t)length;
    status = regexec(&compiled, subject, CG_REGEX_GROUPS, slots, REG_STARTEND);
    size_t groups = compiled.re_nsub;
    regfree(&compiled);
    return status == 0 ? (int)(groups + 1) : 0;
}

static int cg_regex_match(lua_State *L) {
    regmatch_t slots[CG_REGEX_GROUPS];
    int filled = cg_regex_exec(L, slots);
    if (filled == 0) { lua_pushnil(L); return 1; }
    const char *subject = lua_tostring(L, 1);
    if (filled == 1) {
        lua_pushlstring(L, subject + slots[0].rm_so, (size_t)(slots[0].rm_eo - slots[0].rm_so));
        return 1;
    }
    int pushed = 0;
    for (int i = 1; i < filled && i < CG_REGEX_GROUPS; i++, pushed++) {
        if (slots[i].rm_so < 0) lua_pushnil(L);
        else lua_pushlstring(L, subject + slots[i].rm_so, (size_t)(slots[i].rm_eo - slots[i].rm_so));
    }
    return pushed;
}

static int cg_regex_find(lua_State *L) {
    regmatch_t slots[CG_REGEX_GROUPS];
    if (cg_regex_exec(L, slots) == 0) { lua_pushnil(L); return 1; }
    lua_pushinteger(L, slots[0].rm_so + 1);
    lua_pushinteger(L, slots[0].rm_eo);
    return 2;
}

void cg_lua_push_regex(lua_State *L) {
    static const luaL_Reg functions[] = {{"match", cg_regex_match}, {"find", cg_regex_find}, {NULL, NULL}};
    luaL_newlib(L, functions);
}
