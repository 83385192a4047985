/*
 * xenstore_lib_test.c - xensim's xenstored through the real libxenstore
 * (and a raw socket for malformed messages): watches, transactions,
 * permissions, quotas, domain introduce/release, protocol robustness.
 *
 * Each test gets its own world (simworld).  A client acts as domain N by
 * connecting to that domain's socket (XENSTORED_PATH before xs_open); the
 * domain is introduced from dom0 first, with a home owned by it.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h> /* before simworld.h, which needs it for xen/xen.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <xenstore.h>
#include <xen/io/xs_wire.h>

#include "simworld.h"

static struct simworld world;
static struct xs_handle *h0; /* dom0 */

static struct xs_handle *open_as(domid_t domid)
{
    setenv("XENSTORED_PATH", simworld_xs_path(&world, domid), 1);
    return xs_open(0);
}

static int setup(void **state)
{
    (void)state;
    if (simworld_start(&world) < 0)
        return -1;
    h0 = open_as(0);
    return h0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (h0)
        xs_close(h0);
    h0 = NULL;
    simworld_stop(&world);
    return 0;
}

/* What a toolstack does: introduce, then a home owned by the domain. */
static struct xs_handle *make_guest(domid_t domid)
{
    char home[64];
    snprintf(home, sizeof(home), "/local/domain/%u", domid);
    struct xs_permissions perms = { .id = domid, .perms = XS_PERM_NONE };
    assert_true(xs_introduce_domain(h0, domid, 0, 0));
    assert_true(xs_mkdir(h0, XBT_NULL, home));
    assert_true(xs_set_permissions(h0, XBT_NULL, home, &perms, 1));
    struct xs_handle *g = open_as(domid);
    assert_non_null(g);
    return g;
}

/* Next watch event within ms; false if none. */
static bool next_event(struct xs_handle *h, int ms, char *path, char *token)
{
    for (;;) {
        char **ev = xs_check_watch(h);
        if (ev) {
            snprintf(path, 256, "%s", ev[XS_WATCH_PATH]);
            snprintf(token, 64, "%s", ev[XS_WATCH_TOKEN]);
            free(ev);
            return true;
        }
        struct pollfd p = { .fd = xs_fileno(h), .events = POLLIN };
        if (poll(&p, 1, ms) <= 0)
            return false;
    }
}

static void expect_event(struct xs_handle *h, const char *path, const char *token)
{
    char p[256], t[64];
    assert_true(next_event(h, 2000, p, t));
    assert_string_equal(p, path);
    assert_string_equal(t, token);
}

/* Waits for path/token, skipping others; false if it never comes. */
static bool saw_event(struct xs_handle *h, const char *path, const char *token)
{
    char p[256], t[64];
    while (next_event(h, 1000, p, t))
        if (strcmp(p, path) == 0 && strcmp(t, token) == 0)
            return true;
    return false;
}

static void expect_quiet(struct xs_handle *h)
{
    char p[256], t[64];
    bool got = next_event(h, 200, p, t);
    if (got)
        fail_msg("unexpected event %s %s", p, t);
}

static void drain(struct xs_handle *h)
{
    char p[256], t[64];
    while (next_event(h, 200, p, t))
        ;
}

static bool wr(struct xs_handle *h, const char *path, const char *val)
{
    return xs_write(h, XBT_NULL, path, val, strlen(val));
}

static bool reads(struct xs_handle *h, const char *path, const char *want)
{
    unsigned int len;
    char *v = xs_read(h, XBT_NULL, path, &len);
    bool ok = v && strcmp(v, want) == 0;
    free(v);
    return ok;
}

static void test_watch_events(void **state)
{
    (void)state;
    struct xs_handle *other = open_as(0);
    assert_non_null(other);
    assert_true(xs_watch(h0, "/w", "tok"));
    expect_event(h0, "/w", "tok"); /* the initial event, node absent */
    assert_true(wr(other, "/w", "1"));
    expect_event(h0, "/w", "tok");
    assert_true(wr(other, "/w/child", "2"));
    expect_event(h0, "/w/child", "tok");
    assert_true(wr(other, "/elsewhere", "3"));
    expect_quiet(h0);

    /* A watch below a removed subtree fires with its own path. */
    assert_true(wr(other, "/w/deep/x", "4"));
    expect_event(h0, "/w/deep/x", "tok");
    assert_true(xs_watch(h0, "/w/deep/x", "deep"));
    expect_event(h0, "/w/deep/x", "deep");
    assert_true(xs_rm(other, XBT_NULL, "/w"));
    assert_true(saw_event(h0, "/w/deep/x", "deep"));
    drain(h0);

    assert_true(xs_unwatch(h0, "/w", "tok"));
    assert_true(xs_unwatch(h0, "/w/deep/x", "deep"));
    assert_false(xs_unwatch(h0, "/w", "tok"));
    assert_true(wr(other, "/w/again", "5"));
    expect_quiet(h0);
    xs_close(other);
}

