/*
 * simnetfront_test.c - the simulated netfront's device level and the
 * simnetfront CLI against a fake netback (tests/tools/fake_netback.h): a
 * forked process acting as dom0, following the vif handshake and moving
 * every frame a guest sends to a receive ring: its own (loop) or the other
 * guest's (cross), offloads passed through.
 *
 * Checks: the keys Linux netfront writes for what the backend offers and
 * what the frontend wants (each feature off in turn, Linux's
 * multi-queue-num-queues=1 with flat keys), a backend without rx-copy or a
 * vif without a MAC refused, the control ring, close and reconnect with
 * stale queue keys gone; the CLI: gen verified through its echoes (plain,
 * GSO over IPv4 and IPv6), corruption caught (exit 1), an echo peer, a
 * missing backend (exit 3); and, as root, two network namespaces talking
 * through their TAP adapters (ping, then iperf3 with TSO on the rings).
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
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>
#include <cmocka.h>

#include "clock.h"
#include "fake_netback.h"
#include "netfront.h"
#include "fe_fixture.h"
#include "xensim.h"
#include "xensim_guest.h"

#define DEVID 0u

/* ---------------- the test side ---------------- */

/* Network namespaces made by the tap test, deleted at teardown. */
static char netns[2][32];

/* A shell command in the background; its pid. */
static pid_t spawn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static pid_t spawn(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid)
{
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void mac_of(domid_t dom, char *buf, size_t n)
{
    snprintf(buf, n, "00:16:3e:00:00:%02x", dom);
}

/* The toolstack's part: a vif for `dom` served by dom0. */
static int add_vif(struct fe_world *t, domid_t dom, const char *mtu)
{
    char mac[24];
    mac_of(dom, mac, sizeof(mac));
    const char *fe_keys[] = { "mac", mac, mtu ? "mtu" : NULL, mtu, NULL };
    const char *be_keys[] = { "mac", mac, "bridge", "xenbr0", NULL };
    struct xsim_device d = {
        .backend_type = "vif", .frontend_type = "vif", .backend_id = 0, .frontend_id = dom,
        .devid = DEVID, .backend_keys = be_keys, .frontend_keys = fe_keys,
    };
    return xsim_device_add(t->h0, &d);
}

static int setup(void **state)
{
    struct fe_world *t = fe_world_new(2, 32);
    for (unsigned i = 0; t && i < 2; i++)
        if (add_vif(t, t->guest[i], NULL)) {
            fe_world_free(t);
            t = NULL;
        }
    *state = t;
    return t ? 0 : -1;
}

static int teardown(void **state)
{
    for (int i = 0; i < 2; i++)
        if (netns[i][0])
            fe_sh("ip netns del %s 2>/dev/null", netns[i]);
    memset(netns, 0, sizeof(netns));
    fe_world_free(*state);
    return 0;
}

static struct fake_netback_opts full_backend(void)
{
    return (struct fake_netback_opts){ .rx_copy = true, .sg = true, .gso4 = true, .gso6 = true,
                               .csum6 = true, .split = true, .mcast = true, .dyn_mcast = true,
                               .ctrl = true, .xdp = true, .max_queues = 4 };
}

static void start_backend(struct fe_world *t, const struct fake_netback_opts *o)
{
    t->backend = fake_netback_start(t->w.dir, t->guest, 2, DEVID, o);
    assert_true(t->backend > 0);
}

/* Value of a key of guest 0's vif, or "" if absent (static buffer). */
static const char *fe_key(struct fe_world *t, const char *key)
{
    return fe_world_fe_key(t, "vif", DEVID, key);
}

static struct nf_dev *open_dev(struct fe_world *t, const struct nf_features *want)
{
    struct nf_dev *d = NULL;
    char err[256];
    int ret = nf_dev_open(fe_world_guest0(t), DEVID, want, &d, err, sizeof(err));
    if (ret)
        print_error("nf_dev_open: %s\n", err);
    assert_int_equal(ret, 0);
    return d;
}

/* A frame through the loop backend on queue q: it comes back whole. */
static void roundtrip(struct nf_dev *d, unsigned q, size_t len)
{
    struct nf_queue *nq = nf_dev_queue(d, q);
    assert_non_null(nq);
    static uint8_t f[NF_MAX_FRAME], got[NF_MAX_FRAME];
    for (size_t i = 0; i < len; i++)
        f[i] = (uint8_t)(i * 13 + q);
    assert_int_equal(nf_send(nq, f, len, NULL), 0);
    assert_true(nf_push(nq) >= 0);
    int n = 0;
    for (int i = 0; i < 500 && n == 0; i++) {
        n = nf_recv(nq, got, sizeof(got), NULL);
        if (!n)
            nf_wait(nq, 10);
    }
    assert_int_equal(n, (int)len);
    assert_memory_equal(got, f, len);
    for (int i = 0; i < 100 && nf_queue_tx_inflight(nq); i++) {
        assert_true(nf_tx_reap(nq) >= 0);
        if (nf_queue_tx_inflight(nq))
            nf_wait(nq, 10);
    }
    assert_int_equal(nf_queue_tx_inflight(nq), 0);
}

static void test_everything_negotiated(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    start_backend(t, &o);
    struct nf_features want;
    nf_features_default(&want);
    want.max_queues = 2;
    want.multicast = want.ctrl_ring = true;
    want.backend_domid = 0;
    struct nf_dev *d = open_dev(t, &want);
    const struct nf_dev_info *in = nf_dev_get_info(d);
    assert_int_equal(in->nr_queues, 2);
    assert_true(in->split_evtchn && in->sg && in->gso_tcpv4 && in->gso_tcpv6);
    assert_true(in->csum_offload && in->ipv6_csum_offload);
    assert_true(in->multicast && in->dynamic_multicast && in->ctrl_ring);
    assert_int_equal(in->xdp_headroom, 0);
    assert_int_equal(in->mtu, 1500);
    const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, (uint8_t)t->guest[0] };
    assert_memory_equal(in->mac, mac, 6);
    /* netif.h's keys for two queues with split channels. */
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "2");
    assert_string_equal(fe_key(t, "tx-ring-ref"), "");
    assert_string_equal(fe_key(t, "event-channel"), "");
    assert_string_not_equal(fe_key(t, "queue-1/tx-ring-ref"), "");
    assert_string_not_equal(fe_key(t, "queue-1/rx-ring-ref"), "");
    assert_string_not_equal(fe_key(t, "queue-0/event-channel-tx"), "");
    assert_string_not_equal(fe_key(t, "queue-0/event-channel-rx"), "");
    assert_string_equal(fe_key(t, "queue-0/event-channel"), "");
    assert_string_equal(fe_key(t, "request-rx-copy"), "1");
    assert_string_equal(fe_key(t, "feature-rx-notify"), "1");
    assert_string_equal(fe_key(t, "feature-sg"), "1");
    assert_string_equal(fe_key(t, "feature-gso-tcpv4"), "1");
    assert_string_equal(fe_key(t, "feature-gso-tcpv6"), "1");
    assert_string_equal(fe_key(t, "feature-ipv6-csum-offload"), "1");
    assert_string_equal(fe_key(t, "feature-no-csum-offload"), "");
    assert_string_equal(fe_key(t, "request-multicast-control"), "1");
    assert_string_equal(fe_key(t, "xdp-headroom"), "0");
    assert_string_not_equal(fe_key(t, "ctrl-ring-ref"), "");
    assert_string_not_equal(fe_key(t, "event-channel-ctrl"), "");
    assert_string_equal(fe_key(t, "state"), "4");
    /* The control ring answers. */
    uint32_t data = 0;
    assert_int_equal(nf_dev_ctrl(d, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &data),
                     XEN_NETIF_CTRL_STATUS_SUCCESS);
    assert_int_equal(data, 128);
    assert_int_equal(nf_dev_ctrl(d, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 0, 0, 0, NULL),
                     XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
    /* Frames on both queues, one slot and a multi-slot one. */
    roundtrip(d, 0, 60);
    roundtrip(d, 1, 9000);
    assert_int_equal(nf_dev_check(d), 0);
    nf_dev_free(d);
    assert_string_equal(fe_key(t, "state"), "6");
}

