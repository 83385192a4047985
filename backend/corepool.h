/*
 * corepool.h - the daemon's sidecores and which one serves a new queue.
 *
 * Contract: the pool owns every struct sc_core of the daemon.  Poll mode:
 * a fixed set of cores (one per configured CPU), created at start; a new
 * queue goes to the least loaded one (fewest queues, ties broken by measured
 * busy time).  Event mode (the Linux in-kernel backends' model, for comparison): each queue
 * gets a core of its own, unpinned, with poll_idle_ns = 0, created on
 * acquire and destroyed on release — the same engine, no special case.
 * Fair-share settings of a guest are applied to every core (a guest's share
 * is per core it has queues on).
 * The pool never waits for a core: commands are posted, and their answers
 * come back through the pool's reply inbox, which the control thread
 * watches (sc_pool_reply_fd) and drains (sc_pool_reap): that is where the
 * `done` callbacks of sc_core_cmd run (queue_attach.h uses it).
 * Threads: control thread only.  Returns 0 or -errno; NULL + errno.
 */
#ifndef SC_COREPOOL_H
#define SC_COREPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "dirlimit.h"
#include "membudget.h"
#include "sidecore.h"

#define SC_POOL_MAX_CORES 64

enum sc_mode {
    SC_MODE_POLL = 0, /* sidecores poll many queues, notifications off while polling */
    SC_MODE_EVENT,    /* one thread per queue, woken by its event channel */
};
const char *sc_mode_str(enum sc_mode m);
/* "poll" / "event" -> mode.  0 or -EINVAL. */
int sc_mode_parse(const char *s, enum sc_mode *out);

struct sc_pool_params {
    enum sc_mode mode;
    unsigned ncores;                  /* poll mode: 1..SC_POOL_MAX_CORES */
    int cpus[SC_POOL_MAX_CORES];      /* poll mode: CPU of core i, or SC_CORE_NO_CPU */
    uint64_t poll_idle_ns;            /* poll mode (event mode forces 0) */
    bool poll_adaptive;               /* poll mode: sc_core_params.poll_adaptive */
    unsigned ncores_min;              /* poll mode: cores active at start (0: all;
                                       * balancer.h adds and parks the others) */
    uint32_t uring_entries;
    struct sc_sched_params sched;
    int attention_fd;                 /* given to every core (queue failures) */
    /* The memory budget (membudget.h) the device classes reserve their
     * queues in: mem_budget bytes, or (if mem_budget_pct) that percent of
     * the host's MemTotal, read at create (unlimited, with a warning, if
     * it cannot be); both 0: unlimited.  The cap per guest: 0 = none. */
    uint64_t mem_budget;
    unsigned mem_budget_pct;
    uint64_t guest_mem_max;
};

struct sc_pool;

struct sc_pool *sc_pool_create(struct sc_xen *x, const struct sc_pool_params *p);
/* Every queue must have been released first. NULL is a no-op. */
void sc_pool_destroy(struct sc_pool *pool);
/* The same, waiting at most timeout_ns for queues still on a core to
 * drain (a hung backing store): those are abandoned.  0 or -ETIMEDOUT. */
int sc_pool_destroy_within(struct sc_pool *pool, uint64_t timeout_ns);

/* How long a removed queue may drain before its core quiesces it (cancels
 * its in-flight I/O, failing those requests): SC_POOL_QUIESCE_AFTER_NS, or
 * SC_CORE_NEVER once sc_pool_begin_stop() was called (a daemon stopping
 * leaves unfinished requests unanswered for its successor, never failed). */
#define SC_POOL_QUIESCE_AFTER_NS (1000ull * 1000000ull)
uint64_t sc_pool_quiesce_after_ns(const struct sc_pool *pool);
void sc_pool_begin_stop(struct sc_pool *pool);
/* True once sc_pool_destroy* began: answers reaped then must touch no
 * core (they are gone) and no device (the bus is gone). */
