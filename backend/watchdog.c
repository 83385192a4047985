/*
 * watchdog.c - a thread that looks at the control thread's current step
 * (watchdog.h).
 */
#include "watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

struct sc_watchdog {
    uint64_t stall_ns;
    /* written by the control thread */
    _Atomic uint64_t busy_since_ns; /* 0: waiting in its loop */
    _Atomic uint64_t idle_at_ns;    /* when the last step ended */
    _Atomic(const char *) what;
    atomic_bool stopping;
    /* the watchdog thread's */
    _Atomic uint64_t stalls;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool quit;
};

static bool stop_signal_pending(void)
{
    sigset_t pending;
    if (sigpending(&pending) < 0)
        return false;
    return sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1;
}

static double secs(uint64_t ns)
{
    return (double)ns / 1e9;
}

/* One look: returns the busy_since of the stall it has reported (0: none). */
static uint64_t look(struct sc_watchdog *w, uint64_t reported)
{
    uint64_t now = sc_clock_ns();
    uint64_t since = atomic_load(&w->busy_since_ns);
    const char *what = atomic_load(&w->what);
    if (reported && since != reported) {
        uint64_t end = atomic_load(&w->idle_at_ns);
        if (end < reported)
            end = now;
        sc_log(SC_LOG_INFO, "daemon", "the control thread is back after %.1f s", secs(end - reported));
        reported = 0;
    }
    if (!since || now - since < w->stall_ns)
        return reported;
    if (since != reported) {
        atomic_fetch_add(&w->stalls, 1);
        sc_log(SC_LOG_WARN, "daemon",
               "the control thread has been stuck for %.1f s in %s (xenstored or a store not "
               "answering?): the sidecores go on serving, the control socket answers views "
               "from snapshots, a stop ends the process at once",
               secs(now - since), what ? what : "?");
        reported = since;
    }
    bool signalled = stop_signal_pending();
    if (signalled || atomic_load(&w->stopping)) {
        sc_log(SC_LOG_ERR, "daemon",
               "%s while the control thread is stuck in %s for %.1f s: exiting now, status 1 "
               "(requests not answered stay in the rings for the next sidecored)",
               signalled ? "a stop signal" : "stopping", what ? what : "?", secs(now - since));
        _exit(EXIT_FAILURE);
    }
    return reported;
}

static void *watchdog_main(void *arg)
{
    struct sc_watchdog *w = arg;
    uint64_t period = w->stall_ns / 8 ? w->stall_ns / 8 : 1;
    uint64_t reported = 0;
    pthread_mutex_lock(&w->lock);
    while (!w->quit) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t at = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec + period;
        ts.tv_sec = (time_t)(at / 1000000000ull);
        ts.tv_nsec = (long)(at % 1000000000ull);
        pthread_cond_timedwait(&w->wake, &w->lock, &ts);
        if (w->quit)
            break;
        pthread_mutex_unlock(&w->lock);
        reported = look(w, reported);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct sc_watchdog *sc_watchdog_start(uint64_t stall_ns)
{
    if (!stall_ns) {
        errno = EINVAL;
        return NULL;
    }
    struct sc_watchdog *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->stall_ns = stall_ns;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->lock, NULL);
    int ret = pthread_create(&w->thread, NULL, watchdog_main, w);
    if (ret) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w);
        errno = ret;
        return NULL;
    }
    pthread_setname_np(w->thread, "sc-watchdog");
    return w;
}

void sc_watchdog_stop(struct sc_watchdog *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->quit = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void sc_watchdog_busy(struct sc_watchdog *w, const char *what)
{
    if (!w)
        return;
    atomic_store(&w->what, what);
    atomic_store(&w->busy_since_ns, sc_clock_ns());
}

void sc_watchdog_idle(struct sc_watchdog *w)
{
    if (!w)
        return;
    atomic_store(&w->idle_at_ns, sc_clock_ns());
    atomic_store(&w->busy_since_ns, 0);
}

void sc_watchdog_stopping(struct sc_watchdog *w)
{
    if (w)
        atomic_store(&w->stopping, true);
}

uint64_t sc_watchdog_stalls(const struct sc_watchdog *w)
{
    return w ? atomic_load(&((struct sc_watchdog *)w)->stalls) : 0;
}