static void test_watch_duplicate_and_relative(void **state)
{
    (void)state;
    struct xs_handle *g = make_guest(5);
    assert_true(xs_watch(g, "data", "rel"));
    expect_event(g, "data", "rel");
    assert_false(xs_watch(g, "data", "rel"));
    assert_int_equal(errno, EEXIST);
    /* The same path with another token is another watch: both fire. */
    assert_true(xs_watch(g, "/local/domain/5/data", "abs"));
    expect_event(g, "/local/domain/5/data", "abs");
    assert_true(wr(h0, "/local/domain/5/data/x", "1"));
    char p[256], t[64];
    int rel = 0, abs = 0;
    while (next_event(g, 300, p, t)) {
        if (strcmp(t, "rel") == 0 && strcmp(p, "data/x") == 0)
            rel++;
        if (strcmp(t, "abs") == 0 && strcmp(p, "/local/domain/5/data/x") == 0)
            abs++;
    }
    assert_int_equal(rel, 1);
    assert_int_equal(abs, 1);
    xs_close(g);
}

static void test_watch_needs_read_permission(void **state)
{
    (void)state;
    struct xs_handle *g = make_guest(5);
    assert_true(wr(h0, "/private/x", "1"));
    assert_true(xs_watch(g, "/private", "p"));
    expect_event(g, "/private", "p");
    assert_true(wr(h0, "/private/x", "2"));
    expect_quiet(g);
    struct xs_permissions perms[2] = { { .id = 0, .perms = XS_PERM_NONE },
                                       { .id = 5, .perms = XS_PERM_READ } };
    assert_true(xs_set_permissions(h0, XBT_NULL, "/private/x", perms, 2));
    assert_true(saw_event(g, "/private/x", "p"));
    assert_true(wr(h0, "/private/x", "3"));
    expect_event(g, "/private/x", "p");
    xs_close(g);
}

static void test_transaction_conflict(void **state)
{
    (void)state;
    struct xs_handle *other = open_as(0);
    assert_true(wr(h0, "/k", "0"));
    xs_transaction_t t = xs_transaction_start(h0);
    assert_true(t != XBT_NULL);
    unsigned int len;
    char *v = xs_read(h0, t, "/k", &len);
    assert_non_null(v);
    free(v);
    assert_true(xs_write(h0, t, "/k2", "x", 1));
    assert_true(wr(other, "/k", "changed"));
    errno = 0;
    assert_false(xs_transaction_end(h0, t, false));
    assert_int_equal(errno, EAGAIN);
    assert_null(xs_read(h0, XBT_NULL, "/k2", &len));

    /* A node created by someone else after the transaction saw it absent. */
    t = xs_transaction_start(h0);
    assert_null(xs_read(h0, t, "/late", &len));
    assert_true(wr(other, "/late", "1"));
    assert_true(xs_write(h0, t, "/k3", "x", 1));
    assert_false(xs_transaction_end(h0, t, false));
    assert_int_equal(errno, EAGAIN);
    xs_close(other);
}

