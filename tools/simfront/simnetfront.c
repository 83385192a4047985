/*
 * simnetfront - a simulated guest that connects a vif like Linux netfront
 * and moves Ethernet frames through its rings.
 *
 *   simnetfront --dir DIR --domid N [--devid 0] [--backend-domid B]
 *       [--queues N] [--no-sg] [--no-gso] [--no-csum-offload]
 *       [--no-ipv6-csum-offload] [--no-split-evtchn] [--no-rx-notify]
 *       [--multicast] [--ctrl-ring] [--xdp-headroom N] [--timeout-ms MS]
 *       --mode gen|sink|echo|tap  [--json] [--quiet]
 *   gen:  [--size BYTES] [--dst-mac MAC] [--rate PPS] [--count N | --seconds S]
 *         [--flows N] [--ipv6] [--src-ip IP] [--dst-ip IP] [--linger-ms MS]
 *         [--expect-echo] [--expect N] [--max-lost N]
 *         [--barrier PATH] [--ready-fd R] [--start-fd S]
 *   sink: [--count N] [--seconds S] [--expect N] [--max-lost N]
 *   echo: [--count N] [--seconds S]
 *   tap:  --netns NAME [--ifname eth0] [--addr 10.0.0.2/24] [--mtu N]
 *
 * gen sends --count test frames (netframe.h) of --size bytes (frames above
 * the MTU go as TCP with a GSO extra), round robin over --flows, each flow
 * on queue flow % queues, and verifies whatever comes back: its own frames
 * reflected by an echo peer (latency), or a peer generator's (order per
 * flow, no duplicate, no gap).  sink only receives and verifies; echo
 * reflects every frame to its source MAC (netgen.h); tap carries a network
 * namespace's stack (nettap.h).  --barrier PATH / --start-fd hold gen's
 * first frame, once connected, until the file exists / a byte comes.
 * gen, sink and echo stop on SIGTERM/SIGINT too; tap only then.
 * Exit: 0 ok, 1 bad data, duplicates, errors or loss above --max-lost,
 * 2 usage, 3 negotiation failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "netfront.h"
#include "netframe.h"
#include "netgen.h"
#include "nettap.h"

#define START_WAIT_MS 120000

enum mode { MODE_GEN, MODE_SINK, MODE_ECHO, MODE_TAP };

struct opts {
    const char *dir;
    long domid;
    uint32_t devid;
    struct nf_features want;
    enum mode mode;
    struct ng_opts gen;         /* gen, sink, echo */
    bool have_src_ip;
    uint64_t max_lost;
    const char *barrier;
    int ready_fd, start_fd;
    struct nettap_opts tap;
    bool json, quiet;
};

/* What one sender's stream looks like on one flow, as received. */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: simnetfront --dir DIR --domid N [--devid N] --mode gen|sink|echo|tap\n"
            "  --backend-domid B --queues N (4) --timeout-ms MS (10000)\n"
            "  --no-sg --no-gso --no-csum-offload --no-ipv6-csum-offload --no-split-evtchn\n"
            "  --no-rx-notify --multicast --ctrl-ring --xdp-headroom N (-1: never)\n"
            "  gen: --size BYTES (1514) --dst-mac MAC (broadcast) --rate PPS (0: max)\n"
            "       --count N (1000) | --seconds S  --flows N (1) --ipv6 --src-ip --dst-ip\n"
            "       --linger-ms MS (1000) --expect-echo --expect N --max-lost N\n"
            "       --barrier PATH --ready-fd R --start-fd S\n"
            "  sink/echo: --count N --seconds S   tap: --netns NAME --ifname IF --addr A --mtu N\n"
            "  --json --quiet\n"
            "exit: 0 ok, 1 data/loss/errors, 2 usage, 3 negotiation failed\n");
}


