/*
 * ctl_balance.c - the balancer over the control socket (ctl_balance.h).
 */
#include "ctl_balance.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "log.h"
#include "queue_attach.h"

static json_t *report_json(const struct sc_balancer_report *r)
{
    json_t *cores = json_array(), *moves = json_array();
    for (unsigned i = 0; cores && i < r->ncores; i++)
        json_array_append_new(cores, json_pack("{s:s, s:f, s:f}", "name", r->core[i], "load",
                                               r->load[i], "estimate", r->estimate[i]));
    for (unsigned i = 0; moves && i < r->nmoves; i++) {
        const struct sc_balancer_move *m = &r->moves[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:f, s:f, s:f}", "queue", m->queue, "from",
                              m->from, "to", m->to, "load", m->load, "from_after",
                              m->from_after, "to_after", m->to_after);
        if (o && m->result < 0)
            json_object_set_new(o, "error", json_string(strerror(-m->result)));
        json_array_append_new(moves, o);
    }
    return json_pack("{s:f, s:o*, s:o*}", "interval_ms", (double)r->interval_ns / 1e6, "cores",
                     cores, "moves", moves);
}

json_t *sc_ctl_rebalance(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    struct sc_daemon *d = ctx;
    json_t *dry = params ? json_object_get(params, "dry_run") : NULL;
    if (dry && !json_is_boolean(dry)) {
        sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "dry_run must be true or false");
        return NULL;
    }
    bool dry_run = dry && json_is_true(dry);
    struct sc_balancer_report r;
    int ret = sc_balancer_rebalance(d->balancer, dry_run, &r);
    if (ret == -EOPNOTSUPP) {
        sc_ctl_error_set(err, SC_CTL_UNSUPPORTED,
                         "nothing to rebalance: queues move between poll-mode sidecores, and "
                         "this daemon runs %s (start it with --mode poll --cores 2 or more)",
                         d->cfg.mode == SC_MODE_POLL ? "one sidecore" : "in event mode");
        return NULL;
    }
    if (ret == -EAGAIN) {
        sc_ctl_error_set(err, SC_CTL_FAILED,
                         "no load measured yet: try again after one interval (%llu ms)",
                         (unsigned long long)d->cfg.rebalance_interval_ms);
        return NULL;
    }
    if (ret < 0) {
        sc_ctl_error_set(err, SC_CTL_FAILED, "rebalance: %s", strerror(-ret));
        return NULL;
    }
    json_t *o = report_json(&r);
    if (o)
        json_object_set_new(o, "dry_run", json_boolean(dry_run));
    if (!o)
        sc_ctl_error_set(err, SC_CTL_INTERNAL_ERROR, "out of memory");
    return o;
}

struct find_core {
    const char *name;
    struct sc_core *core;
};

static int match_core(struct sc_core *core, void *arg)
{
    struct find_core *f = arg;
    if (strcmp(sc_core_name(core), f->name))
        return 0;
    f->core = core;
    return 1;
}

json_t *sc_ctl_move_queue(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    struct sc_daemon *d = ctx;
    const char *qname = NULL, *cname = NULL;
    if (!params || json_unpack(params, "{s:s, s:s}", "queue", &qname, "core", &cname) < 0) {
        sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS,
                         "move-queue needs {\"queue\": a queue's name, \"core\": a sidecore's}");
        return NULL;
    }
    struct find_core f = { .name = cname };
    sc_pool_foreach_core(d->pool, match_core, &f);
    struct sc_attach *a = sc_pool_attached(d->pool);
    while (a && strcmp(a->q->name, qname))
        a = a->pool_next;
    if (!a || !f.core) {
        sc_ctl_error_set(err, SC_CTL_NOT_FOUND, "no %s '%s' (sidecorectl %s lists them)",
                         a ? "sidecore" : "queue", a ? cname : qname, a ? "cores" : "queues");
        return NULL;
    }
    char from[SC_CORE_NAME_MAX];
    snprintf(from, sizeof(from), "%s", a->core ? sc_core_name(a->core) : "-");
    int ret = sc_move_queue(a, f.core);
    if (ret < 0) {
        sc_ctl_error_set(err, ret == -EOPNOTSUPP ? SC_CTL_UNSUPPORTED : SC_CTL_FAILED,
                         "%s: %s", qname,
                         ret == -EALREADY    ? "it is on that core already"
                         : ret == -EBUSY     ? "it is moving, detaching or not on a core"
                         : ret == -EOPNOTSUPP ? "event mode gives each queue a core of its own"
                                             : strerror(-ret));
        return NULL;
    }
    snprintf(a->q->placed, sizeof(a->q->placed), "asked: moved from %s to %s", from, cname);
    sc_log(SC_LOG_INFO, qname, "moving from %s to %s (asked)", from, cname);
    json_t *o = json_pack("{s:s, s:s, s:s}", "queue", qname, "from", from, "to", cname);
    if (!o)
        sc_ctl_error_set(err, SC_CTL_INTERNAL_ERROR, "out of memory");
    return o;
}

json_t *sc_ctl_balancer_json(struct sc_daemon *d)
{
    struct sc_balancer_params p;
    struct sc_balancer_stats st;
    struct sc_balancer_report last;
    sc_balancer_get_params(d->balancer, &p);
    sc_balancer_stats(d->balancer, &st);
    sc_balancer_last(d->balancer, &last);
    return json_pack("{s:b, s:I, s:f, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:I, s:o*}",
                     "enabled", p.enabled,
                     "interval_ms", (json_int_t)(p.interval_ns / 1000000u), "spread_pct",
                     100 * p.plan.spread, "intervals", (json_int_t)st.intervals, "rebalances",
                     (json_int_t)st.rebalances, "moves", (json_int_t)st.moves, "move_errors",
                     (json_int_t)st.move_errors, "active_cores", (int)st.active_cores,
                     "min_cores", (int)p.min_cores, "cores_added", (json_int_t)st.cores_added,
                     "cores_parked", (json_int_t)st.cores_parked, "last",
                     last.nmoves ? report_json(&last) : json_null());
}