static void test_transaction_commit_and_abort(void **state)
{
    (void)state;
    struct xs_handle *other = open_as(0);
    assert_true(wr(h0, "/p/a", "0"));
    assert_true(wr(h0, "/p/b", "0"));
    assert_true(xs_watch(other, "/p", "w"));
    expect_event(other, "/p", "w");

    xs_transaction_t t1 = xs_transaction_start(h0);
    xs_transaction_t t2 = xs_transaction_start(other);
    assert_true(xs_write(h0, t1, "/p/a", "1", 1));
    assert_true(xs_write(other, t2, "/p/b", "2", 1));
    assert_true(reads(h0, "/p/a", "0")); /* not visible before commit */
    unsigned int len;
    char *v = xs_read(h0, t1, "/p/a", &len);
    assert_string_equal(v, "1");
    free(v);
    expect_quiet(other); /* watches fire at commit, not before */
    assert_true(xs_transaction_end(h0, t1, false));
    expect_event(other, "/p/a", "w");
    assert_true(xs_transaction_end(other, t2, false));
    assert_true(reads(h0, "/p/a", "1"));
    assert_true(reads(h0, "/p/b", "2"));

    t1 = xs_transaction_start(h0);
    assert_true(xs_write(h0, t1, "/p/aborted", "x", 1));
    assert_true(xs_rm(h0, t1, "/p/a"));
    assert_true(xs_transaction_end(h0, t1, true));
    assert_null(xs_read(h0, XBT_NULL, "/p/aborted", &len));
    assert_true(reads(h0, "/p/a", "1"));

    /* A committed rm inside a transaction removes the whole subtree. */
    t1 = xs_transaction_start(h0);
    assert_true(xs_rm(h0, t1, "/p"));
    assert_true(xs_transaction_end(h0, t1, false));
    assert_null(xs_read(h0, XBT_NULL, "/p/b", &len));
    assert_int_equal(errno, ENOENT);
    xs_close(other);
}

static void test_permissions(void **state)
{
    (void)state;
    struct xs_handle *g5 = make_guest(5);
    struct xs_handle *g6 = make_guest(6);
    unsigned int len;

    assert_false(wr(g5, "/local/domain/6/x", "1"));
    assert_int_equal(errno, EACCES);
    assert_true(wr(g5, "data/x", "mine")); /* relative to its home */
    assert_true(reads(h0, "/local/domain/5/data/x", "mine"));

    assert_true(wr(h0, "/secret", "s"));
    assert_null(xs_read(g5, XBT_NULL, "/secret", &len));
    assert_int_equal(errno, EACCES);
    struct xs_permissions acl[2] = { { .id = 0, .perms = XS_PERM_NONE },
                                     { .id = 5, .perms = XS_PERM_READ } };
    assert_true(xs_set_permissions(h0, XBT_NULL, "/secret", acl, 2));
    assert_true(reads(g5, "/secret", "s"));
    assert_null(xs_read(g6, XBT_NULL, "/secret", &len));
    assert_false(wr(g5, "/secret", "no"));
    assert_int_equal(errno, EACCES);

    /* New nodes of a guest are its own; it cannot give them away. */
    unsigned int n;
    struct xs_permissions *p = xs_get_permissions(h0, XBT_NULL, "/local/domain/5/data/x", &n);
    assert_non_null(p);
    assert_int_equal(p[0].id, 5);
    free(p);
    struct xs_permissions give[1] = { { .id = 6, .perms = XS_PERM_NONE } };
    assert_false(xs_set_permissions(g5, XBT_NULL, "data/x", give, 1));
    assert_int_equal(errno, EPERM);
    struct xs_permissions share[2] = { { .id = 5, .perms = XS_PERM_NONE },
                                       { .id = 6, .perms = XS_PERM_READ } };
    assert_null(xs_read(g6, XBT_NULL, "/local/domain/5/data/x", &len));
    assert_true(xs_set_permissions(g5, XBT_NULL, "data/x", share, 2));
    assert_true(reads(g6, "/local/domain/5/data/x", "mine"));
    assert_false(wr(g6, "/local/domain/5/data/x", "theirs"));
    assert_false(xs_set_permissions(g6, XBT_NULL, "/local/domain/5/data/x", share, 2));

    /* Only dom0 may introduce domains. */
    assert_false(xs_introduce_domain(g5, 9, 0, 0));
    assert_int_equal(errno, EACCES);

    /* SET_TARGET: domain 7 gets owner rights on 5's nodes (stubdom). */
    struct xs_handle *g7 = make_guest(7);
    assert_false(wr(g7, "/local/domain/5/data/y", "1"));
    assert_true(xs_set_target(h0, 7, 5));
    assert_true(wr(g7, "/local/domain/5/data/y", "1"));
    xs_close(g7);
    xs_close(g5);
    xs_close(g6);
}