static int parse_mac(const char *s, uint8_t mac[NFR_ETH_ALEN])
{
    unsigned v[6];
    char tail;
    if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
               &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

static int parse_ip(const char *s, bool *v6, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out) == 1) {
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *v6 = true;
        return 0;
    }
    return -1;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { O_BEDOM = 256, O_NOSG, O_NOGSO, O_NOCSUM, O_NOCSUM6, O_NOSPLIT, O_NORXN, O_MCAST,
           O_CTRL, O_XDP, O_TMO, O_DMAC, O_RATE, O_FLOWS, O_IPV6, O_SIP, O_DIP, O_LINGER,
           O_EXPECHO, O_EXPECT, O_MAXLOST, O_BARRIER, O_READY, O_START, O_NETNS, O_IFNAME,
           O_ADDR, O_MTU };
    static const struct option lo[] = {
        { "dir", required_argument, NULL, 'd' },
        { "domid", required_argument, NULL, 'D' },
        { "devid", required_argument, NULL, 'v' },
        { "backend-domid", required_argument, NULL, O_BEDOM },
        { "queues", required_argument, NULL, 'q' },
        { "no-sg", no_argument, NULL, O_NOSG },
        { "no-gso", no_argument, NULL, O_NOGSO },
        { "no-csum-offload", no_argument, NULL, O_NOCSUM },
        { "no-ipv6-csum-offload", no_argument, NULL, O_NOCSUM6 },
        { "no-split-evtchn", no_argument, NULL, O_NOSPLIT },
        { "no-rx-notify", no_argument, NULL, O_NORXN },
        { "multicast", no_argument, NULL, O_MCAST },
        { "ctrl-ring", no_argument, NULL, O_CTRL },
        { "xdp-headroom", required_argument, NULL, O_XDP },
        { "timeout-ms", required_argument, NULL, O_TMO },
        { "mode", required_argument, NULL, 'm' },
        { "size", required_argument, NULL, 's' },
        { "dst-mac", required_argument, NULL, O_DMAC },
        { "rate", required_argument, NULL, O_RATE },
        { "count", required_argument, NULL, 'n' },
        { "seconds", required_argument, NULL, 'S' },
        { "flows", required_argument, NULL, O_FLOWS },
        { "ipv6", no_argument, NULL, O_IPV6 },
        { "src-ip", required_argument, NULL, O_SIP },
        { "dst-ip", required_argument, NULL, O_DIP },
        { "linger-ms", required_argument, NULL, O_LINGER },
        { "expect-echo", no_argument, NULL, O_EXPECHO },
        { "expect", required_argument, NULL, O_EXPECT },
        { "max-lost", required_argument, NULL, O_MAXLOST },
        { "barrier", required_argument, NULL, O_BARRIER },
        { "ready-fd", required_argument, NULL, O_READY },
        { "start-fd", required_argument, NULL, O_START },
        { "netns", required_argument, NULL, O_NETNS },
        { "ifname", required_argument, NULL, O_IFNAME },
        { "addr", required_argument, NULL, O_ADDR },
        { "mtu", required_argument, NULL, O_MTU },
        { "json", no_argument, NULL, 'j' },
        { "quiet", no_argument, NULL, 'z' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->dir = getenv("XENSIM_DIR");
    o->domid = -1;
    nf_features_default(&o->want);
    o->mode = MODE_GEN;
    o->gen.size = 1514;
    memset(o->gen.dst_mac, 0xff, sizeof(o->gen.dst_mac));
    o->gen.flows = 1;
    o->gen.linger_ms = 1000;
    o->max_lost = UINT64_MAX;
    o->ready_fd = o->start_fd = -1;
    o->tap.ifname = "eth0";
    bool dst_ip_v6 = false, have_dst_ip = false, src_v6 = false, have_max_lost = false;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        errno = 0;
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'D': o->domid = strtol(optarg, &end, 10);
            if (*end || o->domid <= 0 || o->domid >= DOMID_FIRST_RESERVED) return -1;
            break;
        case 'v': o->devid = (uint32_t)strtoul(optarg, &end, 10);
            if (*end) return -1;
            break;
        case O_BEDOM: o->want.backend_domid = (int)strtol(optarg, &end, 10);
            if (*end || o->want.backend_domid < 0) return -1;
            break;
        case 'q': o->want.max_queues = (unsigned)strtoul(optarg, &end, 10);
            if (*end || !o->want.max_queues || o->want.max_queues > NF_MAX_QUEUES) return -1;
            break;
        case O_NOSG: o->want.sg = false; break;
        case O_NOGSO: o->want.gso_tcpv4 = o->want.gso_tcpv6 = false; break;
        case O_NOCSUM: o->want.csum_offload = o->want.ipv6_csum_offload = false; break;
        case O_NOCSUM6: o->want.ipv6_csum_offload = false; break;
        case O_NOSPLIT: o->want.split_evtchn = false; break;
        case O_NORXN: o->want.rx_notify = false; break;
        case O_MCAST: o->want.multicast = true; break;
        case O_CTRL: o->want.ctrl_ring = true; break;
        case O_XDP: o->want.xdp_headroom = (int)strtol(optarg, &end, 10);
            if (*end || o->want.xdp_headroom < -1 || o->want.xdp_headroom > 4096) return -1;
            break;
        case O_TMO: o->want.timeout_ms = (unsigned)strtoul(optarg, &end, 10);
            if (*end) return -1;
            break;
        case 'm':
            if (!strcmp(optarg, "gen")) o->mode = MODE_GEN;
            else if (!strcmp(optarg, "sink")) o->mode = MODE_SINK;
            else if (!strcmp(optarg, "echo")) o->mode = MODE_ECHO;
            else if (!strcmp(optarg, "tap")) o->mode = MODE_TAP;
            else return -1;
            break;
        case 's': o->gen.size = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || o->gen.size < 64 || o->gen.size > NFR_MAX_FRAME) return -1;
            break;
        case O_DMAC: if (parse_mac(optarg, o->gen.dst_mac)) return -1; break;
        case O_RATE: o->gen.rate = strtod(optarg, &end);
            if (*end || o->gen.rate < 0) return -1;
            break;
        case 'n': o->gen.count = strtoull(optarg, &end, 10);
            if (*end) return -1;
            break;
        case 'S': o->gen.seconds = strtod(optarg, &end);
            if (*end || o->gen.seconds <= 0) return -1;
            break;
        case O_FLOWS: o->gen.flows = (unsigned)strtoul(optarg, &end, 10);
            if (*end || !o->gen.flows || o->gen.flows > NFR_MAX_FLOWS) return -1;
            break;
        case O_IPV6: o->gen.ipv6 = true; break;
        case O_SIP: if (parse_ip(optarg, &src_v6, o->gen.src_ip)) return -1;
            o->have_src_ip = true;
            break;
        case O_DIP: if (parse_ip(optarg, &dst_ip_v6, o->gen.dst_ip)) return -1;
            have_dst_ip = true;
            break;
        case O_LINGER: o->gen.linger_ms = (unsigned)strtoul(optarg, &end, 10);
            if (*end) return -1;
            break;
        case O_EXPECHO: o->gen.expect_echo = true; break;
        case O_EXPECT: o->gen.expect = strtoull(optarg, &end, 10);
            if (*end) return -1;
            break;
        case O_MAXLOST: o->max_lost = strtoull(optarg, &end, 10);
            if (*end) return -1;
            have_max_lost = true;
            break;
        case O_BARRIER: o->barrier = optarg; break;
        case O_READY: o->ready_fd = (int)strtol(optarg, &end, 10);
            if (*end || o->ready_fd < 0) return -1;
            break;
        case O_START: o->start_fd = (int)strtol(optarg, &end, 10);
            if (*end || o->start_fd < 0) return -1;
            break;
        case O_NETNS: o->tap.netns = optarg; break;
        case O_IFNAME: o->tap.ifname = optarg;
            if (!*optarg || strlen(optarg) >= 16) return -1;
            break;
        case O_ADDR: o->tap.addr = optarg; break;
        case O_MTU: o->tap.mtu = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->tap.mtu < 68 || o->tap.mtu > 65521) return -1;
            break;
        case 'j': o->json = true; break;
        case 'z': o->quiet = true; break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind != argc || !o->dir || !*o->dir || o->domid < 0)
        return -1;
    if ((o->have_src_ip && src_v6 != o->gen.ipv6) || (have_dst_ip && dst_ip_v6 != o->gen.ipv6))
        return -1;
    if (o->mode == MODE_TAP && !o->tap.netns)
        return -1;
    if (o->mode == MODE_GEN && !o->gen.count && o->gen.seconds == 0)
        o->gen.count = 1000;
    if (!have_dst_ip) { /* 10.0.0.254 / fd00::fe */
        if (o->gen.ipv6) {
            o->gen.dst_ip[0] = 0xfd;
            o->gen.dst_ip[15] = 0xfe;
        } else {
            o->gen.dst_ip[0] = 10;
            o->gen.dst_ip[3] = 254;
        }
    }
    if (!o->have_src_ip) { /* 10.0.<domid> / fd00::<domid> */
        if (o->gen.ipv6) {
            o->gen.src_ip[0] = 0xfd;
            o->gen.src_ip[14] = (uint8_t)(o->domid >> 8);
            o->gen.src_ip[15] = (uint8_t)o->domid;
        } else {
            o->gen.src_ip[0] = 10;
            o->gen.src_ip[2] = (uint8_t)(o->domid >> 8);
            o->gen.src_ip[3] = (uint8_t)o->domid;
        }
    }
    if (!have_max_lost && (o->gen.expect_echo || o->gen.expect))
        o->max_lost = 0;
    return 0;
}


