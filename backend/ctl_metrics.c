/*
 * ctl_metrics.c - the published views, rendered for a scrape
 * (ctl_metrics.h).
 */
#include "ctl_metrics.h"

#include <errno.h>

#include "clock.h"
#include "ctl.h"
#include "metrics_text.h"

int sc_ctl_metrics_render(void *ctx, FILE *out)
{
    struct sc_ctl *ctl = ctx;
    static const char *const names[] = { "status", "devices", "queues", "cores", "guests" };
    enum { NVIEWS = sizeof(names) / sizeof(names[0]) };
    json_t *views[NVIEWS] = { NULL };
    uint64_t oldest = UINT64_MAX;
    int rc = 0;
    for (unsigned i = 0; i < NVIEWS && rc == 0; i++) {
        uint64_t at = 0;
        views[i] = sc_ctl_view_copy(ctl, names[i], &at);
        if (!views[i])
            rc = -errno;
        else if (at < oldest)
            oldest = at;
    }
    if (rc == 0) {
        uint64_t now = sc_clock_ns();
        struct sc_metrics_views v = {
            .status = views[0], .devices = views[1], .queues = views[2], .cores = views[3],
            .guests = views[4], .age_s = now > oldest ? (double)(now - oldest) / 1e9 : 0.0,
        };
        rc = sc_metrics_text_write(out, &v);
    }
    for (unsigned i = 0; i < NVIEWS; i++)
        json_decref(views[i]);
    return rc;
}