static void test_quotas(void **state)
{
    (void)state;
    struct xs_handle *g = make_guest(5);
    char big[2100];
    memset(big, 'v', sizeof(big));
    assert_false(xs_write(g, XBT_NULL, "big", big, 2049));
    assert_int_equal(errno, ENOSPC);
    unsigned int len;
    assert_null(xs_read(h0, XBT_NULL, "/local/domain/5/big", &len));
    assert_true(xs_write(g, XBT_NULL, "big", big, 2048));
    assert_true(xs_write(h0, XBT_NULL, "/dom0big", big, sizeof(big)));
    assert_true(xs_rm(g, XBT_NULL, "big"));

    /* 1000 nodes per domain: home + "data" + 998 children. */
    int i;
    char path[64];
    for (i = 0; i < 1100; i++) {
        snprintf(path, sizeof(path), "data/n%d", i);
        if (!wr(g, path, "x"))
            break;
    }
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(i, 998);
    assert_null(xs_read(h0, XBT_NULL, "/local/domain/5/data/n998", &len));
    /* Inside a transaction the quota counts the transaction's changes. */
    xs_transaction_t t = xs_transaction_start(g);
    assert_false(xs_write(g, t, "data/over", "x", 1));
    assert_int_equal(errno, ENOSPC);
    assert_true(xs_rm(g, t, "data/n0"));
    assert_true(xs_write(g, t, "data/over", "x", 1));
    assert_true(xs_transaction_end(g, t, false));
    assert_true(reads(h0, "/local/domain/5/data/over", "x"));
    assert_null(xs_read(h0, XBT_NULL, "/local/domain/5/data/n0", &len));
    assert_false(wr(g, "data/again", "x"));
    assert_true(xs_rm(g, XBT_NULL, "data/n1"));
    assert_true(wr(g, "data/again", "x"));

    /* 10 transactions per connection. */
    xs_transaction_t ts[11];
    for (i = 0; i < 10; i++) {
        ts[i] = xs_transaction_start(g);
        assert_true(ts[i] != XBT_NULL);
    }
    ts[10] = xs_transaction_start(g);
    assert_true(ts[10] == XBT_NULL);
    assert_int_equal(errno, ENOSPC);
    for (i = 0; i < 10; i++)
        assert_true(xs_transaction_end(g, ts[i], true));
    xs_close(g);
}

static void test_introduce_release(void **state)
{
    (void)state;
    assert_true(xs_watch(h0, "@introduceDomain", "in"));
    expect_event(h0, "@introduceDomain", "in");
    assert_true(xs_watch(h0, "@releaseDomain", "out"));
    expect_event(h0, "@releaseDomain", "out");
    struct xs_handle *g5 = make_guest(5);
    assert_true(saw_event(h0, "@introduceDomain", "in"));
    /* A guest is not told about other domains (special perms are n0). */
    assert_true(xs_watch(g5, "@introduceDomain", "g"));
    expect_event(g5, "@introduceDomain", "g");

    struct xs_handle *g7 = make_guest(7);
    assert_true(saw_event(h0, "@introduceDomain", "in"));
    expect_quiet(g5);
    assert_true(xs_is_domain_introduced(h0, 7));
    char *path = xs_get_domain_path(h0, 7);
    assert_string_equal(path, "/local/domain/7");
    free(path);
    assert_true(reads(g7, "/local/domain/7", ""));

    assert_true(xs_release_domain(h0, 7));
    assert_true(saw_event(h0, "@releaseDomain", "out"));
    assert_false(xs_is_domain_introduced(h0, 7));
    unsigned int len;
    assert_null(xs_read(g7, XBT_NULL, "/local/domain/7", &len)); /* closed */
    assert_int_not_equal(access(simworld_xs_path(&world, 7), F_OK), 0);
    assert_true(reads(g5, "/local/domain/5", "")); /* others unaffected */
    xs_close(g7);
    xs_close(g5);
}

static int raw_connect(domid_t domid)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", simworld_xs_path(&world, domid));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    return fd;
}

static void raw_send(int fd, uint32_t type, uint32_t len, const void *payload, size_t n)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = 77, .len = len };
    assert_int_equal(write(fd, &hdr, sizeof(hdr)), sizeof(hdr));
    if (n)
        assert_int_equal(write(fd, payload, n), (ssize_t)n);
}

static bool read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 2000) <= 0)
            return false;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* Reads one reply; false on EOF or timeout. */
static bool raw_recv(int fd, struct xsd_sockmsg *hdr, char *buf, size_t cap)
{
    if (!read_full(fd, hdr, sizeof(*hdr)) || hdr->len >= cap)
        return false;
    if (!read_full(fd, buf, hdr->len))
        return false;
    buf[hdr->len] = '\0';
    return true;
}