static void signal_fd(int fd, char c)
{
    if (fd >= 0 && write(fd, &c, 1) != 1)
        fprintf(stderr, "simnetfront: ready-fd: %s\n", strerror(errno));
}

/* --start-fd: one byte; --barrier: the file exists.  Bounded. */
static int wait_for_start(const struct opts *o)
{
    if (o->start_fd >= 0) {
        struct pollfd p = { .fd = o->start_fd, .events = POLLIN };
        char go;
        if (poll(&p, 1, START_WAIT_MS) <= 0 || read(o->start_fd, &go, 1) != 1)
            return -ETIMEDOUT;
    }
    if (o->barrier) {
        uint64_t deadline = sc_clock_ms() + START_WAIT_MS;
        struct stat sb;
        while (stat(o->barrier, &sb) < 0) {
            if (sc_clock_ms() > deadline || stop_flag)
                return -ETIMEDOUT;
            usleep(5000);
        }
    }
    return 0;
}

/* ---- report ---- */

struct run {
    struct opts *o;
    struct nf_dev *dev;
    const struct nf_dev_info *in;
    struct ng_result res;
    struct nf_queue_stats t;    /* summed over the queues */
};

static void sum_queues(struct run *r)
{
    struct nf_queue_stats *t = &r->t;
    memset(t, 0, sizeof(*t));
    for (unsigned q = 0; q < r->in->nr_queues; q++) {
        const struct nf_queue_stats *s = nf_queue_get_stats(nf_dev_queue(r->dev, q));
        t->tx_frames_error += s->tx_frames_error;
        t->tx_frames_dropped += s->tx_frames_dropped;
        t->tx_kicks_sent += s->tx_kicks_sent;
        t->rx_kicks_sent += s->rx_kicks_sent;
        t->kicks_received_tx += s->kicks_received_tx;
        t->kicks_received_rx += s->kicks_received_rx;
        t->rx_errors += s->rx_errors;
        t->rx_gso += s->rx_gso;
        t->rx_csum_blank += s->rx_csum_blank;
        t->grant_busy += s->grant_busy;
        t->bad_responses += s->bad_responses;
    }
}

