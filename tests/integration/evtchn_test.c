/*
 * evtchn_test.c - xensim event channels: kicks between processes, masking
 * (kicks coalesce while masked, delivered at unmask), unbind and rebind (a
 * reconnecting backend), no lost kick over 1,000,000 notifies, a 100,000
 * round-trip ping-pong, and bind errors.  Dom0 plays the backend, guest A
 * the frontend.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "simworld.h"
#include "xensim.h"

#define KICKS 1000000u
#define ROUND_TRIPS 100000u
#define WAIT_MS 10000

struct world {
    struct simworld w;
    struct xsim *dom0;
    struct xsim *guest;
    domid_t a, b;
};

static int setup(void **state)
{
    struct world *t = calloc(1, sizeof(*t));
    if (!t || simworld_start(&t->w))
        return -1;
    t->dom0 = xsim_open(t->w.dir, 0);
    int a = t->dom0 ? xsim_domain_create(t->dom0, "front-a", 4) : -1;
    int b = t->dom0 ? xsim_domain_create(t->dom0, "front-b", 4) : -1;
    if (a <= 0 || b <= 0)
        return -1;
    t->a = (domid_t)a;
    t->b = (domid_t)b;
    t->guest = xsim_open(t->w.dir, t->a);
    if (!t->guest)
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct world *t = *state;
    xsim_close(t->guest);
    xsim_close(t->dom0);
    simworld_stop(&t->w);
    free(t);
    return 0;
}

/* Waits for a kick on h and returns the pending port (left masked), or a
 * negative errno (-ETIMEDOUT). */
