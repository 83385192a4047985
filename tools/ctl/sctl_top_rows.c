/*
 * sctl_top_rows.c - `sidecorectl top`'s arithmetic: two samples of the
 * daemon -> the rows of each view over the interval (sctl_top.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sctl.h"
#include "sctl_top.h"
#include "stats.h"

void sctl_top_sample_clear(struct sctl_top_sample *s)
{
    json_decref(s->cores);
    json_decref(s->queues);
    json_decref(s->guests);
    memset(s, 0, sizeof(*s));
}

void sctl_top_model_free(struct sctl_top_model *m)
{
    for (unsigned v = 0; v < SCTL_TOP__VIEWS; v++)
        free(m->rows[v]);
    memset(m, 0, sizeof(*m));
}

/* A counter's growth; all of it when there is no earlier value or it went
 * back (the queue began within the interval: sctl_top.h). */
static uint64_t grown(json_t *cur, json_t *prev, const char *key)
{
    uint64_t a = sctl_jint(cur, key);
    if (!prev)
        return a;
    uint64_t b = sctl_jint(prev, key);
    return a >= b ? a - b : a;
}

void sctl_top_hist_add_diff(struct sc_hist_snap *acc, json_t *lat, json_t *prev_lat)
{
    struct sc_hist_snap now, before;
    sctl_hist_from_json(lat, &now);
    if (prev_lat) {
        sctl_hist_from_json(prev_lat, &before);
        /* any bucket smaller than before: a reset, even if the count grew */
        bool reset = now.count < before.count;
        for (unsigned b = 0; b < SC_HIST_BUCKETS && !reset; b++)
            reset = now.bucket[b] < before.bucket[b];
        if (!reset)
            sc_hist_diff(&now, &before, &now);
    }
    for (unsigned b = 0; b < SC_HIST_BUCKETS; b++)
        acc->bucket[b] += now.bucket[b];
    acc->count += now.count;
    acc->sum_ns += now.sum_ns;
    if (now.max_ns > acc->max_ns)
        acc->max_ns = now.max_ns;
}

/* What a row gathers from its queues before it becomes rates. */
struct acc {
    uint64_t requests, bytes, kicks, notifies, errors, busy_ns;
    struct sc_hist_snap lat;
};

static void acc_add(struct acc *a, json_t *q, json_t *p)
{
    a->requests += grown(q, p, "requests");
    a->bytes += grown(q, p, "bytes");
    a->kicks += grown(q, p, "kicks");
    a->notifies += grown(q, p, "notifies");
    a->errors += grown(q, p, "errors");
    a->busy_ns += grown(q, p, "busy_ns");
    sctl_top_hist_add_diff(&a->lat, json_object_get(q, "latency"),
                           p ? json_object_get(p, "latency") : NULL);
}

/* The traffic part of a row; `load` too unless the row is a core's. */
static void acc_finish(const struct acc *a, struct sctl_top_row *r, double dt, bool load)
{
    r->iops = (double)a->requests / dt;
    r->bps = (double)a->bytes / dt;
    r->kicks = (double)a->kicks / dt;
    r->notifies = (double)a->notifies / dt;
    r->errors = (double)a->errors / dt;
    r->kick_per_req = a->requests ? (double)a->kicks / (double)a->requests : -1;
    r->notify_per_req = a->requests ? (double)a->notifies / (double)a->requests : -1;
    r->p50_ns = sc_hist_percentile(&a->lat, 50);
    r->p99_ns = sc_hist_percentile(&a->lat, 99);
    if (load)
        r->load = 100.0 * (double)a->busy_ns / (dt * 1e9);
}

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "-");
}

static long long jll(json_t *o, const char *key, long long dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : dflt;
}

/* The same guest and class in an earlier `guests` answer. */
static json_t *find_guest(json_t *arr, long long domid, const char *cls)
{
    json_t *g;
    size_t i;
    json_array_foreach(arr, i, g)
        if (jll(g, "domid", -1) == domid && strcmp(sctl_jstr(g, "class"), cls) == 0)
            return g;
    return NULL;
}

static void core_row(struct sctl_top_row *r, json_t *c, json_t *p, double dt)
{
    copy_str(r->id, sizeof(r->id), sctl_jstr(c, "name"));
    r->domid = -1;
    r->cpu = jll(c, "cpu", -1);
    r->queues = (unsigned)sctl_jint(c, "queues");
    uint64_t busy = grown(c, p, "busy_ns");
    uint64_t total = busy + grown(c, p, "idle_ns") + grown(c, p, "sleep_ns");
    r->load = total ? 100.0 * (double)busy / (double)total : 0;
    r->rounds = (double)grown(c, p, "rounds") / dt;
    r->wakeups = (double)grown(c, p, "wakeups") / dt;
    r->sleeps = (double)grown(c, p, "sleeps") / dt;
    r->window_ns = sctl_jint(c, "poll_window_ns");
}

