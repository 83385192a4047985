/*
 * sidecore_cmd.c - a sidecore's commands (sidecore.h): posting, running them
 * on the core thread, completing them, the synchronous wrappers, and the
 * tenant stats the core publishes for readers.
 *
 * Commands arrive through the core's inbox and run at the start of a round
 * (and before sleeping).  Each completes through sc_core_cmd_complete(), the
 * core's last touch of it; a REMOVE is parked on its queue (q->remove_cmd)
 * until the queue is idle, so any number of removals drain at once while
 * later commands run.
 *
 * Tenant stats: the scheduler is the core's alone, so readers get a copy
 * the core refreshes under pub_lock (every SC_CORE_PUBLISH_NS of its round
 * clock without waiting for the lock, and waiting for it before it sleeps
 * and when a command makes a tenant known).  A reader holds the lock for a
 * copy only, so the core's wait is bounded by that.
 */
#include "sidecore_int.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* ---- completions ---- */

void sc_completion_init(struct sc_completion *c)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    c->done = false;
}

void sc_completion_destroy(struct sc_completion *c)
{
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
}

/* The waiter may destroy c as soon as the unlock lets it see `done`, so
 * nothing touches c after the unlock. */
void sc_completion_signal(struct sc_completion *c)
{
    pthread_mutex_lock(&c->lock);
    c->done = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

bool sc_completion_wait(struct sc_completion *c, uint64_t deadline_ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(deadline_ns / 1000000000u),
        .tv_nsec = (long)(deadline_ns % 1000000000u),
    };
    pthread_mutex_lock(&c->lock);
    while (!c->done) {
        if (deadline_ns == UINT64_MAX)
            pthread_cond_wait(&c->cond, &c->lock);
        else if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT)
            break;
    }
    bool done = c->done;
    pthread_mutex_unlock(&c->lock);
    return done;
}

/* ---- tenant stats, published ---- */

static struct sc_tenant_pub *pub_find(struct sc_core *core, sc_tenant_t tenant)
{
    for (unsigned i = 0; i < core->npub; i++)
        if (core->pub[i].tenant == tenant)
            return &core->pub[i];
    return NULL;
}

/* Core thread: tenant has a tenant in the scheduler now; make it readable. */
void sc_core_note_tenant(struct sc_core *core, sc_tenant_t tenant)
{
    if (pub_find(core, tenant))
        return;
    pthread_mutex_lock(&core->pub_lock);
    if (core->npub == core->pub_cap) {
        unsigned cap = core->pub_cap ? core->pub_cap * 2 : 8;
        struct sc_tenant_pub *n = realloc(core->pub, cap * sizeof(*n));
        if (!n) {
            pthread_mutex_unlock(&core->pub_lock);
            sc_log_rl(SC_LOG_ERR, core->params.name, "no memory to publish tenant %#x", tenant);
            return;
        }
        core->pub = n;
        core->pub_cap = cap;
    }
    core->pub[core->npub++] = (struct sc_tenant_pub){ .tenant = tenant };
    pthread_mutex_unlock(&core->pub_lock);
}

/* Core thread.  wait=false: skip this time if a reader holds the lock (the
 * periodic publication never waits on a reader). */
void sc_core_publish_tenants(struct sc_core *core, bool wait)
{
    atomic_store_explicit(&core->stats.turn_shift, sc_sched_turn_shift(core->sched),
                          memory_order_relaxed);
    atomic_store_explicit(&core->stats.cpu, sched_getcpu(), memory_order_relaxed);
    if (!core->npub)
        return;
    if (wait)
        pthread_mutex_lock(&core->pub_lock);
    else if (pthread_mutex_trylock(&core->pub_lock) != 0)
        return;
    for (unsigned i = 0; i < core->npub; i++)
        sc_sched_tenant_stats(core->sched, core->pub[i].tenant, &core->pub[i].st);
    pthread_mutex_unlock(&core->pub_lock);
    core->published_ns = core->now_ns;
}

int sc_core_tenant_stats(struct sc_core *core, sc_tenant_t tenant,
                         struct sc_sched_tenant_stats *out)
{
    if (!core || !out)
        return -EINVAL;
    int ret = -ENOENT;
    pthread_mutex_lock(&core->pub_lock);
    for (unsigned i = 0; i < core->npub; i++) {
        if (core->pub[i].tenant == tenant) {
            *out = core->pub[i].st;
            ret = 0;
            break;
        }
    }
    pthread_mutex_unlock(&core->pub_lock);
    return ret;
}

/* ---- core thread: commands ---- */

/* The core's last touch of cmd. */
void sc_core_cmd_complete(struct sc_core_cmd *cmd, int result)
{
    struct sc_inbox *reply = cmd->reply;
    void (*done)(struct sc_core_cmd *) = cmd->done;
    cmd->result = result;
    if (reply)
        sc_inbox_push(reply, &cmd->msg);
    else if (done)
        done(cmd);
}

static void run_remove(struct sc_core *core, struct sc_core_cmd *cmd)
{
    struct sc_queue *q = cmd->q;
    /* q->core is the poster's claim; on this core only this thread clears it */
    if (q->core != core) {
        sc_core_cmd_complete(cmd, -ENOENT);
        return;
    }
    if (q->remove_cmd) {
        sc_core_cmd_complete(cmd, -EALREADY);
        return;
    }
    sc_core_begin_remove(core, q, cmd->quiesce_after_ns);
    q->moving = cmd->move;
    q->remove_cmd = cmd; /* completed by sc_core_finish_removals once idle */
}

