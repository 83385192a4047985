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
 * reflects every frame to its source MAC; tap carries a namespace's stack.
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
#include "nettap.h"

#define HIST_BUCKETS 2048
#define MAX_PEERS 64
#define STALL_MS 15000
#define START_WAIT_MS 120000
#define SEND_BATCH 256
#define RX_CAP (NFR_MAX_FRAME + 1)

enum mode { MODE_GEN, MODE_SINK, MODE_ECHO, MODE_TAP };

struct opts {
    const char *dir;
    long domid;
    uint32_t devid;
    struct nf_features want;
    enum mode mode;
    uint32_t size;
    uint8_t dst_mac[NFR_ETH_ALEN];
    double rate, seconds;
    uint64_t count;
    unsigned flows;
    bool ipv6;
    uint8_t src_ip[16], dst_ip[16];
    bool have_src_ip;
    unsigned linger_ms;
    bool expect_echo;
    uint64_t expect;            /* peer messages, 0: unknown */
    uint64_t max_lost;
    const char *barrier;
    int ready_fd, start_fd;
    struct nettap_opts tap;
    bool json, quiet;
};

/* What one sender's stream looks like on one flow, as received. */
struct rx_flow {
    bool seen;
    uint32_t next;
};
struct peer {
    uint8_t mac[NFR_ETH_ALEN];
    struct rx_flow *flows;      /* NFR_MAX_FLOWS */
};

struct run {
    struct opts *o;
    struct nf_dev *dev;
    const struct nf_dev_info *in;
    unsigned nq;
    struct nfr_spec spec;
    struct nf_tx_meta tx_meta;
    uint8_t *txbuf, *rxbuf;
    uint32_t *tx_seq;           /* per flow */
    uint64_t sent, sent_bytes;
    uint64_t received, rx_bytes, bad_csum, bad_data, other;
    uint64_t echoes, peer_msgs, out_of_order, self_gaps, peer_gaps;
    uint64_t echoed, echo_dropped;
    uint64_t hist[HIST_BUCKETS], hist_n;
    struct peer peers[MAX_PEERS];
    unsigned npeers;
    uint64_t last_rx_ns;
};

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

/* ---- latency histogram: 32 sub-buckets per power of two (~3%) ---- */

static unsigned hist_idx(uint64_t v)
{
    if (v < 32)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned idx = (e - 4) * 32 + (unsigned)((v >> (e - 5)) & 31);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static double hist_pct_us(const struct run *r, double pct)
{
    if (!r->hist_n)
        return 0;
    uint64_t want = (uint64_t)((double)r->hist_n * pct / 100.0), seen = 0;
    if (want >= r->hist_n)
        want = r->hist_n - 1;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += r->hist[i];
        if (seen > want) {
            uint64_t v = i < 32 ? i : (32ull + i % 32) << (i / 32 + 4 - 5);
            return (double)v / 1000.0;
        }
    }
    return 0;
}