bool sc_pool_closing(const struct sc_pool *pool);
/* Where the pool's posted commands are answered (sc_core_cmd.reply). */
struct sc_inbox *sc_pool_reply_inbox(struct sc_pool *pool);
/* Readable when answers wait; arm before sleeping on it (inbox.h). */
int sc_pool_reply_fd(struct sc_pool *pool);
/* Runs the done callbacks of the commands answered so far.  Their count. */
unsigned sc_pool_reap(struct sc_pool *pool);
enum sc_mode sc_pool_mode(const struct sc_pool *pool);

/* The core that will serve a new queue of guest `domid` (bind the queue's
 * port on sc_core_evtchn(core), then sc_core_add_queue).  NULL + errno. */
struct sc_core *sc_pool_acquire(struct sc_pool *pool, domid_t domid);
/* The same for a given core of the pool (a move's target, queue_attach.h).
 * NULL + errno: ENOENT (not the pool's), EOPNOTSUPP (event mode). */
struct sc_core *sc_pool_acquire_core(struct sc_pool *pool, struct sc_core *core);
/* Active cores take new queues (sc_pool_acquire); an inactive one takes
 * none and, once its queues are moved away, sleeps.  Poll mode.  0,
 * -ENOENT, -EOPNOTSUPP (event mode), -EBUSY (the last active core). */
int sc_pool_core_set_active(struct sc_pool *pool, struct sc_core *core, bool active);
bool sc_pool_core_active(const struct sc_pool *pool, const struct sc_core *core);
/* The head of the pool's list of attached queues (queue_attach.c's). */
struct sc_attach;
struct sc_attach **sc_pool_attached_head(struct sc_pool *pool);
/* The queue acquired on `core` was removed from it (sc_core_remove_queue
 * returned, port unbound).  Event mode destroys the core. */
void sc_pool_release(struct sc_pool *pool, struct sc_core *core);

/* The budget every queue's memory is reserved in (sc_pool_params.mem_budget). */
struct sc_membudget *sc_pool_membudget(struct sc_pool *pool);
/* What a queue costs beyond its own memory: in event mode its own core (a
 * thread's stack as touched, its io_uring's SQ and CQ: SC_POOL_CORE_MEM
 * plus the rings' bytes for uring_entries), in poll mode nothing (the cores
 * are made at start and serve every queue). */
#define SC_POOL_CORE_MEM (256u * 1024u)
uint64_t sc_pool_queue_overhead(const struct sc_pool *pool);

/* Applies fair-share settings of `tenant` (a guest's vbd or vif class:
 * tenant.h) to every core, present and future.
 * A limit or reservation is the guest's over all cores, each core given a
 * part of it (qos_split.h), re-divided by sc_pool_split_rates: in poll mode
 * among all cores, in event mode among its queues' own cores (a new one
 * starts with the whole and gets its part at the next split). */
int sc_pool_set_tenant(struct sc_pool *pool, sc_tenant_t tenant,
                       const struct sc_sched_tenant_conf *conf);
/* Guest domid's per-direction disk limits (dirlimit.h): the same object
 * for all its queues, valid until the pool is destroyed; unlimited until
 * set.  NULL on ENOMEM.  Control thread. */
struct sc_dir_limit *sc_pool_dir_limit(struct sc_pool *pool, domid_t domid);
/* Sets them (live: the queues' next takes see it).  0 or -ENOMEM. */
int sc_pool_set_dir_limits(struct sc_pool *pool, domid_t domid, const struct sc_dir_rates *r);
/* Every interval (the daemon: its views tick): each guest's rates
 * divided anew among the cores by where its service was since the last
 * call; only parts that changed by more than 5% are posted. */
void sc_pool_split_rates(struct sc_pool *pool);
/* Calls fn for each core; stops at and returns the first non-zero result. */
int sc_pool_foreach_core(struct sc_pool *pool, int (*fn)(struct sc_core *core, void *arg),
                         void *arg);

#endif
