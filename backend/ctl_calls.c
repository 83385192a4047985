/*
 * ctl_calls.c - method calls from the control socket's thread to the
 * owner thread, with deadlines, and published views (ctl_calls.h).
 */
#include "ctl_calls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

struct ctl_call {
    struct ctl_call *next;
    const struct sc_ctl_method *m;
    json_t *params;    /* a private deep copy: the owner reads it */
    json_t *result;
    struct sc_ctl_error err;
    bool done;         /* the owner ran it */
    bool abandoned;    /* the server stopped waiting: the owner frees it */
};

int ctl_calls_init(struct ctl_calls *cc, unsigned nmethods, int timeout_ms)
{
    memset(cc, 0, sizeof(*cc));
    cc->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (cc->efd < 0)
        return -errno;
    cc->views = calloc(nmethods ? nmethods : 1, sizeof(*cc->views));
    if (!cc->views) {
        close(cc->efd);
        return -ENOMEM;
    }
    cc->nmethods = nmethods;
    cc->timeout_ms = timeout_ms;
    pthread_mutex_init(&cc->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cc->cond, &ca);
    pthread_condattr_destroy(&ca);
    return 0;
}

static void call_free(struct ctl_call *c)
{
    json_decref(c->params);
    json_decref(c->result);
    free(c);
}

void ctl_calls_destroy(struct ctl_calls *cc)
{
    if (!cc->views)
        return;
    /* The server thread is gone: what was never run is dropped. */
    while (cc->head) {
        struct ctl_call *c = cc->head;
        cc->head = c->next;
        call_free(c);
    }
    for (unsigned i = 0; i < cc->nmethods; i++)
        json_decref(cc->views[i].result);
    free(cc->views);
    cc->views = NULL;
    close(cc->efd);
    pthread_cond_destroy(&cc->cond);
    pthread_mutex_destroy(&cc->lock);
}

/* Under the lock: the view's publication as an answer, or NULL. */
static json_t *from_view(struct ctl_calls *cc, unsigned idx)
{
    const struct ctl_view *v = &cc->views[idx];
    if (!v->result)
        return NULL;
    json_t *copy = json_deep_copy(v->result);
    if (copy && json_is_object(copy)) {
        uint64_t age = (sc_clock_ns() - v->published_ns) / 1000000u;
        json_object_set_new(copy, "snapshot_age_ms", json_integer((json_int_t)age));
    }
    return copy;
}

json_t *ctl_calls_run(struct ctl_calls *cc, const struct sc_ctl_method *methods,
                      const struct sc_ctl_method *m, void *ctx, json_t *params,
                      struct sc_ctl_error *err)
{
    (void)ctx;
    struct ctl_call *c = calloc(1, sizeof(*c));
    if (!c) {
        sc_ctl_error_set(err, SC_CTL_INTERNAL_ERROR, "out of memory");
        return NULL;
    }
    c->m = m;
    c->params = params ? json_deep_copy(params) : NULL;
    c->err = (struct sc_ctl_error){ .code = SC_CTL_INTERNAL_ERROR, .message = "internal error" };
    if (params && !c->params) {
        free(c);
        sc_ctl_error_set(err, SC_CTL_INTERNAL_ERROR, "out of memory");
        return NULL;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += cc->timeout_ms / 1000;
    deadline.tv_nsec += (long)(cc->timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&cc->lock);
    if (cc->tail)
        cc->tail->next = c;
    else
        cc->head = c;
    cc->tail = c;
    pthread_mutex_unlock(&cc->lock);
    uint64_t one = 1;
    while (write(cc->efd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;

    pthread_mutex_lock(&cc->lock);
    int rc = 0;
    while (!c->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&cc->cond, &cc->lock, &deadline);
    json_t *result = NULL;
    if (c->done) {
        result = c->result;
        c->result = NULL;
        if (!result)
            *err = c->err;
        pthread_mutex_unlock(&cc->lock);
        call_free(c);
        return result;
    }
    c->abandoned = true;
    unsigned idx = (unsigned)(m - methods);
    bool plain = !params || (json_is_object(params) && json_object_size(params) == 0) ||
                 (json_is_array(params) && json_array_size(params) == 0);
    if ((m->flags & SC_CTL_VIEW) && plain && idx < cc->nmethods)
        result = from_view(cc, idx);
    pthread_mutex_unlock(&cc->lock);
    if (!result)
        sc_ctl_error_set(err, SC_CTL_BUSY,
                         "the control thread is busy (no answer within %d ms); the request "
                         "stays queued and will still be carried out", cc->timeout_ms);
    return result;
}

unsigned ctl_calls_dispatch(struct ctl_calls *cc, void *ctx)
{
    uint64_t v;
    while (read(cc->efd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
    pthread_mutex_lock(&cc->lock);
    struct ctl_call *list = cc->head;
    cc->head = cc->tail = NULL;
    pthread_mutex_unlock(&cc->lock);

    unsigned n = 0;
    while (list) {
        struct ctl_call *c = list;
        list = c->next;
        struct sc_ctl_error err = c->err;
        json_t *result = c->m->fn(ctx, c->params, &err);
        pthread_mutex_lock(&cc->lock);
        bool abandoned = c->abandoned;
        if (!abandoned) {
            c->result = result;
            c->err = err;
            c->done = true;
            pthread_cond_broadcast(&cc->cond);
        }
        pthread_mutex_unlock(&cc->lock);
        if (abandoned) {
            json_decref(result);
            call_free(c);
        }
        n++;
    }
    return n;
}

void ctl_calls_publish(struct ctl_calls *cc, const struct sc_ctl_method *methods, void *ctx)
{
    for (unsigned i = 0; i < cc->nmethods; i++) {
        if (!(methods[i].flags & SC_CTL_VIEW))
            continue;
        struct sc_ctl_error err;
        json_t *r = methods[i].fn(ctx, NULL, &err);
        if (!r)
            continue;
        uint64_t now = sc_clock_ns();
        pthread_mutex_lock(&cc->lock);
        json_t *old = cc->views[i].result;
        cc->views[i].result = r;
        cc->views[i].published_ns = now;
        pthread_mutex_unlock(&cc->lock);
        json_decref(old);
    }
}

json_t *ctl_calls_view_copy(struct ctl_calls *cc, unsigned idx, uint64_t *published_ns)
{
    if (idx >= cc->nmethods)
        return NULL;
    pthread_mutex_lock(&cc->lock);
    const struct ctl_view *v = &cc->views[idx];
    /* a copy, not a reference: the reader then needs no lock of ours */
    json_t *copy = v->result ? json_deep_copy(v->result) : NULL;
    *published_ns = v->published_ns;
    pthread_mutex_unlock(&cc->lock);
    return copy;
}