/* ---- parsing ---- */

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
    o->size = 1514;
    memset(o->dst_mac, 0xff, sizeof(o->dst_mac));
    o->flows = 1;
    o->linger_ms = 1000;
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
        case 's': o->size = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || o->size < 64 || o->size > NFR_MAX_FRAME) return -1;
            break;
        case O_DMAC: if (parse_mac(optarg, o->dst_mac)) return -1; break;
        case O_RATE: o->rate = strtod(optarg, &end);
            if (*end || o->rate < 0) return -1;
            break;
        case 'n': o->count = strtoull(optarg, &end, 10);
            if (*end) return -1;
            break;
        case 'S': o->seconds = strtod(optarg, &end);
            if (*end || o->seconds <= 0) return -1;
            break;
        case O_FLOWS: o->flows = (unsigned)strtoul(optarg, &end, 10);
            if (*end || !o->flows || o->flows > NFR_MAX_FLOWS) return -1;
            break;
        case O_IPV6: o->ipv6 = true; break;
        case O_SIP: if (parse_ip(optarg, &src_v6, o->src_ip)) return -1;
            o->have_src_ip = true;
            break;
        case O_DIP: if (parse_ip(optarg, &dst_ip_v6, o->dst_ip)) return -1;
            have_dst_ip = true;
            break;
        case O_LINGER: o->linger_ms = (unsigned)strtoul(optarg, &end, 10);
            if (*end) return -1;
            break;
        case O_EXPECHO: o->expect_echo = true; break;
        case O_EXPECT: o->expect = strtoull(optarg, &end, 10);
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
    if ((o->have_src_ip && src_v6 != o->ipv6) || (have_dst_ip && dst_ip_v6 != o->ipv6))
        return -1;
    if (o->mode == MODE_TAP && !o->tap.netns)
        return -1;
    if (o->mode == MODE_GEN && !o->count && o->seconds == 0)
        o->count = 1000;
    if (!have_dst_ip) { /* 10.0.0.254 / fd00::fe */
        if (o->ipv6) {
            o->dst_ip[0] = 0xfd;
            o->dst_ip[15] = 0xfe;
        } else {
            o->dst_ip[0] = 10;
            o->dst_ip[3] = 254;
        }
    }
    if (!o->have_src_ip) { /* 10.0.<domid> / fd00::<domid> */
        if (o->ipv6) {
            o->src_ip[0] = 0xfd;
            o->src_ip[14] = (uint8_t)(o->domid >> 8);
            o->src_ip[15] = (uint8_t)o->domid;
        } else {
            o->src_ip[0] = 10;
            o->src_ip[2] = (uint8_t)(o->domid >> 8);
            o->src_ip[3] = (uint8_t)o->domid;
        }
    }
    if (!have_max_lost && (o->expect_echo || o->expect))
        o->max_lost = 0;
    return 0;
}

/* ---- receive ---- */

static struct peer *find_peer(struct run *r, const uint8_t mac[NFR_ETH_ALEN])
{
    for (unsigned i = 0; i < r->npeers; i++)
        if (!memcmp(r->peers[i].mac, mac, NFR_ETH_ALEN))
            return &r->peers[i];
    if (r->npeers == MAX_PEERS)
        return NULL;
    struct peer *p = &r->peers[r->npeers];
    p->flows = calloc(NFR_MAX_FLOWS, sizeof(*p->flows));
    if (!p->flows)
        return NULL;
    memcpy(p->mac, mac, NFR_ETH_ALEN);
    r->npeers++;
    return p;
}

/* Order per (sender, flow): the next expected, a gap (lost), or an old one
 * (a duplicate or reordered).  true if the message is new. */
static bool track(struct run *r, const struct nfr_msg *m, bool self)
{
    struct peer *p = find_peer(r, m->origin);
    if (!p)
        return true;
    struct rx_flow *f = &p->flows[m->flow];
    uint64_t *gaps = self ? &r->self_gaps : &r->peer_gaps;
    if (!f->seen) {
        f->seen = true;
        *gaps += m->seq;
    } else if (m->seq != f->next) {
        if ((int32_t)(m->seq - f->next) < 0) {
            r->out_of_order++;
            if (!r->o->quiet && r->out_of_order <= 5)
                fprintf(stderr, "simnetfront: flow %u: message %u after %u (duplicate or "
                        "reordered)\n", m->flow, m->seq, f->next - 1);
            return false;
        }
        *gaps += m->seq - f->next;
    }
    f->next = m->seq + 1;
    return true;
}

static void verify_frame(struct run *r, const uint8_t *f, size_t n, const struct nf_rx_meta *m)
{
    struct nfr_check c;
    int err = nfr_verify(f, n, m->csum_blank, &c);
    if (err == -ENOENT) {
        r->other++;
        return;
    }
    r->received++;
    r->rx_bytes += n;
    if (err) {
        uint64_t *cnt = err == -EILSEQ ? &r->bad_csum : &r->bad_data;
        (*cnt)++;
        if (!r->o->quiet && r->bad_csum + r->bad_data <= 5)
            fprintf(stderr, "simnetfront: bad frame (%zu bytes, flow %u): %s\n", n, c.flow,
                    err == -EILSEQ ? "checksum" : "payload or header");
        return;
    }
    if (!c.has_msg)
        return;
    bool self = !memcmp(c.msg.origin, r->in->mac, NFR_ETH_ALEN);
    if (!track(r, &c.msg, self))
        return;
    if (self) {
        r->echoes++;
        uint64_t now = sc_clock_ns();
        if (c.msg.ts_ns <= now) {
            r->hist[hist_idx(now - c.msg.ts_ns)]++;
            r->hist_n++;
        }
    } else {
        r->peer_msgs++;
    }
}