static void test_frontend_features_off(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    start_backend(t, &o);
    struct nf_features want;
    nf_features_default(&want);
    want.max_queues = 1;
    want.sg = want.gso_tcpv4 = want.gso_tcpv6 = false;
    want.csum_offload = want.ipv6_csum_offload = false;
    want.split_evtchn = want.rx_notify = false;
    want.xdp_headroom = -1;
    struct nf_dev *d = open_dev(t, &want);
    const struct nf_dev_info *in = nf_dev_get_info(d);
    assert_int_equal(in->nr_queues, 1);
    assert_false(in->split_evtchn || in->sg || in->gso_tcpv4 || in->gso_tcpv6);
    assert_false(in->csum_offload || in->ipv6_csum_offload || in->multicast || in->ctrl_ring);
    assert_int_equal(in->xdp_headroom, -1);
    /* One queue: flat keys; the count still written, as Linux does when
     * the backend offers multi-queue. */
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "1");
    assert_string_not_equal(fe_key(t, "tx-ring-ref"), "");
    assert_string_not_equal(fe_key(t, "event-channel"), "");
    assert_string_equal(fe_key(t, "event-channel-tx"), "");
    assert_string_equal(fe_key(t, "queue-0/tx-ring-ref"), "");
    assert_string_equal(fe_key(t, "feature-sg"), "0");
    assert_string_equal(fe_key(t, "feature-gso-tcpv4"), "0");
    assert_string_equal(fe_key(t, "feature-gso-tcpv6"), "0");
    assert_string_equal(fe_key(t, "feature-ipv6-csum-offload"), "0");
    assert_string_equal(fe_key(t, "feature-no-csum-offload"), "1");
    assert_string_equal(fe_key(t, "feature-rx-notify"), "");
    assert_string_equal(fe_key(t, "request-multicast-control"), "");
    assert_string_equal(fe_key(t, "xdp-headroom"), "");
    assert_string_equal(fe_key(t, "ctrl-ring-ref"), "");
    assert_int_equal(nf_dev_ctrl(d, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, NULL),
                     -EOPNOTSUPP);
    /* Without sg a frame is one slot. */
    uint8_t f[5000] = { 0 };
    assert_int_equal(nf_send(nf_dev_queue(d, 0), f, sizeof(f), NULL), -EMSGSIZE);
    roundtrip(d, 0, 1514);
    nf_dev_free(d);
}

