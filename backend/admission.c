/*
 * admission.c - the reservation admission check (admission.h).
 */
#include "admission.h"

#include <errno.h>
#include <stdio.h>

static uint64_t reservable(uint64_t per_core, unsigned ncores)
{
    if (!per_core)
        return 0;
    /* per_core <= 2^64 / 100 in practice (rates are capped far lower) */
    unsigned __int128 r = (unsigned __int128)per_core * (ncores ? ncores : 1) *
                          SC_ADMISSION_RESERVABLE_PCT / 100;
    return r > UINT64_MAX ? UINT64_MAX : r ? (uint64_t)r : 1;
}

void sc_admission_reservable(const struct sc_admission_capacity *c, struct sc_sched_rate *out)
{
    out->iops = reservable(c->per_core.iops, c->ncores);
    out->bps = reservable(c->per_core.bps, c->ncores);
}

static int check_dim(const char *what, const char *unit, uint64_t cap, uint64_t others,
                     uint64_t want, const struct sc_admission_capacity *c, uint64_t per_core,
                     char *why, size_t whylen)
{
    if (!cap || !want || (others <= cap && want <= cap - others))
        return 0;
    if (why)
        snprintf(why, whylen,
                 "%s reservation of %llu %s refused: the other guests reserve %llu, and the "
                 "%u sidecore%s can honour about %llu in all (%llu %s per sidecore, %s, "
                 "%u%% of it reservable)",
                 what, (unsigned long long)want, unit, (unsigned long long)others, c->ncores,
                 c->ncores == 1 ? "" : "s", (unsigned long long)cap,
                 (unsigned long long)per_core, unit,
                 c->measured ? "measured" : "--core-capacity", SC_ADMISSION_RESERVABLE_PCT);
    return -ENOSPC;
}

int sc_admission_check(const struct sc_admission_capacity *c, const struct sc_sched_rate *others,
                       const struct sc_sched_rate *want, char *why, size_t whylen)
{
    struct sc_sched_rate cap;
    sc_admission_reservable(c, &cap);
    int ret = check_dim("an IOPS", "requests/s", cap.iops, others->iops, want->iops, c,
                        c->per_core.iops, why, whylen);
    if (ret == 0)
        ret = check_dim("a bandwidth", "B/s", cap.bps, others->bps, want->bps, c,
                        c->per_core.bps, why, whylen);
    return ret;
}