/* The family's checksum offload was negotiated. */
static bool csum_ok_for(const struct run *r, bool v6)
{
    return v6 ? r->in->ipv6_csum_offload : r->in->csum_offload;
}

/* Sends on queue q, waiting (bounded) for room. */
static int send_waiting(struct run *r, unsigned q, const uint8_t *f, size_t n,
                        const struct nf_tx_meta *m)
{
    struct nf_queue *nq = nf_dev_queue(r->dev, q);
    uint64_t deadline = sc_clock_ms() + STALL_MS;
    for (;;) {
        int err = nf_send(nq, f, n, m);
        if (err != -ENOSPC)
            return err;
        if (nf_push(nq) < 0 || nf_tx_reap(nq) < 0)
            return -EPROTO;
        if (nf_queue_tx_free(nq) > NF_MAX_SLOTS)
            continue;
        if (sc_clock_ms() > deadline || stop_flag)
            return -ETIMEDOUT;
        nf_wait(nq, 10);
    }
}

/* Echo: the frame back to where it came from, its offloads kept when the
 * backend takes them (else the checksum is completed here). */
static void echo_frame(struct run *r, unsigned q, uint8_t *f, size_t n, const struct nf_rx_meta *m)
{
    memcpy(f, f + NFR_ETH_ALEN, NFR_ETH_ALEN);
    memcpy(f + NFR_ETH_ALEN, r->in->mac, NFR_ETH_ALEN);
    struct nf_tx_meta tm = { .data_validated = m->data_validated };
    struct nfr_l4 p;
    bool parsed = nfr_parse(f, n, &p) == 0;
    if (m->gso_type) {
        bool v6 = m->gso_type == XEN_NETIF_GSO_TYPE_TCPV6;
        if (!(v6 ? r->in->gso_tcpv6 : r->in->gso_tcpv4) || !r->in->sg) {
            r->echo_dropped++;
            return;
        }
        tm.gso_type = m->gso_type;
        tm.gso_size = m->gso_size;
    }
    if (m->csum_blank) {
        if (parsed && csum_ok_for(r, p.ipv6)) {
            tm.csum_blank = true;
        } else if (!parsed || tm.gso_type ||
                   nfr_csum_complete_at(f, p.end, p.l4, nfr_csum_field(&p) - p.l4) < 0) {
            r->echo_dropped++;
            return;
        }
    }
    if (send_waiting(r, q % r->nq, f, n, &tm) < 0) {
        r->echo_dropped++;
        return;
    }
    r->echoed++;
}

/* Takes every frame waiting on every queue.  Frames taken. */
static int receive_all(struct run *r)
{
    int got = 0;
    for (unsigned q = 0; q < r->nq; q++) {
        struct nf_queue *nq = nf_dev_queue(r->dev, q);
        struct nf_rx_meta m;
        int n;
        while ((n = nf_recv(nq, r->rxbuf, RX_CAP, &m)) > 0) {
            got++;
            if (r->o->mode == MODE_ECHO)
                echo_frame(r, q, r->rxbuf, (size_t)n, &m);
            else
                verify_frame(r, r->rxbuf, (size_t)n, &m);
        }
        if (n < 0)
            return n;
        if (r->o->mode == MODE_ECHO)
            nf_push(nq);
    }
    if (got)
        r->last_rx_ns = sc_clock_ns();
    return got;
}

/* ---- send ---- */

