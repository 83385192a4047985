#include "log.h"

#include "clock.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

static _Atomic int log_level = SC_LOG_INFO;
static FILE *_Atomic log_stream;

void sc_log_set_level(enum sc_log_level max)
{
    atomic_store(&log_level, (int)max);
}

enum sc_log_level sc_log_get_level(void)
{
    return (enum sc_log_level)atomic_load(&log_level);
}

void sc_log_set_stream(FILE *f)
{
    atomic_store(&log_stream, f);
}

const char *sc_log_level_str(enum sc_log_level level)
{
    switch (level) {
    case SC_LOG_ERR: return "error";
    case SC_LOG_WARN: return "warning";
    case SC_LOG_INFO: return "info";
    case SC_LOG_DEBUG: return "debug";
    }
    return "?";
}

static void log_va(enum sc_log_level level, const char *ctx, const char *suffix,
                   const char *fmt, va_list ap)
{
    char msg[1024];
    int n = snprintf(msg, sizeof(msg), "sidecored: %s: %s%s", sc_log_level_str(level),
                     ctx ? ctx : "", ctx ? ": " : "");
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0;
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    /* A long message is cut, keeping room for the suffix and the newline. */
    size_t len = strlen(msg), room = sizeof(msg) - strlen(suffix) - 2;
    if (len > room)
        len = room;
    snprintf(msg + len, sizeof(msg) - len, "%s\n", suffix);

    FILE *f = atomic_load(&log_stream);
    fputs(msg, f ? f : stderr); /* stdio locks the stream for the call */
}

void sc_log(enum sc_log_level level, const char *ctx, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level))
        return;
    va_list ap;
    va_start(ap, fmt);
    log_va(level, ctx, "", fmt, ap);
    va_end(ap);
}

uint64_t sc_log_now_ns(void)
{
    return sc_clock_ns();
}

bool sc_ratelimit_allow(struct sc_ratelimit *rl, uint64_t now_ns, uint32_t *suppressed)
{
    uint64_t start = atomic_load(&rl->window_start_ns);
    if (suppressed)
        *suppressed = 0;
    if (start == 0 || now_ns - start >= SC_RATELIMIT_INTERVAL_NS) {
        /* One thread opens the new window; the others count in it. */
        if (atomic_compare_exchange_strong(&rl->window_start_ns, &start, now_ns ? now_ns : 1)) {
            atomic_store(&rl->used, 0);
            uint32_t dropped = atomic_exchange(&rl->suppressed, 0);
            if (suppressed)
                *suppressed = dropped;
        }
    }
    if (atomic_fetch_add(&rl->used, 1) < SC_RATELIMIT_BURST)
        return true;
    atomic_fetch_add(&rl->suppressed, 1);
    return false;
}

void sc_log_limited(struct sc_ratelimit *rl, enum sc_log_level level, const char *ctx,
                    const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level))
        return;
    uint32_t dropped;
    if (!sc_ratelimit_allow(rl, sc_log_now_ns(), &dropped))
        return;
    char suffix[64] = "";
    if (dropped)
        snprintf(suffix, sizeof(suffix), " (%u similar lines suppressed)", dropped);
    va_list ap;
    va_start(ap, fmt);
    log_va(level, ctx, suffix, fmt, ap);
    va_end(ap);
}
