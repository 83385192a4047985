/*
 * ctl_metrics.h - what the metrics endpoint serves: the control socket's
 * published views (ctl.h: sc_ctl_view_copy) written as Prometheus text
 * (metrics_text.h).
 *
 * Contract: sc_ctl_metrics_render() is an sc_metrics_render_fn whose ctx
 * is the daemon's struct sc_ctl, started (threaded).  It runs on the
 * endpoint's thread: it copies the views under the socket's publication
 * lock and never calls the control thread or a sidecore, so a scrape
 * neither waits on them nor slows them; the figures are at most one
 * publication period (0.5 s) old.  0, or -EAGAIN before the first
 * publication, -ENOMEM, -EIO.
 */
#ifndef SC_CTL_METRICS_H
#define SC_CTL_METRICS_H

#include <stdio.h>

int sc_ctl_metrics_render(void *ctl, FILE *out);

#endif
