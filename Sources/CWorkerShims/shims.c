#define _GNU_SOURCE
#include "CWorkerShims.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <lauxlib.h>

extern char **environ;

struct cg_slot {
    _Atomic uint64_t seq;           // odd while the child writes the fields below
    _Atomic uint64_t heartbeat_ns;
    int busy;
    int64_t job;
    uint64_t start_ns;
    uint32_t limit_ms;
    char what[256];
    char where[256];
};

uint64_t cg_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

cg_slot *cg_slot_create(int *fd) {
    int f = memfd_create("cartograph-slot", MFD_CLOEXEC);
    if (f < 0) return NULL;
    if (ftruncate(f, sizeof(struct cg_slot)) != 0) { close(f); return NULL; }
    void *p = mmap(NULL, sizeof(struct cg_slot), PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (p == MAP_FAILED) { close(f); return NULL; }
    *fd = f;
    return p;
}

cg_slot *cg_slot_map(int fd) {
    void *p = mmap(NULL, sizeof(struct cg_slot), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

void cg_slot_unmap(cg_slot *slot) { if (slot) munmap(slot, sizeof(struct cg_slot)); }

void cg_slot_beat(cg_slot *slot) { atomic_store(&slot->heartbeat_ns, cg_now_ns()); }

static void begin_write(cg_slot *s) { atomic_fetch_add(&s->seq, 1); atomic_thread_fence(memory_order_release); }
static void end_write(cg_slot *s) { atomic_thread_fence(memory_order_release); atomic_fetch_add(&s->seq, 1); }

void cg_slot_enter(cg_slot *s, int64_t job, uint64_t start_ns, uint32_t limit_ms, const char *what) {
    begin_write(s);
    s->busy = 1;
    s->job = job;
    s->start_ns = start_ns;
    s->limit_ms = limit_ms;
    snprintf(s->what, sizeof s->what, "%s", what ? what : "");
    s->where[0] = 0;
    end_write(s);
}

// Where `co` will go on from when resumed: the line it yielded at (a request, or a preemption
// in the middle of a loop), or, before its first resume, the line its function begins on.
static void resume_place(lua_State *co, char *out, size_t size) {
    lua_Debug ar;
    out[0] = 0;
    if (lua_status(co) == LUA_YIELD) {
        for (int level = 0; level < 8 && lua_getstack(co, level, &ar); level++) {
            // Frames of the shared prelude ("=prelude": socket calls) mean nothing to a probe's
            // author; the probe's own frame below them says where it waits.
            if (lua_getinfo(co, "Sl", &ar) && ar.currentline > 0 && ar.source[0] == '@') {
                snprintf(out, size, "%s:%d", ar.short_src, ar.currentline);
                return;
            }
        }
    } else if (lua_status(co) == LUA_OK && lua_gettop(co) > 0) {
        for (int index = 1; index <= lua_gettop(co); index++) {
            if (!lua_isfunction(co, index)) continue;
            lua_pushvalue(co, index);
            if (lua_getinfo(co, ">S", &ar) && ar.linedefined > 0 && ar.source[0] == '@') snprintf(out, size, "%s:%d", ar.short_src, ar.linedefined);
            return;
        }
    }
}

void cg_slot_enter_at(cg_slot *s, int64_t job, uint64_t start_ns, uint32_t limit_ms, const char *what, lua_State *co) {
    char place[256];
    resume_place(co, place, sizeof place);
    cg_slot_enter(s, job, start_ns, limit_ms, what);
    begin_write(s);
    memcpy(s->where, place, sizeof place);
    end_write(s);
}

void cg_slot_leave(cg_slot *s) {
    begin_write(s);
    s->busy = 0;
    end_write(s);
    atomic_store(&s->heartbeat_ns, cg_now_ns());
}

void cg_slot_read(cg_slot *s, cg_slot_view *out) {
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t before = atomic_load(&s->seq);
        if (before & 1) continue;
        atomic_thread_fence(memory_order_acquire);
        out->busy = s->busy;
        out->job = s->job;
        out->start_ns = s->start_ns;
        out->limit_ms = s->limit_ms;
        memcpy(out->what, s->what, sizeof out->what);
        memcpy(out->where, s->where, sizeof out->where);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load(&s->seq) == before) break;
    }
    out->what[sizeof out->what - 1] = 0;
    out->where[sizeof out->where - 1] = 0;
    out->heartbeat_ns = atomic_load(&s->heartbeat_ns);
}

pid_t cg_spawn_worker(const char *path, int in_fd, int out_fd, int slot_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, in_fd, 0);
    posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, slot_fd, 3);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {(char *)path, "probe-worker", NULL};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path, &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    return rc == 0 ? pid : -rc;
}

