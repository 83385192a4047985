/*
 * ctl_balance.h - the control socket's side of the balancer (balancer.h):
 * the `rebalance` method and the balancer's part of `status`.  Control
 * thread, as every method (ctl_methods.c).
 */
#ifndef SC_CTL_BALANCE_H
#define SC_CTL_BALANCE_H

#include <jansson.h>

#include "ctl.h"

struct sc_daemon;

/* params: {"dry_run": bool} (optional).  The plan from the last measured
 * interval, with each core's measured and estimated load and each move's
 * result; carried out unless dry_run. */
json_t *sc_ctl_rebalance(void *ctx, json_t *params, struct sc_ctl_error *err);
/* params: {"queue": its name, "core": a sidecore's name}.  Moves the queue
 * there (queue_attach.h: drained, nothing lost); answers once the move is
 * under way: {"queue", "from", "to"}. */
json_t *sc_ctl_move_queue(void *ctx, json_t *params, struct sc_ctl_error *err);
/* {"enabled", "interval_ms", "spread_pct", "intervals", "rebalances",
 * "moves", "move_errors", "last": <the last plan that moved something>},
 * or NULL on allocation failure. */
json_t *sc_ctl_balancer_json(struct sc_daemon *d);

#endif