static void run_command(struct sc_core *core, struct sc_core_cmd *cmd)
{
    sc_counter_add(&core->stats.commands, 1);
    switch (cmd->type) {
    case SC_CORE_CMD_ADD: {
        struct sc_queue *q = cmd->q;
        int ret = sc_core_add_now(core, q);
        if (ret < 0)
            q->core = NULL; /* the poster's claim, given back */
        sc_core_cmd_complete(cmd, ret);
        break;
    }
    case SC_CORE_CMD_REMOVE:
        run_remove(core, cmd);
        break;
    case SC_CORE_CMD_SET_TENANT: {
        int ret = sc_sched_tenant_set(core->sched, cmd->tenant, &cmd->conf);
        if (ret == 0) {
            sc_core_note_tenant(core, cmd->tenant);
            sc_core_publish_tenants(core, true);
        }
        sc_core_cmd_complete(cmd, ret);
        break;
    }
    case SC_CORE_CMD_CALL:
        cmd->fn(core, cmd->arg);
        sc_core_cmd_complete(cmd, 0);
        break;
    default: /* sc_core_post checked */
        sc_core_cmd_complete(cmd, -EINVAL);
        break;
    }
}

void sc_core_run_commands(struct sc_core *core)
{
    struct sc_inbox_msg *m = sc_inbox_take_all(&core->inbox);
    while (m) {
        struct sc_inbox_msg *next = sc_inbox_next(m);
        run_command(core, (struct sc_core_cmd *)((char *)m - offsetof(struct sc_core_cmd, msg)));
        m = next;
    }
}

/* The thread is leaving: whatever is still queued completes unrun. */
void sc_core_shutdown_inbox(struct sc_core *core)
{
    struct sc_inbox_msg *m = sc_inbox_take_all(&core->inbox);
    while (m) {
        struct sc_inbox_msg *next = sc_inbox_next(m);
        struct sc_core_cmd *cmd =
            (struct sc_core_cmd *)((char *)m - offsetof(struct sc_core_cmd, msg));
        if (cmd->type == SC_CORE_CMD_ADD)
            cmd->q->core = NULL;
        sc_core_cmd_complete(cmd, -ESHUTDOWN);
        m = next;
    }
}

/* ---- posting ---- */

int sc_core_post(struct sc_core *core, struct sc_core_cmd *cmd)
{
    if (!core || !cmd)
        return -EINVAL;
    switch (cmd->type) {
    case SC_CORE_CMD_ADD:
        if (!cmd->q || !cmd->q->ops || cmd->q->core || sc_queue_failed(cmd->q))
            return -EINVAL;
        cmd->q->core = core; /* claimed: the core gives it back if it refuses */
        break;
    case SC_CORE_CMD_REMOVE:
        if (!cmd->q)
            return -EINVAL;
        break;
    case SC_CORE_CMD_SET_TENANT:
        break;
    case SC_CORE_CMD_CALL:
        if (!cmd->fn)
            return -EINVAL;
        break;
    default:
        return -EINVAL;
    }
    cmd->result = 0;
    sc_inbox_push(&core->inbox, &cmd->msg);
    return 0;
}

unsigned sc_core_cmd_reap(struct sc_inbox *reply)
{
    unsigned n = 0;
    struct sc_inbox_msg *m = sc_inbox_take_all(reply);
    while (m) {
        struct sc_inbox_msg *next = sc_inbox_next(m);
        struct sc_core_cmd *cmd =
            (struct sc_core_cmd *)((char *)m - offsetof(struct sc_core_cmd, msg));
        if (cmd->done)
            cmd->done(cmd);
        n++;
        m = next;
    }
    return n;
}

/* ---- synchronous wrappers ---- */

static void sync_done(struct sc_core_cmd *cmd)
{
    sc_completion_signal(cmd->owner);
}

/* Posts cmd (without a reply inbox) and waits for it.  No shared lock is
 * held: the completion is this call's own. */
static int sync_call(struct sc_core *core, struct sc_core_cmd *cmd)
{
    struct sc_completion c;
    sc_completion_init(&c);
    cmd->reply = NULL;
    cmd->done = sync_done;
    cmd->owner = &c;
    int ret = sc_core_post(core, cmd);
    if (ret == 0) {
        sc_completion_wait(&c, UINT64_MAX);
        ret = cmd->result;
    }
    sc_completion_destroy(&c);
    return ret;
}

int sc_core_add_queue(struct sc_core *core, struct sc_queue *q)
{
    if (!core || !q)
        return -EINVAL;
    struct sc_core_cmd cmd = { .type = SC_CORE_CMD_ADD, .q = q };
    return sync_call(core, &cmd);
}

int sc_core_remove_queue(struct sc_core *core, struct sc_queue *q)
{
    if (!core || !q)
        return -EINVAL;
    struct sc_core_cmd cmd = { .type = SC_CORE_CMD_REMOVE, .q = q };
    return sync_call(core, &cmd);
}

int sc_core_set_tenant(struct sc_core *core, sc_tenant_t tenant,
                       const struct sc_sched_tenant_conf *conf)
{
    if (!core || !conf)
        return -EINVAL;
    struct sc_core_cmd cmd = { .type = SC_CORE_CMD_SET_TENANT, .tenant = tenant, .conf = *conf };
    return sync_call(core, &cmd);
}

/* The core's side of sc_core_post_backoff: arg is 1 (on) or 0 (off). */
static void set_backoff(struct sc_core *core, void *arg)
{
    core->steal_backoff = arg != NULL;
    atomic_store_explicit(&core->stats.steal_backoff, core->steal_backoff, memory_order_relaxed);
}

int sc_core_post_backoff(struct sc_core *core, struct sc_core_cmd *cmd, bool on)
{
    if (!cmd)
        return -EINVAL;
    cmd->type = SC_CORE_CMD_CALL;
    cmd->fn = set_backoff;
    cmd->arg = on ? (void *)1 : NULL;
    return sc_core_post(core, cmd);
}