static json_t *negotiated_json(const struct nf_dev_info *in)
{
    return json_pack("{s:i, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:i, s:i}", "queues",
                     (int)in->nr_queues, "split_evtchn", in->split_evtchn, "sg", in->sg,
                     "gso_tcpv4", in->gso_tcpv4, "gso_tcpv6", in->gso_tcpv6, "csum_offload",
                     in->csum_offload, "ipv6_csum_offload", in->ipv6_csum_offload, "multicast",
                     in->multicast, "ctrl_ring", in->ctrl_ring, "xdp_headroom",
                     in->xdp_headroom, "mtu", (int)in->mtu);
}

static void print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(j);
}

static const char *mode_str(enum mode m)
{
    static const char *const names[] = { "gen", "sink", "echo", "tap" };
    return names[m];
}

static double per_s(uint64_t v, double secs) { return secs > 0 ? (double)v / secs : 0; }

static void report(struct run *r, double secs, int status)
{
    const struct ng_result *x = &r->res;
    const struct nf_queue_stats *t = &r->t;
    uint64_t bad = x->bad_csum + x->bad_data;
    char mac[24];
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", r->in->mac[0], r->in->mac[1],
             r->in->mac[2], r->in->mac[3], r->in->mac[4], r->in->mac[5]);
    if (r->o->json) {
        print_json(json_pack(
            "{s:s, s:i, s:i, s:s, s:o, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
            "s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:{s:f, s:f}, s:I, s:I, s:I, "
            "s:I, s:I, s:I, s:I, s:I, s:s}",
            "mode", mode_str(r->o->mode), "domid", (int)r->o->domid, "devid",
            (int)r->in->devid, "mac", mac, "negotiated", negotiated_json(r->in), "seconds",
            secs, "sent", (json_int_t)x->sent, "sent_bytes", (json_int_t)x->sent_bytes,
            "received", (json_int_t)x->received, "received_bytes",
            (json_int_t)x->received_bytes, "verified", (json_int_t)(x->received - bad), "bad",
            (json_int_t)bad, "bad_csum", (json_int_t)x->bad_csum, "bad_data",
            (json_int_t)x->bad_data, "other", (json_int_t)x->other, "echoes",
            (json_int_t)x->echoes, "peer_messages", (json_int_t)x->peer_messages,
            "out_of_order", (json_int_t)x->out_of_order, "lost", (json_int_t)x->lost, "echoed",
            (json_int_t)x->echoed, "echo_dropped", (json_int_t)x->echo_dropped, "tx_errors",
            (json_int_t)t->tx_frames_error, "pps_tx", per_s(x->sent, secs), "pps_rx",
            per_s(x->received, secs), "mbit_tx", per_s(x->sent_bytes * 8, secs) / 1e6,
            "mbit_rx", per_s(x->received_bytes * 8, secs) / 1e6, "latency_us", "p50",
            x->p50_us, "p99", x->p99_us, "tx_dropped", (json_int_t)t->tx_frames_dropped,
            "rx_errors", (json_int_t)t->rx_errors, "rx_gso", (json_int_t)t->rx_gso,
            "rx_csum_blank", (json_int_t)t->rx_csum_blank, "kicks_sent",
            (json_int_t)(t->tx_kicks_sent + t->rx_kicks_sent), "kicks_received",
            (json_int_t)(t->kicks_received_tx + t->kicks_received_rx), "grant_busy",
            (json_int_t)t->grant_busy, "bad_responses", (json_int_t)t->bad_responses, "result",
            status ? "failed" : "ok"));
        return;
    }
    if (r->o->quiet)
        return;
    printf("vif %ld/%u (%s): %u queue(s), sg=%d gso4=%d gso6=%d csum=%d csum6=%d split=%d\n",
           r->o->domid, r->in->devid, mac, r->in->nr_queues, r->in->sg, r->in->gso_tcpv4,
           r->in->gso_tcpv6, r->in->csum_offload, r->in->ipv6_csum_offload,
           r->in->split_evtchn);
    printf("sent %" PRIu64 " (%.0f pps, %.1f Mbit/s), received %" PRIu64 " (%.0f pps, %.1f "
           "Mbit/s) in %.2f s\n", x->sent, per_s(x->sent, secs),
           per_s(x->sent_bytes * 8, secs) / 1e6, x->received, per_s(x->received, secs),
           per_s(x->received_bytes * 8, secs) / 1e6, secs);
    printf("echoes %" PRIu64 ", peer messages %" PRIu64 ", echoed %" PRIu64 " (dropped %" PRIu64
           ")\n", x->echoes, x->peer_messages, x->echoed, x->echo_dropped);
    printf("bad %" PRIu64 " (checksum %" PRIu64 ", data %" PRIu64 "), out of order %" PRIu64
           ", lost %" PRIu64 ", tx errors %" PRIu64 ", rx errors %" PRIu64 "\n", bad,
           x->bad_csum, x->bad_data, x->out_of_order, x->lost, t->tx_frames_error, t->rx_errors);
    if (x->echoes)
        printf("latency us: p50 %.1f  p99 %.1f\n", x->p50_us, x->p99_us);
}

