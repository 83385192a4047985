/*
 * ctl_test.c - the control socket served from its own thread (ctl.h,
 * sc_ctl_start): methods run by the owner thread within a deadline; a view
 * is answered from the owner's last publication when the owner is busy; a
 * change that misses the deadline is refused as busy but still carried
 * out; clients are served while the owner does nothing at all.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl.h"
#include "log.h"

static atomic_int counter;     /* the owner's state the methods expose */
static char sock_path[64];

static json_t *m_view(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)ctx;
    (void)params;
    (void)err;
    return json_pack("{s:i}", "counter", atomic_load(&counter));
}

static json_t *m_bump(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)ctx;
    json_t *by = json_object_get(params, "by");
    if (!json_is_integer(by)) {
        sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "bump needs {\"by\": n}");
        return NULL;
    }
    atomic_fetch_add(&counter, (int)json_integer_value(by));
    return json_pack("{s:i}", "counter", atomic_load(&counter));
}

static const struct sc_ctl_method methods[] = {
    { "view", m_view, SC_CTL_VIEW },
    { "bump", m_bump, 0 },
    { NULL, NULL, 0 },
};

/* The owner: dispatches posted calls while `serving`. */
static atomic_bool serving, quit;
static struct sc_ctl *ctl;

static void *owner_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&quit)) {
        if (!atomic_load(&serving)) {
            usleep(2000);
            continue;
        }
        struct pollfd p = { .fd = sc_ctl_fd(ctl), .events = POLLIN };
        if (poll(&p, 1, 10) > 0)
            sc_ctl_dispatch(ctl);
    }
    return NULL;
}

static int call(const char *method, json_t *params, json_t **result, int *code)
{
    struct sc_ctl_client *c = sc_ctl_client_open(sock_path, 5000);
    assert_non_null(c);
    char msg[256];
    int rc = sc_ctl_client_call(c, method, params, result, code, msg, sizeof(msg));
    sc_ctl_client_close(c);
    return rc;
}

static void threaded_server_answers_through_the_owner_or_its_views(void **state)
{
    (void)state;
    snprintf(sock_path, sizeof(sock_path), "/tmp/sc-ctl-test-%d.sock", (int)getpid());
    ctl = sc_ctl_open(sock_path, methods, NULL);
    assert_non_null(ctl);
    /* a reader beside the socket (the metrics endpoint) gets nothing
     * before the server is threaded and has published */
    uint64_t at = 0;
    errno = 0;
    assert_null(sc_ctl_view_copy(ctl, "view", &at));
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(sc_ctl_start(ctl, 200), 0);
    assert_int_equal(sc_ctl_start(ctl, 200), -EALREADY);
    errno = 0;
    assert_null(sc_ctl_view_copy(ctl, "view", &at));
    assert_int_equal(errno, EAGAIN);
    errno = 0;
    assert_null(sc_ctl_view_copy(ctl, "bump", &at)); /* not a view */
    assert_int_equal(errno, ENOENT);
    pthread_t owner;
    atomic_store(&serving, true);
    assert_int_equal(pthread_create(&owner, NULL, owner_main, NULL), 0);

    /* The owner answers: fresh results, no snapshot mark. */
    json_t *res = NULL;
    int code = 0;
    json_t *p = json_pack("{s:i}", "by", 5);
    assert_int_equal(call("bump", p, &res, &code), 0);
    assert_int_equal(json_integer_value(json_object_get(res, "counter")), 5);
    json_decref(res);
    assert_int_equal(call("view", NULL, &res, &code), 0);
    assert_int_equal(json_integer_value(json_object_get(res, "counter")), 5);
    assert_null(json_object_get(res, "snapshot_age_ms"));
    json_decref(res);

    /* The owner publishes, then stops answering (busy elsewhere). */
    atomic_store(&serving, false);
    usleep(20000);
    sc_ctl_publish_views(ctl); /* as the owner would, from its timer */
    atomic_store(&counter, 7); /* the live state moves on */

    /* The publication, copied for a reader of its own: no age mark, the
     * time it was published. */
    json_t *copy = sc_ctl_view_copy(ctl, "view", &at);
    assert_non_null(copy);
    assert_int_equal(json_integer_value(json_object_get(copy, "counter")), 5);
    assert_null(json_object_get(copy, "snapshot_age_ms"));
    assert_true(at > 0);
    json_decref(copy);

    /* A view is still answered, from the publication, with its age. */
    assert_int_equal(call("view", NULL, &res, &code), 0);
    assert_int_equal(json_integer_value(json_object_get(res, "counter")), 5);
    assert_true(json_is_integer(json_object_get(res, "snapshot_age_ms")));
    json_decref(res);

    /* A change is refused as busy, but stays queued... */
    res = NULL;
    assert_int_equal(call("bump", p, &res, &code), -EREMOTEIO);
    assert_int_equal(code, SC_CTL_BUSY);
    assert_int_equal(atomic_load(&counter), 7);
    /* ...and is carried out once the owner is back. */
    atomic_store(&serving, true);
    for (int i = 0; i < 500 && atomic_load(&counter) != 12; i++)
        usleep(2000);
    assert_int_equal(atomic_load(&counter), 12);
    assert_int_equal(call("view", NULL, &res, &code), 0);
    assert_int_equal(json_integer_value(json_object_get(res, "counter")), 12);
    json_decref(res);
    json_decref(p);

    atomic_store(&quit, true);
    pthread_join(owner, NULL);
    sc_ctl_close(ctl);
    assert_int_equal(access(sock_path, F_OK), -1);
}

int main(void)
{
    sc_log_set_level(SC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(threaded_server_answers_through_the_owner_or_its_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
