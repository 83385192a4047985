/*
 * membudget.c - the daemon's memory budget (membudget.h).
 *
 * Guests holding reservations are kept in a small array searched linearly:
 * it is touched once per queue connect and detach and per ctl view, and a
 * daemon serves hundreds of guests, not millions.  An entry goes when its
 * guest holds nothing any more.
 */
#include "membudget.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "numparse.h"

struct guest_use {
    domid_t domid;
    unsigned nres;
    uint64_t bytes;
};

struct sc_membudget {
    pthread_mutex_t lock;
    uint64_t total, guest_max;
    uint64_t used, peak, reservations, refused;
    struct guest_use *guests;
    unsigned nguests, cap;
};

struct sc_membudget *sc_membudget_create(uint64_t total, uint64_t guest_max)
{
    struct sc_membudget *b = calloc(1, sizeof(*b));
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&b->lock, NULL);
    b->total = total;
    b->guest_max = guest_max;
    return b;
}

void sc_membudget_destroy(struct sc_membudget *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b->guests);
    free(b);
}

static struct guest_use *guest_find(const struct sc_membudget *b, domid_t domid)
{
    for (unsigned i = 0; i < b->nguests; i++)
        if (b->guests[i].domid == domid)
            return &b->guests[i];
    return NULL;
}

static struct guest_use *guest_add(struct sc_membudget *b, domid_t domid)
{
    if (b->nguests == b->cap) {
        unsigned cap = b->cap ? b->cap * 2 : 16;
        struct guest_use *g = realloc(b->guests, cap * sizeof(*g));
        if (!g)
            return NULL;
        b->guests = g;
        b->cap = cap;
    }
    struct guest_use *g = &b->guests[b->nguests++];
    *g = (struct guest_use){ .domid = domid };
    return g;
}

void sc_membudget_fmt(uint64_t bytes, char *buf, size_t len)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    if (bytes < 1024) {
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
        return;
    }
    double v = (double)bytes / 1024.0;
    unsigned u = 0;
    while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024.0;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, units[u]);
}

int sc_membudget_reserve(struct sc_membudget *b, domid_t domid, uint64_t bytes,
                         struct sc_mem_resv *r, char *why, size_t whylen)
{
    if (!b || !r || r->b)
        return -EINVAL;
    char need[32], left[32], of[32];
    int rc = 0;
    pthread_mutex_lock(&b->lock);
    struct guest_use *g = guest_find(b, domid);
    uint64_t guest_used = g ? g->bytes : 0;
    sc_membudget_fmt(bytes, need, sizeof(need));
    if (b->total && (b->used > b->total || bytes > b->total - b->used)) {
        sc_membudget_fmt(b->total - (b->used < b->total ? b->used : b->total), left,
                         sizeof(left));
        sc_membudget_fmt(b->total, of, sizeof(of));
        if (why && whylen)
            snprintf(why, whylen,
                     "needs %s, the daemon's memory budget has %s left of %s "
                     "(sidecored --mem-budget)", need, left, of);
        rc = -ENOMEM;
    } else if (b->guest_max && (guest_used > b->guest_max || bytes > b->guest_max - guest_used)) {
        sc_membudget_fmt(b->guest_max - (guest_used < b->guest_max ? guest_used : b->guest_max),
                         left, sizeof(left));
        sc_membudget_fmt(b->guest_max, of, sizeof(of));
        if (why && whylen)
            snprintf(why, whylen,
                     "needs %s, guest %u has %s left of its %s (sidecored --guest-mem-max)",
                     need, domid, left, of);
        rc = -ENOMEM;
    } else if (!g && !(g = guest_add(b, domid))) {
        if (why && whylen)
            snprintf(why, whylen, "needs %s, and the budget's own bookkeeping failed", need);
        rc = -ENOMEM;
    }
    if (rc == 0) {
        g->bytes += bytes;
        g->nres++;
        b->used += bytes;
        b->reservations++;
        if (b->used > b->peak)
            b->peak = b->used;
        *r = (struct sc_mem_resv){ .b = b, .domid = domid, .bytes = bytes };
    } else {
        b->refused++;
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

void sc_membudget_release(struct sc_mem_resv *r)
{
    if (!r || !r->b)
        return;
    struct sc_membudget *b = r->b;
    pthread_mutex_lock(&b->lock);
    struct guest_use *g = guest_find(b, r->domid);
    if (g) { /* always: a reservation keeps its guest's entry */
        g->bytes -= r->bytes;
        if (--g->nres == 0)
            *g = b->guests[--b->nguests];
    }
    b->used -= r->bytes;
    b->reservations--;
    pthread_mutex_unlock(&b->lock);
    *r = (struct sc_mem_resv){ 0 };
}

void sc_membudget_stats(const struct sc_membudget *b, struct sc_membudget_stats *out)
{
    struct sc_membudget *m = (struct sc_membudget *)b; /* the lock only */
    memset(out, 0, sizeof(*out));
    if (!b)
        return;
    pthread_mutex_lock(&m->lock);
    *out = (struct sc_membudget_stats){ .total = b->total, .guest_max = b->guest_max,
                                        .used = b->used, .peak = b->peak,
                                        .reservations = b->reservations,
                                        .refused = b->refused };
    pthread_mutex_unlock(&m->lock);
}

uint64_t sc_membudget_guest(const struct sc_membudget *b, domid_t domid, unsigned *nres)
{
    struct sc_membudget *m = (struct sc_membudget *)b;
    uint64_t bytes = 0;
    unsigned n = 0;
    if (b) {
        pthread_mutex_lock(&m->lock);
        const struct guest_use *g = guest_find(b, domid);
        if (g) {
            bytes = g->bytes;
            n = g->nres;
        }
        pthread_mutex_unlock(&m->lock);
    }
    if (nres)
        *nres = n;
    return bytes;
}

int sc_membudget_parse(const char *s, uint64_t *bytes, unsigned *pct)
{
    if (!s || !bytes)
        return -EINVAL;
    if (strcmp(s, "unlimited") == 0 || strcmp(s, "none") == 0) {
        *bytes = 0;
        if (pct)
            *pct = 0;
        return 0;
    }
    unsigned long long v;
    const char *p;
    if (sc_parse_decimal(s, &v, &p) < 0)
        return -EINVAL;
    if (*p == '%') {
        if (!pct || p[1] || v < 1 || v > 100)
            return -EINVAL;
        *bytes = 0;
        *pct = (unsigned)v;
        return 0;
    }
    unsigned shift = 0;
    switch (*p) {
    case '\0': break;
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default: return -EINVAL;
    }
    /* "512M", "512Mi", "512MiB" or "512MB": binary all the same */
    if (*p && strcmp(p + 1, "") && strcmp(p + 1, "i") && strcmp(p + 1, "iB") &&
        strcmp(p + 1, "B"))
        return -EINVAL;
    if (shift && v > (~0ull >> shift))
        return -EINVAL;
    *bytes = v << shift;
    if (pct)
        *pct = 0;
    return 0;
}

int sc_membudget_of_host(unsigned pct, uint64_t *bytes)
{
    if (pct < 1 || pct > 100 || !bytes)
        return -EINVAL;
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return -errno;
    char line[256];
    unsigned long long kib = 0;
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = sscanf(line, "MemTotal: %llu kB", &kib) == 1;
    fclose(f);
    if (!found || kib == 0)
        return -ENOENT;
    *bytes = (uint64_t)kib * 1024 / 100 * pct;
    return 0;
}