/* How frames are built and what the ring is told, from what was negotiated. */
static int setup_tx(struct run *r)
{
    struct opts *o = r->o;
    struct nfr_spec *s = &r->spec;
    memcpy(s->src_mac, r->in->mac, NFR_ETH_ALEN);
    memcpy(s->dst_mac, o->dst_mac, NFR_ETH_ALEN);
    s->ipv6 = o->ipv6;
    memcpy(s->src_ip, o->src_ip, 16);
    memcpy(s->dst_ip, o->dst_ip, 16);
    s->csum_partial = csum_ok_for(r, o->ipv6);
    r->tx_meta.csum_blank = s->csum_partial;
    unsigned mtu = r->in->mtu;
    if (o->size > mtu + NFR_ETH_HLEN) {
        bool gso = o->ipv6 ? r->in->gso_tcpv6 : r->in->gso_tcpv4;
        if (!gso || !s->csum_partial || !r->in->sg) {
            fprintf(stderr, "simnetfront: --size %u is above the MTU (%u) and needs GSO with "
                    "checksum offload and sg, not negotiated\n", o->size, mtu);
            return -EINVAL;
        }
        s->tcp = true;
        r->tx_meta.gso_type = o->ipv6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4;
        r->tx_meta.gso_size = (uint16_t)(mtu - (o->ipv6 ? 40 : 20) - 20);
    } else if (o->size > NF_PAGE_SIZE && !r->in->sg) {
        fprintf(stderr, "simnetfront: --size %u needs sg, not negotiated\n", o->size);
        return -EINVAL;
    }
    if (o->size < nfr_header_len(s) + NFR_MSG_HDR_LEN) {
        fprintf(stderr, "simnetfront: --size %u cannot hold the headers (%zu bytes)\n", o->size,
                nfr_header_len(s) + NFR_MSG_HDR_LEN);
        return -EINVAL;
    }
    r->tx_seq = calloc(o->flows, sizeof(*r->tx_seq));
    return r->tx_seq ? 0 : -ENOMEM;
}

/* Sends what is due (pacing) and fits, up to SEND_BATCH.  Frames sent or
 * -errno. */
static int send_some(struct run *r, uint64_t *next_ns, uint64_t period_ns)
{
    struct opts *o = r->o;
    int sent = 0;
    bool touched[NF_MAX_QUEUES] = { false };
    while (sent < SEND_BATCH && (!o->count || r->sent < o->count)) {
        uint64_t now = sc_clock_ns();
        if (period_ns && now < *next_ns)
            break;
        unsigned flow = (unsigned)(r->sent % o->flows);
        unsigned q = flow % r->nq;
        struct nfr_msg m = { .flow = (uint16_t)flow, .seq = r->tx_seq[flow], .ts_ns = now };
        memcpy(m.origin, r->in->mac, NFR_ETH_ALEN);
        if (nfr_build(r->txbuf, o->size, &r->spec, &m) < 0)
            return -EINVAL;
        int err = nf_send(nf_dev_queue(r->dev, q), r->txbuf, o->size, &r->tx_meta);
        if (err == -ENOSPC)
            break;
        if (err < 0)
            return err;
        touched[q] = true;
        r->tx_seq[flow]++;
        r->sent++;
        r->sent_bytes += o->size;
        sent++;
        if (period_ns)
            *next_ns += period_ns;
    }
    for (unsigned q = 0; q < r->nq; q++)
        if (touched[q] && nf_push(nf_dev_queue(r->dev, q)) < 0)
            return -EIO;
    return sent;
}

/* ---- the loop ---- */

static int reap_all(struct run *r, unsigned *inflight)
{
    *inflight = 0;
    for (unsigned q = 0; q < r->nq; q++) {
        struct nf_queue *nq = nf_dev_queue(r->dev, q);
        if (nf_tx_reap(nq) < 0)
            return -EPROTO;
        *inflight += nf_queue_tx_inflight(nq);
    }
    return 0;
}