static void test_backend_offers_little(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = { .rx_copy = true, .max_queues = -1, .no_csum = true };
    start_backend(t, &o);
    struct nf_dev *d = open_dev(t, NULL);
    const struct nf_dev_info *in = nf_dev_get_info(d);
    assert_int_equal(in->nr_queues, 1);
    assert_false(in->split_evtchn || in->sg || in->gso_tcpv4 || in->csum_offload);
    assert_int_equal(in->xdp_headroom, -1);
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "");
    assert_string_not_equal(fe_key(t, "event-channel"), "");
    /* What the frontend can take is still said. */
    assert_string_equal(fe_key(t, "feature-sg"), "1");
    struct nf_tx_meta gso = { .gso_type = XEN_NETIF_GSO_TYPE_TCPV4, .gso_size = 1448 };
    uint8_t f[100] = { 0 };
    assert_int_equal(nf_send(nf_dev_queue(d, 0), f, sizeof(f), &gso), -EOPNOTSUPP);
    roundtrip(d, 0, 100);
    nf_dev_free(d);
}

static void test_refusals(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    o.rx_copy = false;
    start_backend(t, &o);
    struct nf_dev *d = NULL;
    char err[256];
    struct nf_features want;
    nf_features_default(&want);
    want.timeout_ms = 2000;
    assert_int_equal(nf_dev_open(fe_world_guest0(t), DEVID, &want, &d, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "copying receive path"));
    /* A vif the toolstack gave no MAC. */
    char path[128];
    snprintf(path, sizeof(path), "/local/domain/%u/device/vif/%u/mac", t->guest[0], DEVID);
    assert_true(xs_rm(t->h0, XBT_NULL, path));
    kill(t->backend, SIGKILL);
    waitpid(t->backend, NULL, 0);
    /* The next backend's InitWait, not this one's, starts the handshake. */
    snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/state", t->guest[0], DEVID);
    assert_true(xs_write(t->h0, XBT_NULL, path, "1", 1));
    o.rx_copy = true;
    start_backend(t, &o);
    assert_int_equal(nf_dev_open(fe_world_guest0(t), DEVID, &want, &d, err, sizeof(err)), -EPROTO);
    assert_non_null(strstr(err, "mac"));
    /* No vif at all. */
    assert_int_equal(nf_dev_open(fe_world_guest0(t), 7, &want, &d, err, sizeof(err)), -ENOENT);
}