static void guest_row(struct sctl_top_row *r, json_t *g, json_t *p, double dt)
{
    r->domid = jll(g, "domid", -1);
    r->cpu = -1;
    copy_str(r->cls, sizeof(r->cls), sctl_jstr(g, "class"));
    snprintf(r->id, sizeof(r->id), "%lld %s", r->domid, r->cls);
    r->queues = (unsigned)sctl_jint(g, "queues");
    r->weight = (unsigned)sctl_jint(g, "weight");
    r->throttled = (double)grown(json_object_get(g, "sched"),
                                 p ? json_object_get(p, "sched") : NULL, "throttled") / dt;
}

int sctl_top_model_build(struct sctl_top_model *m, const struct sctl_top_sample *prev,
                         const struct sctl_top_sample *cur)
{
    sctl_top_model_free(m);
    double dt = cur->t - prev->t;
    if (!(dt > 0) || !json_is_array(cur->cores) || !json_is_array(cur->queues) ||
        !json_is_array(cur->guests))
        return -EINVAL;
    size_t n[SCTL_TOP__VIEWS] = {
        [SCTL_TOP_CORES] = json_array_size(cur->cores),
        [SCTL_TOP_GUESTS] = json_array_size(cur->guests),
        [SCTL_TOP_QUEUES] = json_array_size(cur->queues),
    };
    struct acc *accs[SCTL_TOP__VIEWS] = { NULL }, *total = calloc(1, sizeof(*total));
    int ret = total ? 0 : -ENOMEM;
    for (unsigned v = 0; v < SCTL_TOP__VIEWS && !ret; v++) {
        m->rows[v] = calloc(n[v] ? n[v] : 1, sizeof(struct sctl_top_row));
        accs[v] = calloc(n[v] ? n[v] : 1, sizeof(struct acc));
        if (!m->rows[v] || !accs[v])
            ret = -ENOMEM;
        m->nrows[v] = (unsigned)n[v];
    }
    if (ret) {
        for (unsigned v = 0; v < SCTL_TOP__VIEWS; v++)
            free(accs[v]);
        free(total);
        sctl_top_model_free(m);
        return ret;
    }
    m->dt = dt;

    json_t *o;
    size_t i;
    json_array_foreach(cur->cores, i, o)
        core_row(&m->rows[SCTL_TOP_CORES][i], o, sctl_find_same(prev->cores, o, "name"), dt);
    /* a guest without a device of a class still has its row there: not here */
    unsigned ng = 0;
    json_array_foreach(cur->guests, i, o) {
        if (!sctl_jint(o, "devices") && !sctl_jint(o, "queues"))
            continue;
        json_t *p = find_guest(prev->guests, jll(o, "domid", -1), sctl_jstr(o, "class"));
        guest_row(&m->rows[SCTL_TOP_GUESTS][ng++], o, p, dt);
    }
    m->nrows[SCTL_TOP_GUESTS] = ng;
    json_array_foreach(cur->queues, i, o) {
        json_t *p = sctl_find_same(prev->queues, o, "name");
        struct sctl_top_row *r = &m->rows[SCTL_TOP_QUEUES][i];
        copy_str(r->id, sizeof(r->id), sctl_jstr(o, "name"));
        copy_str(r->core, sizeof(r->core), sctl_jstr(o, "core"));
        copy_str(r->cls, sizeof(r->cls), sctl_jstr(o, "class"));
        r->domid = jll(o, "domid", -1);
        r->cpu = -1;
        acc_add(&accs[SCTL_TOP_QUEUES][i], o, p);
        acc_add(total, o, p);
        /* its traffic counts for the core serving it now, and its guest */
        for (unsigned k = 0; k < m->nrows[SCTL_TOP_CORES]; k++)
            if (strcmp(m->rows[SCTL_TOP_CORES][k].id, r->core) == 0)
                acc_add(&accs[SCTL_TOP_CORES][k], o, p);
        for (unsigned k = 0; k < m->nrows[SCTL_TOP_GUESTS]; k++) {
            struct sctl_top_row *g = &m->rows[SCTL_TOP_GUESTS][k];
            if (g->domid == r->domid && strcmp(g->cls, r->cls) == 0)
                acc_add(&accs[SCTL_TOP_GUESTS][k], o, p);
        }
    }
    for (unsigned v = 0; v < SCTL_TOP__VIEWS; v++)
        for (unsigned k = 0; k < m->nrows[v]; k++)
            acc_finish(&accs[v][k], &m->rows[v][k], dt, v != SCTL_TOP_CORES);
    memset(&m->total, 0, sizeof(m->total));
    copy_str(m->total.id, sizeof(m->total.id), "total");
    m->total.domid = m->total.cpu = -1;
    acc_finish(total, &m->total, dt, true);
    for (unsigned v = 0; v < SCTL_TOP__VIEWS; v++)
        free(accs[v]);
    free(total);
    return 0;
}