static int wait_pending(struct xsim_evtchn *h, int timeout_ms)
{
    for (;;) {
        int port = xsim_evtchn_pending(h);
        if (port != -EAGAIN)
            return port;
        struct pollfd pfd = { .fd = xsim_evtchn_fd(h), .events = POLLIN };
        int n = poll(&pfd, 1, timeout_ms);
        if (n == 0)
            return -ETIMEDOUT;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static bool fd_readable(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    return poll(&pfd, 1, 0) == 1;
}

/* Child side of the fork tests: dom0 binds to (a, port), then runs `body`. */
typedef int (*child_body)(struct xsim_evtchn *h, int port, void *arg);

/* Returns once the child has bound (or failed to). */
static pid_t fork_backend(struct world *t, evtchn_port_t guest_port, child_body body, void *arg)
{
    int ready[2];
    if (pipe(ready))
        return -1;
    pid_t pid = fork();
    if (pid != 0) {
        char c;
        close(ready[1]);
        if (pid > 0 && read(ready[0], &c, 1) != 1)
            c = 0;
        close(ready[0]);
        return pid;
    }
    close(ready[0]);
    struct xsim *xs = xsim_open(t->w.dir, 0);
    struct xsim_evtchn *h = xs ? xsim_evtchn_open(xs) : NULL;
    int port = h ? xsim_evtchn_bind_interdomain(h, t->a, guest_port) : -1;
    if (write(ready[1], "b", 1) != 1)
        _exit(11);
    close(ready[1]);
    _exit(port > 0 ? body(h, port, arg) : 10);
}

static int reap(pid_t pid)
{
    int status;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

/* ---- kick between processes ---- */

static int kick_and_wait(struct xsim_evtchn *h, int port, void *arg)
{
    (void)arg;
    if (xsim_evtchn_notify(h, (evtchn_port_t)port))
        return 2;
    if (wait_pending(h, WAIT_MS) != port)
        return 3;
    return 0;
}

static void test_kick_between_processes(void **state)
{
    struct world *t = *state;
    struct xsim_evtchn *h = xsim_evtchn_open(t->guest);
    assert_non_null(h);
    int port = xsim_evtchn_alloc_unbound(h, 0);
    assert_true(port > 0);
    pid_t pid = fork_backend(t, (evtchn_port_t)port, kick_and_wait, NULL);
    assert_true(pid > 0);
    int got = wait_pending(h, WAIT_MS);
    if (got == port) {
        xsim_evtchn_unmask(h, (evtchn_port_t)port);
        xsim_evtchn_notify(h, (evtchn_port_t)port);
    } else {
        kill(pid, SIGKILL);
    }
    assert_int_equal(reap(pid), 0);
    assert_int_equal(got, port);
    xsim_evtchn_close(h);
}

/* ---- masking ---- */

struct pair {
    struct xsim_evtchn *front, *back;
    int fport, bport;
};

static void bind_pair(struct world *t, struct pair *p)
{
    p->front = xsim_evtchn_open(t->guest);
    p->back = xsim_evtchn_open(t->dom0);
    assert_non_null(p->front);
    assert_non_null(p->back);
    p->fport = xsim_evtchn_alloc_unbound(p->front, 0);
    assert_true(p->fport > 0);
    p->bport = xsim_evtchn_bind_interdomain(p->back, t->a, (evtchn_port_t)p->fport);
    assert_true(p->bport > 0);
}

static void close_pair(struct pair *p)
{
    xsim_evtchn_close(p->front);
    xsim_evtchn_close(p->back);
}

static void test_masked_port_coalesces(void **state)
{
    struct world *t = *state;
    struct pair p;
    bind_pair(t, &p);
    assert_int_equal(xsim_evtchn_pending(p.front), -EAGAIN);
    assert_false(fd_readable(xsim_evtchn_fd(p.front)));

    assert_int_equal(xsim_evtchn_notify(p.back, (evtchn_port_t)p.bport), 0);
    assert_true(fd_readable(xsim_evtchn_fd(p.front)));
    assert_int_equal(xsim_evtchn_pending(p.front), p.fport); /* now masked */
    for (int i = 0; i < 5; i++)
        assert_int_equal(xsim_evtchn_notify(p.back, (evtchn_port_t)p.bport), 0);
    assert_false(fd_readable(xsim_evtchn_fd(p.front)));
    assert_int_equal(xsim_evtchn_pending(p.front), -EAGAIN);

    assert_int_equal(xsim_evtchn_unmask(p.front, (evtchn_port_t)p.fport), 0);
    assert_true(fd_readable(xsim_evtchn_fd(p.front)));
    assert_int_equal(xsim_evtchn_pending(p.front), p.fport); /* five became one */
    assert_int_equal(xsim_evtchn_unmask(p.front, (evtchn_port_t)p.fport), 0);
    assert_int_equal(xsim_evtchn_pending(p.front), -EAGAIN);

    /* And the other direction. */
    assert_int_equal(xsim_evtchn_notify(p.front, (evtchn_port_t)p.fport), 0);
    assert_int_equal(xsim_evtchn_pending(p.back), p.bport);
    close_pair(&p);
}

/* ---- unbind and rebind ---- */

static void test_unbind_and_rebind(void **state)
{
    struct world *t = *state;
    struct pair p;
    bind_pair(t, &p);
    /* Warm the front's cached peer eventfd, then take the back end away. */
    assert_int_equal(xsim_evtchn_notify(p.front, (evtchn_port_t)p.fport), 0);
    assert_int_equal(xsim_evtchn_pending(p.back), p.bport);
    assert_int_equal(xsim_evtchn_unbind(p.back, (evtchn_port_t)p.bport), 0);
    assert_int_equal(xsim_evtchn_unbind(p.back, (evtchn_port_t)p.bport), -ENOTCONN);
    assert_int_equal(xsim_evtchn_notify(p.back, (evtchn_port_t)p.bport), -ENOTCONN);

    /* The front's port is unbound again: kicking it is a silent no-op. */
    assert_int_equal(xsim_evtchn_notify(p.front, (evtchn_port_t)p.fport), 0);
    assert_int_equal(xsim_evtchn_pending(p.back), -EAGAIN);

    /* A reconnecting backend binds the same front port again. */
    int again = xsim_evtchn_bind_interdomain(p.back, t->a, (evtchn_port_t)p.fport);
    assert_true(again > 0);
    assert_int_equal(xsim_evtchn_notify(p.front, (evtchn_port_t)p.fport), 0);
    assert_int_equal(xsim_evtchn_pending(p.back), again);
    assert_int_equal(xsim_evtchn_notify(p.back, (evtchn_port_t)again), 0);
    assert_int_equal(xsim_evtchn_pending(p.front), p.fport);

    /* Closing the back handle unbinds too. */
    xsim_evtchn_close(p.back);
    assert_int_equal(xsim_evtchn_notify(p.front, (evtchn_port_t)p.fport), 0);
    p.back = xsim_evtchn_open(t->dom0);
    assert_non_null(p.back);
    assert_true(xsim_evtchn_bind_interdomain(p.back, t->a, (evtchn_port_t)p.fport) > 0);
    close_pair(&p);
}

static void test_peer_domain_destroyed(void **state)
{
    struct world *t = *state;
    int c = xsim_domain_create(t->dom0, "short-lived", 1);
    assert_true(c > 0);
    struct xsim *gc = xsim_open(t->w.dir, (domid_t)c);
    assert_non_null(gc);
    struct xsim_evtchn *hc = xsim_evtchn_open(gc);
    struct xsim_evtchn *hb = xsim_evtchn_open(t->dom0);
    int cport = xsim_evtchn_alloc_unbound(hc, 0);
    assert_true(cport > 0);
    int bport = xsim_evtchn_bind_interdomain(hb, (domid_t)c, (evtchn_port_t)cport);
    assert_true(bport > 0);
    assert_int_equal(xsim_domain_destroy(t->dom0, (domid_t)c), 0);
    assert_int_equal(xsim_evtchn_notify(hb, (evtchn_port_t)bport), 0); /* no-op */
    assert_int_equal(xsim_evtchn_unbind(hb, (evtchn_port_t)bport), 0);
    xsim_evtchn_close(hb);
    xsim_evtchn_close(hc);
    xsim_close(gc);
}

/* ---- bind errors ---- */

static void test_bind_errors(void **state)
{
    struct world *t = *state;
    struct xsim_evtchn *front = xsim_evtchn_open(t->guest);
    struct xsim_evtchn *back = xsim_evtchn_open(t->dom0);
    struct xsim *xb = xsim_open(t->w.dir, t->b);
    assert_non_null(xb);
    struct xsim_evtchn *other = xsim_evtchn_open(xb);
    int port = xsim_evtchn_alloc_unbound(front, 0);
    assert_true(port > 0);

    /* Allocated for dom0, so domain B may not bind it. */
    assert_int_equal(xsim_evtchn_bind_interdomain(other, t->a, (evtchn_port_t)port), -EINVAL);
    /* Ports that are not allocated, out of range, or of no domain. */
    assert_int_equal(xsim_evtchn_bind_interdomain(back, t->a, 4000), -EINVAL);
    assert_int_equal(xsim_evtchn_bind_interdomain(back, t->a, 0), -EINVAL);
    assert_int_equal(xsim_evtchn_bind_interdomain(back, t->a, XSIM_NR_PORTS), -EINVAL);
    assert_int_equal(xsim_evtchn_bind_interdomain(back, 200, 1), -ESRCH);
    /* Bound once, not twice. */
    assert_true(xsim_evtchn_bind_interdomain(back, t->a, (evtchn_port_t)port) > 0);
    assert_int_equal(xsim_evtchn_bind_interdomain(back, t->a, (evtchn_port_t)port), -EINVAL);
    /* Ports of another handle are not ours to use. */
    assert_int_equal(xsim_evtchn_notify(other, (evtchn_port_t)port), -ENOTCONN);
    assert_int_equal(xsim_evtchn_unmask(other, (evtchn_port_t)port), -ENOTCONN);

    xsim_evtchn_close(other);
    xsim_close(xb);
    xsim_evtchn_close(back);
    xsim_evtchn_close(front);
}

/* ---- a million kicks, none lost ---- */

struct kick_shared {
    uint32_t seq;
};

static int writer(struct xsim_evtchn *h, int port, void *arg)
{
    struct kick_shared *sh = arg;
    for (uint32_t i = 1; i <= KICKS; i++) {
        __atomic_store_n(&sh->seq, i, __ATOMIC_RELEASE);
        if (xsim_evtchn_notify(h, (evtchn_port_t)port))
            return 2;
    }
    return 0;
}

static void test_no_kick_lost(void **state)
{
    struct world *t = *state;
    struct kick_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
                                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    struct xsim_evtchn *h = xsim_evtchn_open(t->guest);
    int port = xsim_evtchn_alloc_unbound(h, 0);
    assert_true(port > 0);
    pid_t pid = fork_backend(t, (evtchn_port_t)port, writer, sh);
    assert_true(pid > 0);

    uint32_t seen = 0, wakeups = 0;
    int err = 0;
    while (seen < KICKS) {
        int got = wait_pending(h, WAIT_MS);
        if (got != port) {
            err = got;
            break;
        }
        xsim_evtchn_unmask(h, (evtchn_port_t)port);
        seen = __atomic_load_n(&sh->seq, __ATOMIC_ACQUIRE);
        wakeups++;
    }
    int rc = reap(pid);
    print_message("# %u kicks seen in %u wake-ups\n", seen, wakeups);
    assert_int_equal(err, 0);
    assert_int_equal(rc, 0);
    assert_int_equal(seen, KICKS);
    xsim_evtchn_close(h);
    munmap(sh, sizeof(*sh));
}

/* ---- ping-pong ---- */

static int ponger(struct xsim_evtchn *h, int port, void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < ROUND_TRIPS; i++) {
        if (wait_pending(h, WAIT_MS) != port)
            return 3;
        xsim_evtchn_unmask(h, (evtchn_port_t)port);
        if (xsim_evtchn_notify(h, (evtchn_port_t)port))
            return 2;
    }
    return 0;
}

static void test_ping_pong(void **state)
{
    struct world *t = *state;
    struct xsim_evtchn *h = xsim_evtchn_open(t->guest);
    int port = xsim_evtchn_alloc_unbound(h, 0);
    assert_true(port > 0);
    pid_t pid = fork_backend(t, (evtchn_port_t)port, ponger, NULL);
    assert_true(pid > 0);
    uint32_t done = 0;
    int err = 0;
    while (done < ROUND_TRIPS) {
        xsim_evtchn_notify(h, (evtchn_port_t)port);
        int got = wait_pending(h, WAIT_MS);
        if (got != port) {
            err = got;
            break;
        }
        xsim_evtchn_unmask(h, (evtchn_port_t)port);
        done++;
    }
    if (err)
        kill(pid, SIGKILL);
    int rc = reap(pid);
    assert_int_equal(err, 0);
    assert_int_equal(done, ROUND_TRIPS);
    assert_int_equal(rc, 0);
    xsim_evtchn_close(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kick_between_processes),
        cmocka_unit_test(test_masked_port_coalesces),
        cmocka_unit_test(test_unbind_and_rebind),
        cmocka_unit_test(test_peer_domain_destroyed),
        cmocka_unit_test(test_bind_errors),
        cmocka_unit_test(test_no_kick_lost),
        cmocka_unit_test(test_ping_pong),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