static void test_close_and_reconnect(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    start_backend(t, &o);
    struct nf_features want;
    nf_features_default(&want);
    want.max_queues = 3;
    struct nf_dev *d = open_dev(t, &want);
    assert_int_equal(nf_dev_nr_queues(d), 3);
    roundtrip(d, 2, 200);
    assert_int_equal(nf_dev_close(d), 0);
    assert_string_equal(fe_key(t, "state"), "6");
    nf_dev_free(d);
    /* Fewer queues now: the old queue-N keys must not linger. */
    want.max_queues = 1;
    want.split_evtchn = false;
    d = open_dev(t, &want);
    assert_string_equal(fe_key(t, "queue-2/tx-ring-ref"), "");
    assert_string_equal(fe_key(t, "queue-0/event-channel-tx"), "");
    assert_string_equal(fe_key(t, "multi-queue-num-queues"), "1");
    roundtrip(d, 0, 3000);
    char err[256];
    assert_int_equal(nf_dev_reconnect(d, err, sizeof(err)), 0);
    assert_int_equal(nf_dev_get_info(d)->connects, 2);
    roundtrip(d, 0, 3000);
    nf_dev_free(d);
}

static void test_backend_closing_seen(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    start_backend(t, &o);
    struct nf_dev *d = open_dev(t, NULL);
    char path[128];
    snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u/state", t->guest[0], DEVID);
    kill(t->backend, SIGKILL); /* nobody rewrites the state behind us */
    waitpid(t->backend, NULL, 0);
    t->backend = 0;
    assert_true(xs_write(t->h0, XBT_NULL, path, "5", 1));
    int ev = 0;
    for (int i = 0; i < 100 && !ev; i++) {
        struct pollfd p = { .fd = nf_dev_watch_fd(d), .events = POLLIN };
        poll(&p, 1, 20);
        ev = nf_dev_check(d);
    }
    assert_int_equal(ev, NF_DEV_EV_CLOSING);
    assert_true(xs_write(t->h0, XBT_NULL, path, "6", 1));
    assert_int_equal(nf_dev_close(d), 0);
    nf_dev_free(d);
}

/* ---- the CLI ---- */

/* Both ends of guest g's vif Connected (a peer must be, before frames to
 * it are sent: the fake drops what it cannot deliver). */
static void wait_connected(struct fe_world *t, unsigned g)
{
    char fe[128], be[128];
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%u/state", t->guest[g], DEVID);
    snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%u/state", t->guest[g], DEVID);
    for (int i = 0; i < 500; i++) {
        unsigned l1, l2;
        char *a = xs_read(t->h0, XBT_NULL, fe, &l1), *b = xs_read(t->h0, XBT_NULL, be, &l2);
        bool up = a && b && !strcmp(a, "4") && !strcmp(b, "4");
        free(a);
        free(b);
        if (up)
            return;
        usleep(20000);
    }
    fail_msg("guest %u's vif never connected", g);
}

static int cli(struct fe_world *t, unsigned g, const char *args)
{
    return fe_sh("%s --dir %s --domid %u %s >%s/cli%u.out 2>&1", simworld_bin("simnetfront"),
                 t->w.dir, t->guest[g], args, t->w.dir, g);
}

static const char *cli_output(struct fe_world *t, unsigned g)
{
    char name[16];
    snprintf(name, sizeof(name), "cli%u.out", g);
    return fe_world_file(t, name);
}

/* A number in guest g's JSON output, -1 if absent. */
static long cli_num(struct fe_world *t, unsigned g, const char *key)
{
    char needle[64];
    snprintf(needle, sizeof(needle), "\"%s\":", key);
    const char *out = cli_output(t, g);
    const char *p = strstr(out, needle);
    if (!p)
        print_message("# cli output: %s\n", out);
    return p ? strtol(p + strlen(needle), NULL, 10) : -1;
}

static void gen_to_self(struct fe_world *t, const char *extra, long count)
{
    char mac[24], args[512];
    mac_of(t->guest[0], mac, sizeof(mac));
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --count %ld --flows 4 --expect-echo "
             "--json %s", mac, count, extra);
    int rc = cli(t, 0, args);
    if (rc)
        print_message("# cli output: %s\n", cli_output(t, 0));
    assert_int_equal(rc, 0);
    assert_int_equal(cli_num(t, 0, "sent"), count);
    assert_int_equal(cli_num(t, 0, "echoes"), count);
    assert_int_equal(cli_num(t, 0, "bad"), 0);
    assert_int_equal(cli_num(t, 0, "lost"), 0);
    assert_int_equal(cli_num(t, 0, "out_of_order"), 0);
}

