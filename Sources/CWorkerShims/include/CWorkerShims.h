#ifndef CG_WORKER_SHIMS_H
#define CG_WORKER_SHIMS_H

#include <stdint.h>
#include <sys/types.h>
#include <lua.h>

/// The step slot: one page of shared memory between the parent and one probe worker process.
/// The child writes which job's step it is running (and where in the probe a C call began);
/// the parent reads it to find a step that overran and, after a kill, whom to blame.
typedef struct cg_slot cg_slot;

typedef struct {
    int busy;
    int64_t job;
    uint64_t start_ns;
    uint32_t limit_ms;
    uint64_t heartbeat_ns;
    char what[256];
    char where[256];
} cg_slot_view;

/// CLOCK_MONOTONIC in nanoseconds, the clock of every field of the slot.
uint64_t cg_now_ns(void);
/// Parent: a fresh zeroed slot in a memfd; `*fd` is the descriptor the child gets.
cg_slot *cg_slot_create(int *fd);
/// Child: maps the slot passed as descriptor `fd`.
cg_slot *cg_slot_map(int fd);
void cg_slot_unmap(cg_slot *slot);
void cg_slot_beat(cg_slot *slot);
void cg_slot_enter(cg_slot *slot, int64_t job, uint64_t start_ns, uint32_t limit_ms, const char *what);
/// As `cg_slot_enter`, with `where` set to the place `co` goes on from: the line it yielded at,
/// or where its function begins before its first resume (so an overrun inside one call that no
/// instrumented library call marked still names a file:line).
void cg_slot_enter_at(cg_slot *slot, int64_t job, uint64_t start_ns, uint32_t limit_ms, const char *what, lua_State *co);
void cg_slot_leave(cg_slot *slot);
/// A consistent copy (seqlock), whatever the child is doing.
void cg_slot_read(cg_slot *slot, cg_slot_view *out);

/// posix_spawn of `path probe-worker` in its own process group (a terminal's Ctrl-C is for
/// the parent, which then ends its workers), stdin/stdout from the pipes, the slot as fd 3,
/// stderr to /dev/null. Returns the pid, or -errno.
pid_t cg_spawn_worker(const char *path, int in_fd, int out_fd, int slot_fd);
/// Child, first thing: rlimits, and death with the parent.
void cg_worker_limit(uint64_t address_space, uint64_t descriptors, uint64_t cpu_seconds);

/// Wraps every C function of `L`'s global string, table and utf8 tables so that each call
/// writes its caller's file:line into the slot while it runs: a pattern that backtracks, or a
/// string.rep or table.concat that builds hundreds of megabytes, inside that one call can then
/// be named by the parent. Call before the sandbox copies those tables.
void cg_slot_instrument_libraries(lua_State *L, cg_slot *slot);

#endif
