/*
 * queue_attach.c - attach and detach of a device's queue (queue_attach.h).
 *
 * The add and the removal are two commands of their own, so a detach may
 * be posted while the add is still on its way: a core runs one producer's
 * commands in the order posted, so the removal finds the queue added (or
 * refused: then it answers -ENOENT, which is fine).
 *
 * A group counts its members still on their way off, plus one while it
 * posts, so a member answered (or never attached) during the posting
 * cannot end the group before the last member is posted.
 */
#include "queue_attach.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* The pool's list of attached queues: its head lives in the pool. */
static void list_add(struct sc_attach *a)
{
    struct sc_attach **head = sc_pool_attached_head(a->pool);
    a->pool_prev = NULL;
    a->pool_next = *head;
    if (*head)
        (*head)->pool_prev = a;
    *head = a;
    a->listed = true;
}

static void list_del(struct sc_attach *a)
{
    if (!a->listed)
        return;
    if (a->pool_prev)
        a->pool_prev->pool_next = a->pool_next;
    else
        *sc_pool_attached_head(a->pool) = a->pool_next;
    if (a->pool_next)
        a->pool_next->pool_prev = a->pool_prev;
    a->pool_next = a->pool_prev = NULL;
    a->listed = false;
}

struct sc_attach *sc_pool_attached(struct sc_pool *pool)
{
    return pool ? *sc_pool_attached_head(pool) : NULL;
}

/* Unbinds the queue's ports from its core and gives the core back. */
static void leave_core(struct sc_attach *a)
{
    for (unsigned i = 0; i < a->nports; i++) {
        int rc = sc_evtchn_unbind(sc_core_evtchn(a->core), (evtchn_port_t)a->q->ports[i]);
        if (rc < 0)
            sc_log(SC_LOG_WARN, a->q->name, "unbinding port %d: %s", a->q->ports[i],
                   strerror(-rc));
        a->q->ports[i] = SC_QUEUE_NO_PORT;
    }
    a->nports = 0;
    sc_pool_release(a->pool, a->core);
    a->core = NULL;
}

static void release_all(struct sc_attach *a)
{
    leave_core(a);
    list_del(a);
}

static void group_put(struct sc_attach_group *g)
{
    if (--g->pending == 0)
        g->done(g); /* may free g */
}

/* The member is off its core: its owner's callback (which may free the
 * memory holding a), then its group's count. */
static void finish_detach(struct sc_attach *a)
{
    struct sc_attach_group *g = a->group;
    a->group = NULL;
    a->detached(a, 0);
    if (g)
        group_put(g);
}

static void add_done(struct sc_core_cmd *cmd)
{
    struct sc_attach *a = cmd->owner;
    if (sc_pool_closing(a->pool))
        return; /* shutting down: the device is no longer listening */
    if (cmd->result < 0)
        sc_log(SC_LOG_ERR, a->q->name, "%s refused the queue: %s", sc_core_name(a->core),
               strerror(-cmd->result));
    if (a->added && !a->remove_posted)
        a->added(a, cmd->result);
}

static void remove_done(struct sc_core_cmd *cmd)
{
    struct sc_attach *a = cmd->owner;
    if (cmd->result == -ETIMEDOUT || sc_pool_closing(a->pool)) {
        /* Abandoned with I/O in flight (a hung store at shutdown): the
         * kernel may still complete it into the queue's memory, so the
         * queue is never freed and its core is gone. */
        sc_log(SC_LOG_WARN, a->q->name, "left behind at shutdown (%s)",
               cmd->result == -ETIMEDOUT ? "I/O still in flight" : "daemon stopping");
        return;
    }
    if (cmd->result < 0 && cmd->result != -ENOENT)
        sc_log(SC_LOG_ERR, a->q->name, "removing it from %s: %s", sc_core_name(a->core),
               strerror(-cmd->result));
    release_all(a);
    a->remove_posted = false;
    finish_detach(a);
}

/* Binds the frontend's ports on core (acquired: a->core from here) and
 * posts the ADD.  0, or -errno: leave_core() undoes what was done. */
static int land(struct sc_attach *a, struct sc_core *core, void (*done)(struct sc_core_cmd *))
{
    a->core = core;
    for (unsigned i = 0; i < a->nremote; i++) {
        int port = sc_evtchn_bind_interdomain(sc_core_evtchn(core), a->q->domid, a->remote[i]);
        if (port < 0) {
            sc_log(SC_LOG_ERR, a->q->name, "binding event channel %u of domain %u: %s",
                   a->remote[i], a->q->domid, strerror(-port));
            return port;
        }
        a->q->ports[i] = port;
        a->nports++;
    }
    memset(&a->add_cmd, 0, sizeof(a->add_cmd));
    a->add_cmd.type = SC_CORE_CMD_ADD;
    a->add_cmd.q = a->q;
    a->add_cmd.reply = sc_pool_reply_inbox(a->pool);
    a->add_cmd.done = done;
    a->add_cmd.owner = a;
    return sc_core_post(core, &a->add_cmd);
}