static void test_cli_gen_verified_through_loop(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    start_backend(t, &o);
    gen_to_self(t, "--size 64 --queues 2", 500);
    gen_to_self(t, "--size 1514 --rate 20000", 300);
    gen_to_self(t, "--size 1000 --no-csum-offload --no-split-evtchn", 200);
    /* Above the MTU: TCP with a GSO extra, passed back as it came. */
    gen_to_self(t, "--size 30000", 100);
    assert_true(cli_num(t, 0, "rx_gso") >= 100);
    gen_to_self(t, "--size 65535 --ipv6", 50);
    assert_true(cli_num(t, 0, "rx_gso") >= 50);
    assert_true(cli_num(t, 0, "rx_csum_blank") >= 50);
    /* Without GSO such a frame cannot go. */
    assert_int_equal(cli(t, 0, "--mode gen --size 30000 --no-gso --count 1"), 2);
}

static void test_cli_gen_catches_corruption(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    o.corrupt = true;
    start_backend(t, &o);
    char mac[24], args[256];
    mac_of(t->guest[0], mac, sizeof(mac));
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --count 50 --size 200 --json "
             "--linger-ms 200", mac);
    assert_int_equal(cli(t, 0, args), 1);
    assert_int_equal(cli_num(t, 0, "bad"), 50);
    assert_int_equal(cli_num(t, 0, "echoes"), 0);
}

static void test_cli_echo_peer(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    o.cross = true;
    start_backend(t, &o);
    pid_t echo = spawn("exec %s --dir %s --domid %u --mode echo --json >%s/cli1.out 2>&1",
                       simworld_bin("simnetfront"), t->w.dir, t->guest[1], t->w.dir);
    assert_true(echo > 0);
    wait_connected(t, 1);
    char mac[24], args[256];
    mac_of(t->guest[1], mac, sizeof(mac));
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --count 400 --size 3000 --flows 3 "
             "--expect-echo --json --timeout-ms 20000", mac);
    int rc = cli(t, 0, args);
    kill(echo, SIGTERM);
    assert_int_equal(wait_exit(echo), 0);
    if (rc)
        print_message("# gen: %s\n# echo: %s\n", cli_output(t, 0), cli_output(t, 1));
    assert_int_equal(rc, 0);
    assert_int_equal(cli_num(t, 0, "echoes"), 400);
    assert_true(cli_num(t, 0, "p50") > 0);
    assert_int_equal(cli_num(t, 1, "echoed"), 400);
    assert_int_equal(cli_num(t, 1, "echo_dropped"), 0);
}

static void test_cli_peer_to_sink(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    o.cross = true;
    start_backend(t, &o);
    pid_t sink = spawn("exec %s --dir %s --domid %u --mode sink --count 600 --expect 600 "
                       "--seconds 60 --json >%s/cli1.out 2>&1",
                       simworld_bin("simnetfront"), t->w.dir, t->guest[1], t->w.dir);
    wait_connected(t, 1);
    char mac[24], args[256];
    mac_of(t->guest[1], mac, sizeof(mac));
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --count 600 --size 800 --flows 6 "
             "--json --linger-ms 100 --timeout-ms 20000", mac);
    assert_int_equal(cli(t, 0, args), 0);
    int rc = wait_exit(sink);
    if (rc)
        print_message("# sink: %s\n", cli_output(t, 1));
    assert_int_equal(rc, 0);
    assert_int_equal(cli_num(t, 1, "peer_messages"), 600);
    assert_int_equal(cli_num(t, 1, "lost"), 0);
}

static void test_cli_barrier_and_seconds(void **state)
{
    struct fe_world *t = *state;
    struct fake_netback_opts o = full_backend();
    start_backend(t, &o);
    char mac[24], barrier[300];
    mac_of(t->guest[0], mac, sizeof(mac));
    snprintf(barrier, sizeof(barrier), "%s/go", t->w.dir);
    pid_t gen = spawn("exec %s --dir %s --domid %u --mode gen --dst-mac %s --count 100 "
                      "--expect-echo --barrier %s --json >%s/cli0.out 2>&1",
                      simworld_bin("simnetfront"), t->w.dir, t->guest[0], mac, barrier,
                      t->w.dir);
    wait_connected(t, 0);
    usleep(200000);
    assert_int_equal(waitpid(gen, NULL, WNOHANG), 0); /* held at the barrier */
    assert_int_equal(fe_sh("touch %s", barrier), 0);
    assert_int_equal(wait_exit(gen), 0);
    assert_int_equal(cli_num(t, 0, "echoes"), 100);
    /* Bounded by time, paced. */
    char args[256];
    snprintf(args, sizeof(args), "--mode gen --dst-mac %s --seconds 0.3 --rate 2000 --size 128 "
             "--expect-echo --json", mac);
    assert_int_equal(cli(t, 0, args), 0);
    assert_true(cli_num(t, 0, "sent") > 0);
    assert_int_equal(cli_num(t, 0, "echoes"), cli_num(t, 0, "sent"));
    /* The smallest IPv6 test frame is larger than 64 bytes. */
    assert_int_equal(cli(t, 0, "--mode gen --size 64 --ipv6 --count 1"), 2);
}