static void set_limit(int resource, rlim_t soft, rlim_t hard) {
    struct rlimit now;
    if (soft == 0 || getrlimit(resource, &now) != 0) return;
    if (now.rlim_max != RLIM_INFINITY && hard > now.rlim_max) hard = now.rlim_max;
    if (soft > hard) soft = hard;
    struct rlimit wanted = {soft, hard};
    setrlimit(resource, &wanted);
}

void cg_worker_limit(uint64_t address_space, uint64_t descriptors, uint64_t cpu_seconds) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died before the line above: then stdin is at EOF and the worker ends.
    // Never above a hard limit the parent already had: raising one fails, and then none holds.
    set_limit(RLIMIT_AS, address_space, address_space);
    set_limit(RLIMIT_NOFILE, descriptors, descriptors);
    set_limit(RLIMIT_CPU, cpu_seconds, cpu_seconds + 5);
    signal(SIGPIPE, SIG_IGN);
}

static int instrumented(lua_State *L) {
    cg_slot *s = lua_touserdata(L, lua_upvalueindex(2));
    lua_Debug ar;
    char before[256] = "";
    int placed = s && lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0;
    if (placed) {
        memcpy(before, s->where, sizeof before);
        before[sizeof before - 1] = 0;
        begin_write(s);
        snprintf(s->where, sizeof s->where, "%s:%d", ar.short_src, ar.currentline);
        end_write(s);
    }
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    int status = lua_pcall(L, n, LUA_MULTRET, 0);
    if (status != LUA_OK) {
        // The original's message names no place (its caller is this C function): add the probe's,
        // unless it has one already (an error raised in a gsub callback, say).
        if (status == LUA_ERRRUN && lua_type(L, -1) == LUA_TSTRING && lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
            const char *message = lua_tostring(L, -1);
            if (strncmp(message, ar.short_src, strlen(ar.short_src)) != 0) {
                lua_pushfstring(L, "%s:%d: %s", ar.short_src, ar.currentline, message);
                lua_remove(L, -2);
            }
        }
        return lua_error(L);
    }
    // Returned: the place is no longer where the step is, so a later overrun is not blamed on
    // it; the place from before the call (where the run was resumed) is the best known again.
    if (placed) {
        begin_write(s);
        memcpy(s->where, before, sizeof before);
        end_write(s);
    }
    return lua_gettop(L);
}

void cg_slot_instrument_libraries(lua_State *L, cg_slot *slot) {
    static const char *libraries[] = {"string", "table", "utf8", NULL};
    for (int i = 0; libraries[i]; i++) {
        if (lua_getglobal(L, libraries[i]) != LUA_TTABLE) { lua_pop(L, 1); continue; }
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            // Keys stay on the stack for lua_next; replacing the value of an existing key is allowed.
            if (lua_type(L, -2) == LUA_TSTRING && lua_iscfunction(L, -1)) {
                lua_pushlightuserdata(L, slot);
                lua_pushcclosure(L, instrumented, 2);
                lua_pushvalue(L, -2);
                lua_insert(L, -2);
                lua_rawset(L, -4);
            } else {
                lua_pop(L, 1);
            }
        }
        lua_pop(L, 1);
    }
}
