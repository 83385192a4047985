/*
 * grace.c - a grace period over a pool's sidecores (grace.h).
 */
#include <errno.h>
#include <string.h>

#include "grace.h"

static void grace_nothing(struct sc_core *core, void *arg)
{
    (void)core;
    (void)arg;
}

static void grace_answered(struct sc_core_cmd *cmd)
{
    struct sc_grace *g = cmd->owner;
    if (sc_pool_closing(cmd->arg))
        return; /* nothing runs once the pool is going (grace.h) */
    if (--g->pending == 0)
        g->done(g);
}

struct post_ctx {
    struct sc_grace *g;
    struct sc_pool *pool;
    unsigned n;
};

static int post_one(struct sc_core *core, void *arg)
{
    struct post_ctx *c = arg;
    if (c->n >= SC_POOL_MAX_CORES)
        return -ENOSPC;
    struct sc_core_cmd *cmd = &c->g->cmds[c->n];
    memset(cmd, 0, sizeof(*cmd));
    cmd->type = SC_CORE_CMD_CALL;
    cmd->fn = grace_nothing;
    cmd->arg = c->pool; /* for the answer; the no-op ignores it */
    cmd->reply = sc_pool_reply_inbox(c->pool);
    cmd->done = grace_answered;
    cmd->owner = c->g;
    c->g->pending++; /* before the post: the answer may be reaped later only */
    if (sc_core_post(core, cmd) < 0) {
        c->g->pending--;
        return 0; /* a core that takes no command runs no round either */
    }
    c->n++;
    return 0;
}

int sc_grace_start(struct sc_grace *g, struct sc_pool *pool)
{
    if (!g || !g->done || !pool)
        return -EINVAL;
    if (g->pending)
        return -EBUSY;
    struct post_ctx c = { .g = g, .pool = pool };
    g->pending = 1; /* held while posting */
    sc_pool_foreach_core(pool, post_one, &c);
    if (--g->pending == 0)
        g->done(g);
    return 0;
}