static void report_tap(struct run *r, const struct nettap_stats *s, int status)
{
    if (r->o->json) {
        print_json(json_pack("{s:s, s:i, s:i, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                             "s:I, s:I, s:I, s:s}",
                             "mode", "tap", "domid", (int)r->o->domid, "devid",
                             (int)r->in->devid, "negotiated", negotiated_json(r->in), "to_ring",
                             (json_int_t)s->to_ring, "to_ring_bytes",
                             (json_int_t)s->to_ring_bytes, "to_ring_gso",
                             (json_int_t)s->to_ring_gso, "to_ring_csum_blank",
                             (json_int_t)s->to_ring_csum_blank, "csum_completed",
                             (json_int_t)s->csum_completed, "from_ring",
                             (json_int_t)s->from_ring, "from_ring_bytes",
                             (json_int_t)s->from_ring_bytes, "from_ring_gso",
                             (json_int_t)s->from_ring_gso, "from_ring_csum_blank",
                             (json_int_t)s->from_ring_csum_blank, "dropped_to_ring",
                             (json_int_t)s->dropped_to_ring, "dropped_from_ring",
                             (json_int_t)s->dropped_from_ring, "result",
                             status ? "failed" : "ok"));
    } else if (!r->o->quiet) {
        printf("tap %s: to ring %" PRIu64 " (%" PRIu64 " dropped), from ring %" PRIu64
               " (%" PRIu64 " dropped)\n", r->o->tap.ifname, s->to_ring, s->dropped_to_ring,
               s->from_ring, s->dropped_from_ring);
    }
}