/* Sleeps until a kick, a backend state change or `wait_ns`. */
static int sleep_on_rings(struct run *r, uint64_t wait_ns)
{
    struct pollfd pfd[NF_MAX_QUEUES + 1];
    for (unsigned q = 0; q < r->nq; q++)
        pfd[q] = (struct pollfd){ .fd = nf_queue_fd(nf_dev_queue(r->dev, q)), .events = POLLIN };
    pfd[r->nq] = (struct pollfd){ .fd = nf_dev_watch_fd(r->dev), .events = POLLIN };
    struct timespec ts = { .tv_sec = (time_t)(wait_ns / 1000000000u),
                           .tv_nsec = (long)(wait_ns % 1000000000u) };
    if (ppoll(pfd, r->nq + 1, &ts, NULL) < 0 && errno != EINTR)
        return -errno;
    for (unsigned q = 0; q < r->nq; q++)
        if (pfd[q].revents & POLLIN)
            nf_wait(nf_dev_queue(r->dev, q), 0);
    if ((pfd[r->nq].revents & POLLIN) && nf_dev_check(r->dev) > 0) {
        fprintf(stderr, "simnetfront: backend is closing the device\n");
        return -ENODEV;
    }
    return 0;
}

static bool sending_done(const struct run *r, uint64_t now, uint64_t deadline)
{
    if (r->o->mode != MODE_GEN)
        return true;
    return now >= deadline || (r->o->count && r->sent >= r->o->count);
}

/* Receive-only modes end at --count messages (sink) or frames (echo). */
static bool receiving_done(const struct run *r)
{
    const struct opts *o = r->o;
    if (o->mode == MODE_SINK)
        return o->count && r->peer_msgs + r->echoes >= o->count;
    if (o->mode == MODE_ECHO)
        return o->count && r->echoed + r->echo_dropped >= o->count;
    return false;
}

static int drive(struct run *r)
{
    struct opts *o = r->o;
    uint64_t t0 = sc_clock_ns();
    uint64_t deadline = o->seconds > 0 ? t0 + (uint64_t)(o->seconds * 1e9) : UINT64_MAX;
    uint64_t period = o->rate > 0 ? (uint64_t)(1e9 / o->rate) : 0;
    uint64_t next_send = t0, last_progress = t0, done_at = 0;
    uint64_t linger = (uint64_t)o->linger_ms * 1000000u;
    r->last_rx_ns = t0;
    while (!stop_flag) {
        int got = receive_all(r);
        if (got < 0)
            return got;
        unsigned inflight;
        uint64_t done_before = r->sent;
        if (reap_all(r, &inflight) < 0)
            return -EPROTO;
        uint64_t now = sc_clock_ns();
        if (!sending_done(r, now, deadline)) {
            int n = send_some(r, &next_send, period);
            if (n < 0)
                return n;
        } else if (o->mode == MODE_GEN) {
            if (!done_at)
                done_at = now;
            bool all_back = o->expect_echo && r->echoes >= r->sent;
            uint64_t quiet = now - (r->last_rx_ns > done_at ? r->last_rx_ns : done_at);
            if (!inflight && (all_back || quiet >= linger))
                return 0;
            if (now - done_at > (uint64_t)STALL_MS * 1000000u + linger)
                return inflight ? -ETIMEDOUT : 0;
        } else if (now >= deadline || receiving_done(r)) {
            return 0;
        }
        if (got || r->sent != done_before || inflight == 0)
            last_progress = now;
        else if (now - last_progress > (uint64_t)STALL_MS * 1000000u) {
            fprintf(stderr, "simnetfront: no progress for %d s (%u frames in flight)\n",
                    STALL_MS / 1000, inflight);
            return -ETIMEDOUT;
        }
        if (got || (r->sent != done_before && !period))
            continue;
        uint64_t wait = 100000000u; /* 100 ms: the stop flag, deadlines */
        now = sc_clock_ns();
        if (!sending_done(r, now, deadline) && period)
            wait = next_send > now ? next_send - now : 0;
        if (wait && sleep_on_rings(r, wait) < 0)
            return -ENODEV;
    }
    return 0;
}

/* ---- start barrier ---- */

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

