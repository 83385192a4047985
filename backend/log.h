/*
 * log.h - one-line logging with a context prefix, and rate limiting for
 * the data path.
 *
 * Contract: sc_log() writes "sidecored: <level>: <ctx>: <message>\n" to the
 * log stream (stderr unless sc_log_set_stream) as one write, so lines from
 * different threads never interleave.  Messages above the level set by
 * sc_log_set_level() are dropped.  Any thread may call anything here;
 * sc_log_set_level/stream are meant for start-up.
 *
 * Data-path logs go through sc_log_rl(), limited per call site (or through
 * a struct sc_ratelimit embedded per queue): at most SC_RATELIMIT_BURST
 * lines per SC_RATELIMIT_INTERVAL_NS, then a count of what was suppressed.
 */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum sc_log_level {
    SC_LOG_ERR = 0, /* something failed: a device or the daemon is affected */
    SC_LOG_WARN,    /* unexpected but handled (a hostile or buggy peer) */
    SC_LOG_INFO,    /* lifecycle: devices come and go */
    SC_LOG_DEBUG,   /* everything else */
};

void sc_log_set_level(enum sc_log_level max);
enum sc_log_level sc_log_get_level(void);
/* NULL restores stderr.  The stream stays the caller's to close. */
void sc_log_set_stream(FILE *f);
const char *sc_log_level_str(enum sc_log_level level);

/* `ctx` names what the line is about ("<type> 5/51712 q0", "xen"); may be NULL. */
void sc_log(enum sc_log_level level, const char *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SC_RATELIMIT_BURST 10u
#define SC_RATELIMIT_INTERVAL_NS 5000000000ull

struct sc_ratelimit {
    _Atomic uint64_t window_start_ns;
    _Atomic uint32_t used;       /* lines let through in this window */
    _Atomic uint32_t suppressed; /* lines dropped since last reported */
};

/* True if a line may be logged now.  When a new window opens, *suppressed
 * (if non-NULL) gets the number of lines dropped in the earlier ones. */
bool sc_ratelimit_allow(struct sc_ratelimit *rl, uint64_t now_ns, uint32_t *suppressed);
uint64_t sc_log_now_ns(void);

void sc_log_limited(struct sc_ratelimit *rl, enum sc_log_level level, const char *ctx,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Rate-limited per call site. */
#define sc_log_rl(level, ctx, ...)                                                                 \
    do {                                                                                           \
        static struct sc_ratelimit sc_rl_site_;                                                    \
        sc_log_limited(&sc_rl_site_, (level), (ctx), __VA_ARGS__);                                 \
    } while (0)

#endif