static void test_cli_no_backend_is_negotiation_failure(void **state)
{
    struct fe_world *t = *state;
    assert_int_equal(cli(t, 0, "--mode gen --timeout-ms 300 --count 1"), 3);
    assert_non_null(strstr(cli_output(t, 0), "InitWait"));
    assert_int_equal(cli(t, 0, "--mode bogus"), 2);
    assert_int_equal(cli(t, 0, "--mode tap"), 2); /* tap needs --netns */
}

/* ---- TAP: two namespaces' stacks over the rings ---- */

static bool wait_addr(const char *ns, const char *addr)
{
    for (int i = 0; i < 200; i++) {
        if (fe_sh("ip -n %s addr show dev eth0 2>/dev/null | grep -q 'inet %s'", ns, addr) ==
            0)
            return true;
        usleep(50000);
    }
    return false;
}

static void test_tap_namespaces_ping_and_iperf(void **state)
{
    struct fe_world *t = *state;
    if (geteuid() != 0 || fe_sh("command -v iperf3 >/dev/null && command -v ping >/dev/null"))
        skip();
    for (int i = 0; i < 2; i++) {
        snprintf(netns[i], sizeof(netns[i]), "scnf%d-%d", i, (int)getpid());
        if (fe_sh("ip netns add %s 2>/dev/null", netns[i])) {
            netns[i][0] = 0;
            skip();
        }
    }
    struct fake_netback_opts o = full_backend();
    o.cross = true;
    start_backend(t, &o);
    pid_t tap[2];
    const char *addr[2] = { "10.77.0.1", "10.77.0.2" };
    for (int i = 0; i < 2; i++) {
        tap[i] = spawn("exec %s --dir %s --domid %u --mode tap --netns %s --addr %s/24 --json "
                       ">%s/cli%d.out 2>&1", simworld_bin("simnetfront"), t->w.dir, t->guest[i],
                       netns[i], addr[i], t->w.dir, i);
        assert_true(tap[i] > 0);
    }
    for (int i = 0; i < 2; i++)
        if (!wait_addr(netns[i], addr[i]))
            fail_msg("eth0 in %s never got %s: %s", netns[i], addr[i], cli_output(t, i));
    int ping = fe_sh("ip netns exec %s ping -c 3 -i 0.2 -W 2 %s >/dev/null", netns[0], addr[1]);
    pid_t server = spawn("exec ip netns exec %s iperf3 -s -1 -B %s >/dev/null 2>&1", netns[1],
                         addr[1]);
    int iperf = -1;
    for (int i = 0; i < 20 && iperf != 0; i++) {
        usleep(100000);
        iperf = fe_sh("ip netns exec %s iperf3 -c %s -n 16M >%s/iperf.out 2>&1", netns[0],
                        addr[1], t->w.dir);
    }
    kill(server, SIGKILL);
    wait_exit(server);
    int rc[2];
    for (int i = 0; i < 2; i++) {
        kill(tap[i], SIGTERM);
        rc[i] = wait_exit(tap[i]);
    }
    assert_int_equal(ping, 0);
    assert_int_equal(iperf, 0);
    assert_int_equal(rc[0], 0);
    assert_int_equal(rc[1], 0);
    /* TSO frames went on the rings as GSO extras and came out as such. */
    assert_true(cli_num(t, 0, "to_ring_gso") > 0);
    assert_true(cli_num(t, 1, "from_ring_gso") > 0);
    assert_true(cli_num(t, 1, "to_ring") > 0);
    assert_int_equal(cli_num(t, 0, "dropped_to_ring"), 0);
    assert_int_equal(cli_num(t, 1, "dropped_from_ring"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_everything_negotiated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frontend_features_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_offers_little, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_and_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backend_closing_seen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_gen_verified_through_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_gen_catches_corruption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_echo_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_peer_to_sink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_barrier_and_seconds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cli_no_backend_is_negotiation_failure, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tap_namespaces_ping_and_iperf, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