/* ---- main ---- */

static int run_tap(struct run *r)
{
    struct nettap_stats ts;
    char err[256] = "";
    r->o->tap.stop = &stop_flag;
    int ret = nettap_run(r->dev, &r->o->tap, &ts, err, sizeof(err));
    if (ret < 0)
        fprintf(stderr, "simnetfront: tap: %s\n", err[0] ? err : strerror(-ret));
    report_tap(r, &ts, ret < 0);
    return ret < 0 ? 1 : 0;
}

/* 0 ok, 1 failed, 2 usage (a size the negotiation cannot carry). */
static int run_traffic(struct run *r)
{
    struct opts *o = r->o;
    static const enum ng_mode modes[] = { [MODE_GEN] = NG_GEN, [MODE_SINK] = NG_SINK,
                                          [MODE_ECHO] = NG_ECHO };
    o->gen.mode = modes[o->mode];
    o->gen.quiet = o->quiet;
    o->gen.stop = &stop_flag;
    struct ng_run *ng;
    int err = ng_create(r->dev, &o->gen, &ng);
    if (err < 0)
        return err == -EINVAL ? 2 : 1;
    signal_fd(o->ready_fd, 'c');
    if (wait_for_start(o) < 0) {
        fprintf(stderr, "simnetfront: start barrier not reached\n");
        ng_destroy(ng);
        return 1;
    }
    uint64_t t0 = sc_clock_ns();
    int dr = ng_drive(ng);
    double secs = (double)(sc_clock_ns() - t0) / 1e9;
    signal_fd(o->ready_fd, 'd');
    if (dr < 0 && dr != -ENODEV)
        fprintf(stderr, "simnetfront: %s\n", strerror(-dr));
    ng_get_result(ng, &r->res);
    ng_destroy(ng);
    sum_queues(r);
    const struct ng_result *x = &r->res;
    int status = dr < 0 || x->bad_csum || x->bad_data || x->out_of_order ||
                 r->t.tx_frames_error || r->t.rx_errors || r->t.grant_busy ||
                 r->t.bad_responses || x->lost > o->max_lost;
    report(r, secs, status);
    return status;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct xsim_guest *g = xsim_guest_open(o.dir, (domid_t)o.domid);
    if (!g) {
        fprintf(stderr, "simnetfront: cannot act as domain %ld in %s: %s\n", o.domid, o.dir,
                strerror(errno));
        return 3;
    }
    char err[256];
    struct run r = { .o = &o };
    int ret = nf_dev_open(g, o.devid, &o.want, &r.dev, err, sizeof(err));
    if (ret < 0) {
        fprintf(stderr, "simnetfront: negotiation failed: %s\n", err[0] ? err : strerror(-ret));
        signal_fd(o.ready_fd, 'f');
        xsim_guest_close(g);
        return 3;
    }
    r.in = nf_dev_get_info(r.dev);
    int status = o.mode == MODE_TAP ? run_tap(&r) : run_traffic(&r);
    fflush(stdout);
    int cr = nf_dev_close(r.dev);
    if (cr < 0) {
        fprintf(stderr, "simnetfront: disconnect: %s\n", strerror(-cr));
        if (!status)
            status = 1;
    }
    nf_dev_free(r.dev);
    xsim_guest_close(g);
    return status;
}