static void totals(struct run *r, struct nf_queue_stats *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned q = 0; q < r->nq; q++) {
        const struct nf_queue_stats *s = nf_queue_get_stats(nf_dev_queue(r->dev, q));
        t->tx_frames_error += s->tx_frames_error;
        t->tx_frames_dropped += s->tx_frames_dropped;
        t->tx_kicks_sent += s->tx_kicks_sent;
        t->rx_kicks_sent += s->rx_kicks_sent;
        t->kicks_received_tx += s->kicks_received_tx;
        t->kicks_received_rx += s->kicks_received_rx;
        t->rx_errors += s->rx_errors;
        t->rx_frames += s->rx_frames;
        t->rx_gso += s->rx_gso;
        t->rx_csum_blank += s->rx_csum_blank;
        t->grant_busy += s->grant_busy;
        t->bad_responses += s->bad_responses;
    }
}

static uint64_t lost(const struct run *r)
{
    const struct opts *o = r->o;
    uint64_t l = o->expect ? (o->expect > r->peer_msgs ? o->expect - r->peer_msgs : 0)
                           : r->peer_gaps;
    if (o->mode == MODE_GEN && o->expect_echo)
        l += r->sent > r->echoes ? r->sent - r->echoes : 0;
    else
        l += r->self_gaps;
    return l;
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

static void report(struct run *r, double secs, int status)
{
    struct nf_queue_stats t;
    totals(r, &t);
    double pps_tx = secs > 0 ? (double)r->sent / secs : 0;
    double pps_rx = secs > 0 ? (double)r->received / secs : 0;
    double mbit_tx = secs > 0 ? (double)r->sent_bytes * 8 / secs / 1e6 : 0;
    double mbit_rx = secs > 0 ? (double)r->rx_bytes * 8 / secs / 1e6 : 0;
    double p50 = hist_pct_us(r, 50), p99 = hist_pct_us(r, 99);
    uint64_t bad = r->bad_csum + r->bad_data;
    char mac[24];
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", r->in->mac[0], r->in->mac[1],
             r->in->mac[2], r->in->mac[3], r->in->mac[4], r->in->mac[5]);
    if (r->o->json) {
        json_t *j = json_pack(
            "{s:s, s:i, s:i, s:s, s:o, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
            "s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:{s:f, s:f}, s:I, s:I, s:I, "
            "s:I, s:I, s:I, s:I, s:I, s:s}",
            "mode", mode_str(r->o->mode), "domid", (int)r->o->domid, "devid",
            (int)r->in->devid, "mac", mac, "negotiated", negotiated_json(r->in), "seconds",
            secs, "sent", (json_int_t)r->sent, "sent_bytes", (json_int_t)r->sent_bytes,
            "received", (json_int_t)r->received, "received_bytes", (json_int_t)r->rx_bytes,
            "verified", (json_int_t)(r->received - bad), "bad", (json_int_t)bad, "bad_csum",
            (json_int_t)r->bad_csum, "bad_data", (json_int_t)r->bad_data, "other",
            (json_int_t)r->other, "echoes", (json_int_t)r->echoes, "peer_messages",
            (json_int_t)r->peer_msgs, "out_of_order", (json_int_t)r->out_of_order, "lost",
            (json_int_t)lost(r), "echoed", (json_int_t)r->echoed, "echo_dropped",
            (json_int_t)r->echo_dropped, "tx_errors", (json_int_t)t.tx_frames_error,
            "pps_tx", pps_tx, "pps_rx", pps_rx, "mbit_tx", mbit_tx, "mbit_rx", mbit_rx,
            "latency_us", "p50", p50, "p99", p99, "tx_dropped",
            (json_int_t)t.tx_frames_dropped, "rx_errors", (json_int_t)t.rx_errors, "rx_gso",
            (json_int_t)t.rx_gso, "rx_csum_blank", (json_int_t)t.rx_csum_blank, "kicks_sent",
            (json_int_t)(t.tx_kicks_sent + t.rx_kicks_sent), "kicks_received",
            (json_int_t)(t.kicks_received_tx + t.kicks_received_rx), "grant_busy",
            (json_int_t)t.grant_busy, "bad_responses", (json_int_t)t.bad_responses, "result",
            status ? "failed" : "ok");
        print_json(j);
        return;
    }
    if (r->o->quiet)
        return;
    printf("vif %ld/%u (%s): %u queue(s), sg=%d gso4=%d gso6=%d csum=%d csum6=%d split=%d\n",
           r->o->domid, r->in->devid, mac, r->in->nr_queues, r->in->sg, r->in->gso_tcpv4,
           r->in->gso_tcpv6, r->in->csum_offload, r->in->ipv6_csum_offload,
           r->in->split_evtchn);
    printf("sent %" PRIu64 " (%.0f pps, %.1f Mbit/s), received %" PRIu64 " (%.0f pps, %.1f "
           "Mbit/s) in %.2f s\n", r->sent, pps_tx, mbit_tx, r->received, pps_rx, mbit_rx, secs);
    printf("echoes %" PRIu64 ", peer messages %" PRIu64 ", echoed %" PRIu64 " (dropped %" PRIu64
           ")\n", r->echoes, r->peer_msgs, r->echoed, r->echo_dropped);
    printf("bad %" PRIu64 " (checksum %" PRIu64 ", data %" PRIu64 "), out of order %" PRIu64
           ", lost %" PRIu64 ", tx errors %" PRIu64 ", rx errors %" PRIu64 "\n", bad,
           r->bad_csum, r->bad_data, r->out_of_order, lost(r), t.tx_frames_error, t.rx_errors);
    if (r->hist_n)
        printf("latency us: p50 %.1f  p99 %.1f\n", p50, p99);
}

