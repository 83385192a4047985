/*
 * watchdog.h - notices a control thread that stopped coming back to its
 * loop (a xenstored that is alive but does not answer, a store whose open
 * hangs) and keeps the process stoppable meanwhile.
 *
 * Why: libxenstore's calls have no timeout, and the control thread makes
 * them inline.  The sidecores go on serving and the control socket answers
 * views from snapshots (ctl.h) while it waits; what is missing is someone
 * who says so, and a stop that does not wait for an answer that may never
 * come.  Exiting then is as safe as a SIGKILL: requests not yet answered
 * stay in the rings and the response logs let a successor finish what was
 * being published (rsp_stage.h).
 *
 * Contract: the control thread calls sc_watchdog_busy(w, what) before a
 * step that may block (what: a string that lives as long as w) and
 * sc_watchdog_idle(w) when it goes back to waiting.  The watchdog's own
 * thread looks every stall_ns / 8: a step busy for stall_ns or more is
 * logged once (and counted), its end is logged with its length.  While a
 * step is stalled, a pending SIGTERM or SIGINT (blocked in every thread,
 * as the daemon's signalfd needs; seen with sigpending(), not consumed), or
 * a stop announced by sc_watchdog_stopping() before or during the stall,
 * ends the process with status 1 and a log line saying why.  Start it with
 * those signals blocked: its thread inherits the mask.
 *
 * Threads: busy/idle/stopping from the control thread only; stalls from
 * any.  Returns: NULL + errno.
 */
#ifndef SC_WATCHDOG_H
#define SC_WATCHDOG_H

#include <stdint.h>

struct sc_watchdog;

struct sc_watchdog *sc_watchdog_start(uint64_t stall_ns);
void sc_watchdog_stop(struct sc_watchdog *w);

void sc_watchdog_busy(struct sc_watchdog *w, const char *what);
void sc_watchdog_idle(struct sc_watchdog *w);
/* A stop was asked for: from now on a stall ends the process. */
void sc_watchdog_stopping(struct sc_watchdog *w);

/* How many steps have stalled so far. */
uint64_t sc_watchdog_stalls(const struct sc_watchdog *w);

#endif
