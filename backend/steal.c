/*
 * steal.c - placement and steal of the sidecores' vCPUs, and the back-off
 * (steal.h).
 */
#include "steal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sidecore.h"

struct steal_core {
    const struct sc_core *core;  /* NULL: a free slot */
    struct sc_steal_view view;
    int sampled_vcpu;            /* the vCPU last_steal belongs to; -1 none */
    uint64_t last_steal, last_ns;
    unsigned above, below;       /* ticks in a row above backoff / below resume */
    bool want_backoff;           /* what the core was last told */
    bool cmd_busy;               /* cmd posted, not answered yet */
    struct sc_core_cmd cmd;
};

struct sc_steal {
    struct sc_xen *xen;
    struct sc_pool *pool;
    struct sc_steal_params p;
    uint64_t now_ns;
    struct steal_core cores[SC_POOL_MAX_CORES];
};

void sc_steal_params_default(struct sc_steal_params *p)
{
    p->backoff_pct = SC_STEAL_BACKOFF_PCT_DEFAULT;
    p->resume_pct = SC_STEAL_BACKOFF_PCT_DEFAULT / 2;
    p->hold = SC_STEAL_HOLD_DEFAULT;
}

struct sc_steal *sc_steal_create(struct sc_xen *x, struct sc_pool *pool,
                                 const struct sc_steal_params *p)
{
    if (!x || !pool || !p || p->hold == 0 || p->backoff_pct > 100 ||
        (p->backoff_pct && p->resume_pct >= p->backoff_pct)) {
        errno = EINVAL;
        return NULL;
    }
    struct sc_steal *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->xen = x;
    s->pool = pool;
    s->p = *p;
    return s;
}

void sc_steal_destroy(struct sc_steal *s)
{
    free(s);
}

static struct steal_core *slot_of(const struct sc_steal *s, const struct sc_core *core)
{
    for (unsigned i = 0; i < SC_POOL_MAX_CORES; i++)
        if (s->cores[i].core == core)
            return (struct steal_core *)&s->cores[i];
    return NULL;
}

static void backoff_answered(struct sc_core_cmd *cmd)
{
    struct steal_core *e = cmd->owner;
    e->cmd_busy = false;
}

/* Tells the core what e->want_backoff says, unless a command is still out
 * (the next tick tries again). */
static void tell(struct sc_steal *s, struct steal_core *e, struct sc_core *core)
{
    if (e->cmd_busy || e->view.backed_off == e->want_backoff)
        return;
    memset(&e->cmd, 0, sizeof(e->cmd));
    e->cmd.reply = sc_pool_reply_inbox(s->pool);
    e->cmd.done = backoff_answered;
    e->cmd.owner = e;
    e->cmd_busy = true;
    if (sc_core_post_backoff(core, &e->cmd, e->want_backoff) < 0) {
        e->cmd_busy = false;
        return;
    }
    e->view.backed_off = e->want_backoff;
    if (e->want_backoff) {
        e->view.backoffs++;
        sc_log(SC_LOG_WARN, sc_core_name(core),
               "vCPU %d: steal %.0f%% for %u ticks (its CPU is shared: %s): polling backs off "
               "(sleeps when idle) until steal is below %u%%", e->view.vcpu, e->view.steal_pct,
               s->p.hold,
               e->view.placed && e->view.place.pinned == 0 ? "not pinned" : "another vCPU runs there",
               s->p.resume_pct);
    } else {
        e->view.resumes++;
        sc_log(SC_LOG_INFO, sc_core_name(core), "vCPU %d: steal %.0f%% for %u ticks: polling again",
               e->view.vcpu, e->view.steal_pct, s->p.hold);
    }
}

static void decide(struct sc_steal *s, struct steal_core *e)
{
    double pct = e->view.steal_pct;
    if (pct < 0 || s->p.backoff_pct == 0)
        return;
    e->above = pct > s->p.backoff_pct ? e->above + 1 : 0;
    e->below = pct < s->p.resume_pct ? e->below + 1 : 0;
    if (!e->want_backoff && e->above >= s->p.hold)
        e->want_backoff = true;
    else if (e->want_backoff && e->below >= s->p.hold)
        e->want_backoff = false;
}

static int sample(struct sc_core *core, void *arg)
{
    struct sc_steal *s = arg;
    struct steal_core *e = slot_of(s, core);
    if (!e) {
        e = slot_of(s, NULL);
        if (!e)
            return 0;
        memset(e, 0, sizeof(*e));
        e->core = core;
        e->sampled_vcpu = -1;
        e->view.vcpu = -1;
        e->view.steal_pct = -1;
    }
    struct sc_core_stats st;
    sc_core_stats(core, &st);
    e->view.vcpu = st.cpu;
    e->view.steal_pct = -1;
    if (st.cpu < 0)
        return 0;
    struct sc_vcpu_place place;
    e->view.placed = sc_xen_vcpu_place(s->xen, (unsigned)st.cpu, &place) == 0;
    if (e->view.placed)
        e->view.place = place;
    if (e->view.placed && place.steal_ns != SC_STEAL_UNKNOWN) {
        if (e->sampled_vcpu == st.cpu && s->now_ns > e->last_ns && place.steal_ns >= e->last_steal) {
            double pct = 100.0 * (double)(place.steal_ns - e->last_steal) /
                         (double)(s->now_ns - e->last_ns);
            e->view.steal_pct = pct > 100.0 ? 100.0 : pct;
        }
        e->sampled_vcpu = st.cpu;
        e->last_steal = place.steal_ns;
        e->last_ns = s->now_ns;
    } else {
        e->sampled_vcpu = -1;
    }
    decide(s, e);
    tell(s, e, core);
    return 0;
}

void sc_steal_tick(struct sc_steal *s, uint64_t now_ns)
{
    if (!s || sc_pool_mode(s->pool) != SC_MODE_POLL || sc_pool_closing(s->pool))
        return;
    s->now_ns = now_ns;
    sc_pool_foreach_core(s->pool, sample, s);
}

int sc_steal_view(const struct sc_steal *s, const struct sc_core *core,
                  struct sc_steal_view *out)
{
    const struct steal_core *e = s ? slot_of(s, core) : NULL;
    if (!e)
        return -ENOENT;
    *out = e->view;
    return 0;
}