static int status_of(struct run *r, int drive_ret)
{
    struct nf_queue_stats t;
    totals(r, &t);
    if (drive_ret < 0 || r->bad_csum || r->bad_data || r->out_of_order || t.tx_frames_error ||
        t.rx_errors || t.grant_busy || t.bad_responses || lost(r) > r->o->max_lost)
        return 1;
    return 0;
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

static int run_mode(struct run *r)
{
    struct opts *o = r->o;
    if (o->mode == MODE_TAP) {
        struct nettap_stats ts;
        char err[256] = "";
        o->tap.stop = &stop_flag;
        int ret = nettap_run(r->dev, &o->tap, &ts, err, sizeof(err));
        if (ret < 0)
            fprintf(stderr, "simnetfront: tap: %s\n", err[0] ? err : strerror(-ret));
        report_tap(r, &ts, ret < 0);
        return ret < 0 ? 1 : 0;
    }
    r->txbuf = malloc(NFR_MAX_FRAME);
    r->rxbuf = malloc(RX_CAP);
    if (!r->txbuf || !r->rxbuf)
        return 1;
    if (o->mode == MODE_GEN && setup_tx(r) < 0)
        return 2;
    signal_fd(o->ready_fd, 'c');
    if (wait_for_start(o) < 0) {
        fprintf(stderr, "simnetfront: start barrier not reached\n");
        return 1;
    }
    uint64_t t0 = sc_clock_ns();
    int dr = drive(r);
    double secs = (double)(sc_clock_ns() - t0) / 1e9;
    signal_fd(o->ready_fd, 'd');
    if (dr < 0 && dr != -ENODEV)
        fprintf(stderr, "simnetfront: %s\n", strerror(-dr));
    int status = status_of(r, dr);
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
    r.nq = nf_dev_nr_queues(r.dev);
    int status = run_mode(&r);
    fflush(stdout);
    int cr = nf_dev_close(r.dev);
    if (cr < 0) {
        fprintf(stderr, "simnetfront: disconnect: %s\n", strerror(-cr));
        if (!status)
            status = 1;
    }
    for (unsigned i = 0; i < r.npeers; i++)
        free(r.peers[i].flows);
    free(r.tx_seq);
    free(r.txbuf);
    free(r.rxbuf);
    nf_dev_free(r.dev);
    xsim_guest_close(g);
    return status;
}
