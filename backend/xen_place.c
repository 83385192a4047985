/*
 * xen_place.c - xen_place.h's choice of platform and the running of a
 * plan, the same on both.
 */
#include "xen_place.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sc_place_hv *sc_place_hv_open(char *why, size_t why_len)
{
    const char *sim = getenv("XENSIM_DIR");
    return sim && *sim ? sc_place_hv_sim_open(why, why_len) : sc_place_hv_xc_open(why, why_len);
}

void sc_place_hv_close(struct sc_place_hv *h)
{
    if (h)
        h->ops->close(h);
}

int sc_place_hv_read(struct sc_place_hv *h, unsigned domid, struct sc_place_world *w)
{
    memset(w, 0, sizeof(*w));
    w->domid = domid;
    return h->ops->read(h, w);
}

int sc_place_hv_apply(struct sc_place_hv *h, const struct sc_place_world *w,
                      const struct sc_place_req *r, const struct sc_place_plan *p,
                      void (*done)(const char *line, void *arg), void *arg, char *why,
                      size_t why_len)
{
    int created = -1;
    for (unsigned i = 0; i < p->nr_steps; i++) {
        const struct sc_place_step *s = &p->steps[i];
        int pool = s->pool < 0 ? created : s->pool;
        int ret;
        switch (s->op) {
        case SC_PLACE_CREATE_POOL:
            ret = h->ops->pool_create(h, r->pool, r->sched);
            if (ret >= 0)
                created = ret;
            break;
        case SC_PLACE_REMOVE_CPU:
        case SC_PLACE_ADD_CPU:
            ret = h->ops->pool_cpu(h, pool, s->cpu, s->op == SC_PLACE_ADD_CPU);
            break;
        case SC_PLACE_MOVE_DOMAIN:
            ret = h->ops->move_domain(h, pool, r->domid);
            break;
        case SC_PLACE_PIN:
            ret = h->ops->pin(h, r->domid, (unsigned)s->vcpu, s->cpu);
            break;
        default:
            ret = -EINVAL;
            break;
        }
        char line[128];
        sc_place_step_str(w, r, s, line, sizeof(line));
        if (ret < 0) {
            snprintf(why, why_len, "%s: %s%s", line, strerror(-ret),
                     i ? " (steps before it stay done; run place again once the cause is "
                         "fixed)"
                       : "");
            return ret;
        }
        if (done)
            done(line, arg);
    }
    return 0;
}