static void expect_raw_error(int fd, const char *err)
{
    struct xsd_sockmsg hdr;
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    assert_true(raw_recv(fd, &hdr, buf, sizeof(buf)));
    assert_int_equal(hdr.type, XS_ERROR);
    assert_int_equal(hdr.req_id, 77);
    assert_string_equal(buf, err);
}

static void test_malformed_messages(void **state)
{
    (void)state;
    int fd = raw_connect(0);
    raw_send(fd, 999, 0, NULL, 0);
    expect_raw_error(fd, "ENOSYS"); /* xenstored's answer to unknown types */
    raw_send(fd, XS_READ, 3, "abc", 3); /* no NUL */
    expect_raw_error(fd, "EINVAL");
    raw_send(fd, XS_READ, 0, NULL, 0);
    expect_raw_error(fd, "EINVAL");
    raw_send(fd, XS_WRITE, 4, "/a b", 4); /* bad char, no NUL */
    expect_raw_error(fd, "EINVAL");
    raw_send(fd, XS_READ, 4, "/a/\0", 4); /* trailing slash */
    expect_raw_error(fd, "EINVAL");
    raw_send(fd, XS_TRANSACTION_END, 2, "T\0", 2); /* no transaction */
    expect_raw_error(fd, "ENOENT");
    raw_send(fd, XS_WATCH, 3, "/a\0", 3); /* no token */
    expect_raw_error(fd, "EINVAL");
    raw_send(fd, XS_SET_PERMS, 7, "/\0x12\0\0", 7); /* bad perm letter */
    expect_raw_error(fd, "EINVAL");
    raw_send(fd, XS_RM, 2, "/\0", 2);
    expect_raw_error(fd, "EINVAL");

    static char longpath[XENSTORE_ABS_PATH_MAX + 8];
    memset(longpath, 'a', sizeof(longpath));
    longpath[0] = '/';
    longpath[XENSTORE_ABS_PATH_MAX + 1] = '\0'; /* one too long */
    raw_send(fd, XS_READ, XENSTORE_ABS_PATH_MAX + 2, longpath, XENSTORE_ABS_PATH_MAX + 2);
    expect_raw_error(fd, "EINVAL");

    /* A header split over two writes is still one request. */
    struct xsd_sockmsg hdr = { .type = XS_GET_DOMAIN_PATH, .req_id = 78, .len = 2 };
    assert_int_equal(write(fd, &hdr, 7), 7);
    usleep(50000);
    assert_int_equal(write(fd, (char *)&hdr + 7, sizeof(hdr) - 7), sizeof(hdr) - 7);
    assert_int_equal(write(fd, "3", 2), 2);
    char buf[XENSTORE_PAYLOAD_MAX + 1];
    assert_true(raw_recv(fd, &hdr, buf, sizeof(buf)));
    assert_int_equal(hdr.type, XS_GET_DOMAIN_PATH);
    assert_int_equal(hdr.req_id, 78);
    assert_string_equal(buf, "/local/domain/3");

    /* Announcing more than XENSTORE_PAYLOAD_MAX gets the client dropped. */
    raw_send(fd, XS_WRITE, XENSTORE_PAYLOAD_MAX + 1, NULL, 0);
    assert_false(raw_recv(fd, &hdr, buf, sizeof(buf)));
    close(fd);

    /* ... and everyone else is still served. */
    assert_true(wr(h0, "/still", "alive"));
    assert_true(reads(h0, "/still", "alive"));
}

/* A client that never reads its replies is dropped once its queue is huge
 * (xensim's bound: 16 MiB), and the daemon keeps serving the others. */
static void test_stuck_reader_is_dropped(void **state)
{
    (void)state;
    static char value[4000];
    memset(value, 'v', sizeof(value));
    assert_true(xs_write(h0, XBT_NULL, "/big", value, sizeof(value)));
    int fd = raw_connect(0);
    /* A fast daemon may drop us before we have sent them all: then the
     * writes fail (EPIPE/ECONNRESET), which is the behaviour under test. */
    struct xsd_sockmsg hdr = { .type = XS_READ, .req_id = 77, .len = 5 };
    char msg[sizeof(hdr) + 5];
    memcpy(msg, &hdr, sizeof(hdr));
    memcpy(msg + sizeof(hdr), "/big", 5);
    for (int i = 0; i < 4400; i++)
        if (send(fd, msg, sizeof(msg), MSG_NOSIGNAL) != (ssize_t)sizeof(msg))
            break;
    sleep(1); /* let the daemon serve them all while nobody reads */
    /* Drain: replies that made it into the socket, then EOF. */
    char buf[65536];
    bool eof = false;
    for (int i = 0; i < 2000 && !eof; i++) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t n = read(fd, buf, sizeof(buf));
        eof = n <= 0;
    }
    assert_true(eof);
    close(fd);
    assert_true(reads(h0, "/local", ""));
}