int sc_attach_queue(struct sc_attach *a, struct sc_pool *pool, struct sc_queue *q,
                    const evtchn_port_t *remote, unsigned nremote)
{
    if (!a || !pool || !q || !a->detached || (nremote && !remote) || nremote > SC_QUEUE_MAX_PORTS ||
        sc_attach_busy(a))
        return -EINVAL;
    a->q = q;
    a->pool = pool;
    a->nports = 0;
    a->remove_posted = false;
    a->group = NULL;
    a->moving = a->detach_after_move = false;
    a->moves = a->moved_ns = 0;
    /* a new queue's counters start at 0 (a reconnect reuses a) */
    a->busy_seen_ns = a->requests_seen = a->bytes_seen = 0;
    a->nremote = nremote;
    for (unsigned i = 0; i < nremote; i++)
        a->remote[i] = remote[i];
    struct sc_core *core = sc_pool_acquire(pool, q->domid);
    if (!core)
        return -(errno ? errno : EIO);
    int rc = land(a, core, add_done);
    if (rc < 0) {
        leave_core(a);
        return rc;
    }
    snprintf(q->placed, sizeof(q->placed), "%s",
             sc_pool_mode(pool) == SC_MODE_EVENT ? "at connect: a core of its own"
                                                 : "at connect: the core with the fewest queues");
    list_add(a);
    return 0;
}

/* ---- moves ---- */

static void move_added(struct sc_core_cmd *cmd)
{
    struct sc_attach *a = cmd->owner;
    if (sc_pool_closing(a->pool))
        return;
    if (cmd->result < 0) {
        sc_log(SC_LOG_ERR, a->q->name, "%s refused the queue on a move: %s",
               sc_core_name(a->core), strerror(-cmd->result));
        if (a->added && !a->remove_posted)
            a->added(a, cmd->result);
    }
}

static void move_removed(struct sc_core_cmd *cmd)
{
    struct sc_attach *a = cmd->owner;
    if (sc_pool_closing(a->pool))
        return; /* as remove_done: the daemon is going */
    if (cmd->result < 0 && cmd->result != -ENOENT)
        sc_log(SC_LOG_ERR, a->q->name, "taking it off %s to move it: %s", sc_core_name(a->core),
               strerror(-cmd->result));
    const char *from = sc_core_name(a->core);
    char from_name[SC_CORE_NAME_MAX];
    snprintf(from_name, sizeof(from_name), "%s", from);
    leave_core(a);
    a->moving = false;
    if (a->detach_after_move) {
        a->detach_after_move = false;
        list_del(a);
        finish_detach(a);
        return;
    }
    struct sc_core *to = sc_pool_acquire_core(a->pool, a->move_to);
    int rc = to ? land(a, to, move_added) : -(errno ? errno : ENODEV);
    if (rc < 0) {
        if (a->core)
            leave_core(a);
        list_del(a);
        sc_log(SC_LOG_ERR, a->q->name, "cannot land on the core it was moved to: %s",
               strerror(-rc));
        if (a->added)
            a->added(a, rc); /* the device fails it, as a refused attach */
        return;
    }
    a->moves++;
    a->moved_ns = sc_clock_ns();
    sc_log(SC_LOG_INFO, a->q->name, "moved from %s to %s", from_name, sc_core_name(to));
}

int sc_move_queue(struct sc_attach *a, struct sc_core *to)
{
    if (!a || !to)
        return -EINVAL;
    if (!a->core || a->remove_posted || a->moving)
        return -EBUSY;
    if (sc_pool_mode(a->pool) == SC_MODE_EVENT)
        return -EOPNOTSUPP;
    if (a->core == to)
        return -EALREADY;
    memset(&a->remove_cmd, 0, sizeof(a->remove_cmd));
    a->remove_cmd.type = SC_CORE_CMD_REMOVE;
    a->remove_cmd.q = a->q;
    a->remove_cmd.quiesce_after_ns = SC_CORE_NEVER; /* drain: a move fails no request */
    a->remove_cmd.move = true;
    a->remove_cmd.reply = sc_pool_reply_inbox(a->pool);
    a->remove_cmd.done = move_removed;
    a->remove_cmd.owner = a;
    int rc = sc_core_post(a->core, &a->remove_cmd);
    if (rc < 0)
        return rc;
    a->moving = true;
    a->move_to = to;
    return 0;
}

static int detach(struct sc_attach *a, struct sc_attach_group *g)
{
    if (a->remove_posted || a->detach_after_move)
        return -EALREADY;
    a->group = g;
    if (a->moving) { /* off its old core soon: detached() from there */
        a->detach_after_move = true;
        return 0;
    }
    if (!a->core) { /* never attached, or the attach undid itself */
        finish_detach(a);
        return 0;
    }
    memset(&a->remove_cmd, 0, sizeof(a->remove_cmd));
    a->remove_cmd.type = SC_CORE_CMD_REMOVE;
    a->remove_cmd.q = a->q;
    a->remove_cmd.quiesce_after_ns = sc_pool_quiesce_after_ns(a->pool);
    a->remove_cmd.reply = sc_pool_reply_inbox(a->pool);
    a->remove_cmd.done = remove_done;
    a->remove_cmd.owner = a;
    int rc = sc_core_post(a->core, &a->remove_cmd);
    if (rc < 0) {
        a->group = NULL;
        return rc;
    }
    a->remove_posted = true;
    return 0;
}

int sc_detach_queue(struct sc_attach *a)
{
    return detach(a, NULL);
}

int sc_detach_group(struct sc_attach_group *g, struct sc_attach *const *members, unsigned n)
{
    if (!g || !g->done || (n && !members))
        return -EINVAL;
    if (g->pending)
        return -EALREADY;
    g->pending = 1; /* held while posting */
    for (unsigned i = 0; i < n; i++) {
        struct sc_attach *a = members[i];
        g->pending++;
        int rc = detach(a, g);
        if (rc < 0) {
            /* Only a member on a core fails, so it has its queue. */
            sc_log(SC_LOG_ERR, a->q->name, "taking it off its core: %s", strerror(-rc));
            g->pending--;
        }
    }
    if (--g->pending == 0) {
        g->done(g);
        return 0;
    }
    return 1;
}