/* Seeded random requests (types, strings, transaction ids) on a dom0 and a
 * guest socket: every one gets an answer or a disconnect, never a crash. */
static void test_random_messages(void **state)
{
    (void)state;
    static const char *const words[] = { "/", "a", "b", "", "@introduceDomain",
                                         "@releaseDomain", "5", "T", "F", "r5", "n0",
                                         "/local/domain/5", "0", "xyz" };
    struct xs_handle *g = make_guest(5);
    int fds[2] = { raw_connect(0), raw_connect(5) };
    unsigned seed = 12345;
    for (int i = 0; i < 5000; i++) {
        char payload[256];
        size_t len = 0;
        int nwords = rand_r(&seed) % 6;
        for (int w = 0; w < nwords; w++) {
            const char *word = words[rand_r(&seed) % (sizeof(words) / sizeof(words[0]))];
            size_t n = strlen(word) + (rand_r(&seed) % 4 != 0); /* mostly with NUL */
            memcpy(payload + len, word, n);
            len += n;
        }
        uint32_t type = (uint32_t)(rand_r(&seed) % (XS_TYPE_COUNT + 2));
        if (type == XS_RELEASE || type == XS_RESET_WATCHES)
            continue; /* keep both sockets alive for the check below */
        struct xsd_sockmsg hdr = { .type = type, .req_id = (uint32_t)i,
                                   .tx_id = (uint32_t)(rand_r(&seed) % 4), .len = (uint32_t)len };
        int fd = fds[rand_r(&seed) % 2];
        char msg[sizeof(hdr) + sizeof(payload)];
        memcpy(msg, &hdr, sizeof(hdr));
        memcpy(msg + sizeof(hdr), payload, len);
        assert_int_equal(send(fd, msg, sizeof(hdr) + len, MSG_NOSIGNAL),
                         (ssize_t)(sizeof(hdr) + len));
        char buf[65536];
        while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
            ;
    }
    close(fds[0]);
    close(fds[1]);
    assert_true(wr(h0, "/after", "fuzz"));
    assert_true(reads(h0, "/after", "fuzz"));
    char *home = xs_get_domain_path(g, 5); /* the guest's link still works */
    assert_non_null(home);
    assert_string_equal(home, "/local/domain/5");
    free(home);
    xs_close(g);
}

static void test_unprivileged_path_limits(void **state)
{
    (void)state;
    struct xs_handle *g = make_guest(5);
    static char rel[XENSTORE_REL_PATH_MAX + 2];
    memset(rel, 'r', XENSTORE_REL_PATH_MAX + 1);
    rel[XENSTORE_REL_PATH_MAX + 1] = '\0';
    assert_false(wr(g, rel, "x"));
    assert_int_equal(errno, EINVAL);
    rel[XENSTORE_REL_PATH_MAX] = '\0';
    assert_true(wr(g, rel, "x"));
    xs_close(g);
}

static void test_big_directory(void **state)
{
    (void)state;
    enum { N = 300 };
    char path[128];
    xs_transaction_t t = xs_transaction_start(h0);
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/many/child-with-a-long-name-%03d", i);
        assert_true(xs_write(h0, t, path, "x", 1));
    }
    assert_true(xs_transaction_end(h0, t, false));
    unsigned int num;
    char **names = xs_directory(h0, XBT_NULL, "/many", &num);
    assert_non_null(names);
    assert_int_equal(num, N);
    char seen[N] = { 0 };
    for (unsigned int i = 0; i < num; i++) {
        int k;
        assert_int_equal(sscanf(names[i], "child-with-a-long-name-%d", &k), 1);
        assert_true(k >= 0 && k < N && !seen[k]);
        seen[k] = 1;
    }
    free(names);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_watch_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_duplicate_and_relative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_watch_needs_read_permission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_commit_and_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quotas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_introduce_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stuck_reader_is_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unprivileged_path_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_directory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
