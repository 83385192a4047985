/*
 * simnetfront - a simulated guest that connects a vif like Linux netfront
 * and moves Ethernet frames through its rings.
 *
 *   simnetfront --dir DIR --domid N [--devid 0] [--backend-domid B]
 *       [--queues N] [--no-sg] [--no-gso] [--no-csum-offload]
 *       [--no-ipv6-csum-offload] [--no-split-evtchn] [--no-rx-notify]
 *       [--multicast] [--ctrl-ring] [--xdp-headroom N] [--timeout-ms MS]
 *       --mode gen|sink|echo|tap|hostile  [--json] [--quiet]
 *   gen:  [--size BYTES] [--dst-mac MAC] [--rate PPS] [--count N | --seconds S]
 *         [--flows N] [--ipv6] [--src-ip IP] [--dst-ip IP] [--linger-ms MS]
 *         [--expect-echo] [--expect N] [--max-lost N]
 *         [--barrier PATH] [--ready-fd R] [--start-fd S]
 *   sink: [--count N] [--seconds S] [--expect N] [--max-lost N]
 *   echo: [--count N] [--seconds S]
 *   gen, sink, echo: [--join MAC ...] (with --multicast) [--hold]
 *   tap:  --netns NAME [--ifname eth0] [--addr 10.0.0.2/24] [--mtu N]
 *   hostile: --attack KIND [--slots N] [--extra-type N] [--seconds S] [--ready-fd R]
 *            [--hold] [--set KEY=VALUE ...]
 *
 * gen sends --count test frames (netframe.h) of --size bytes (frames above
 * the MTU go as TCP with a GSO extra), round robin over --flows, each flow
 * on queue flow % queues, and verifies whatever comes back: its own frames
 * reflected by an echo peer (latency), or a peer generator's (order per
 * flow, no duplicate, no gap).  sink only receives and verifies; echo
 * reflects every frame to its source MAC (netgen.h); tap carries a network
 * namespace's stack (nettap.h).  --barrier PATH / --start-fd hold gen's
 * first frame, once connected, until the file exists / a byte comes.
 * gen, sink and echo stop on SIGTERM/SIGINT too; tap only then.  SIGUSR1
 * ends gen's sending early as if --seconds were up (the linger and the
 * echo count still run: a test stops a generous run when its steps are done).  --join
 * subscribes to a multicast address (an MCAST_ADD request on queue 0,
 * answered) before the traffic starts and --ready-fd says 'c'; --hold
 * keeps the vif connected after the run ('d') until SIGTERM/SIGINT.
 *
 * hostile negotiates like Linux, checks that a few probe frames (to its own
 * MAC: the switch learns it, nobody receives them) are answered OKAY, then
 * breaks netif.h's rules once on queue 0 (raw ring entries, ids none of
 * netfront's) and checks the backend's answer:
 *   error    (too-many-slots: --slots 19..20, zero-frag, oversized-frag,
 *            runt, bad-gso, ungranted-ref) every slot answered
 *            NETIF_RSP_ERROR, extras NULL; the vif stays Connected and
 *            answers probes again;
 *   fatal    (fatal-slots: --slots > 20, cross-page, prod-ahead,
 *            bad-extra-type: --extra-type N, 0 by default) the backend
 *            fails the vif: Closing or Closed;
 *   survive  (no-rx-consume) for --seconds (3) no rx response is taken and
 *            no buffer posted while a peer floods us: the backend never
 *            answers more rx requests than were posted, keeps the vif
 *            Connected, and what it placed is valid when finally taken;
 *   xs-keys  the handshake by hand for one queue (rings granted, rx
 *            buffers posted, an event channel, or two unless
 *            --no-split-evtchn), each --set KEY=VALUE written over what
 *            netfront would write (an empty VALUE removes KEY), Connected:
 *            the backend must fail the vif without ever being Connected.
 * --ready-fd gets 'c' once the probes passed (start the flood), 'd' once
 * the outcome is known; with --hold the vif then stays as it is (the
 * backend's counters can be read) until SIGTERM.  The JSON report says
 * what was seen (responses by status, backend state, rx ring).
 * Exit: 0 ok (hostile: the expected outcome happened), 1 bad data,
 * duplicates, errors or loss above --max-lost (hostile: another outcome),
 * 2 usage, 3 negotiation failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xenstore.h>
#include <xen/io/xenbus.h>

#include "clock.h"
#include "netfront.h"
#include "netframe.h"
#include "netgen.h"
#include "nettap.h"
#include "xenbus.h"

#define START_WAIT_MS 120000
#define MAX_JOIN 8
/* hostile mode */
#define H_MAX_RAW 64u               /* raw ring entries of one attack */
#define H_PAGES 4u                  /* pages the raw entries point into */
#define H_RAW_ID 1000u              /* raw request ids: none of netfront's (< 256) */
#define H_PROBES 4u
#define H_MAX_SET 16u               /* xs-keys: --set options */
/* Xen's limits (Linux netback's max_skb_slots / fatal_skb_slots). */
#define NET_TX_FATAL_SLOTS 20u
/* The last ref of the table: the guest allocates refs from the bottom, so
 * this one is never granted. */
#define H_UNGRANTED_REF (XSIM_NR_GRANTS - 1u)

enum mode { MODE_GEN, MODE_SINK, MODE_ECHO, MODE_TAP, MODE_HOSTILE };

enum attack {
    AT_TOO_MANY_SLOTS, AT_FATAL_SLOTS, AT_ZERO_FRAG, AT_OVERSIZED_FRAG, AT_CROSS_PAGE,
    AT_RUNT, AT_BAD_GSO, AT_UNGRANTED_REF, AT_PROD_AHEAD, AT_NO_RX_CONSUME,
    AT_BAD_EXTRA_TYPE, AT_XS_KEYS, AT__COUNT
};

/* What a correct backend does about an attack. */
enum outcome {
    OUT_ERROR,      /* answers every slot with an error, keeps the vif */
    OUT_FATAL,      /* fails the vif (Closing/Closed) */
    OUT_SURVIVE,    /* holds back (rx), keeps the vif */
};

static const struct {
    const char *name;
    enum outcome expect;
} attack_info[AT__COUNT] = {
    [AT_TOO_MANY_SLOTS] = { "too-many-slots", OUT_ERROR },
    [AT_FATAL_SLOTS] = { "fatal-slots", OUT_FATAL },
    [AT_ZERO_FRAG] = { "zero-frag", OUT_ERROR },
    [AT_OVERSIZED_FRAG] = { "oversized-frag", OUT_ERROR },
    [AT_CROSS_PAGE] = { "cross-page", OUT_FATAL },
    [AT_RUNT] = { "runt", OUT_ERROR },
    [AT_BAD_GSO] = { "bad-gso", OUT_ERROR },
    [AT_UNGRANTED_REF] = { "ungranted-ref", OUT_ERROR },
    [AT_PROD_AHEAD] = { "prod-ahead", OUT_FATAL },
    [AT_NO_RX_CONSUME] = { "no-rx-consume", OUT_SURVIVE },
    [AT_BAD_EXTRA_TYPE] = { "bad-extra-type", OUT_FATAL },
    [AT_XS_KEYS] = { "xs-keys", OUT_FATAL },
};

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
    enum attack attack;         /* hostile */
    bool have_attack;
    unsigned slots;             /* too-many-slots / fatal-slots: 0 = 19 / 21 */
    int extra_type;             /* bad-extra-type */
    bool hold;                  /* keep the vif after the outcome until a signal */
    const char *set[H_MAX_SET]; /* xs-keys: KEY=VALUE */
    unsigned nset;
    uint8_t join[MAX_JOIN][NFR_ETH_ALEN]; /* gen/sink/echo: multicast groups */
    unsigned njoin;
    bool json, quiet;
};

/* What one sender's stream looks like on one flow, as received. */

static volatile sig_atomic_t stop_flag, finish_flag;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        finish_flag = 1;
    else
        stop_flag = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: simnetfront --dir DIR --domid N [--devid N] --mode gen|sink|echo|tap|hostile\n"
            "  --backend-domid B --queues N (4) --timeout-ms MS (10000)\n"
            "  --no-sg --no-gso --no-csum-offload --no-ipv6-csum-offload --no-split-evtchn\n"
            "  --no-rx-notify --multicast --ctrl-ring --xdp-headroom N (-1: never)\n"
            "  gen: --size BYTES (1514) --dst-mac MAC (broadcast) --rate PPS (0: max)\n"
            "       --count N (1000) | --seconds S  --flows N (1) --ipv6 --src-ip --dst-ip\n"
            "       --linger-ms MS (1000) --expect-echo --expect N --max-lost N\n"
            "       --barrier PATH --ready-fd R --start-fd S\n"
            "  sink/echo: --count N --seconds S   tap: --netns NAME --ifname IF --addr A --mtu N\n"
            "  gen/sink/echo: --join MAC (multicast group, repeatable; needs --multicast)\n"
            "                 --hold (connected after the run until SIGTERM)\n"
            "  hostile: --attack too-many-slots|fatal-slots|zero-frag|oversized-frag|cross-page|\n"
            "           runt|bad-gso|ungranted-ref|prod-ahead|no-rx-consume|bad-extra-type\n"
            "           --slots N --extra-type N --seconds S (3, no-rx-consume) --ready-fd R\n"
            "           --hold (after the outcome, until SIGTERM)\n"
            "           xs-keys: --set KEY=VALUE (repeatable; empty VALUE: removed)\n"
            "  --json --quiet\n"
            "exit: 0 ok (hostile: the expected outcome), 1 data/loss/errors (hostile: another\n"
            "outcome), 2 usage, 3 negotiation failed\n");
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
           O_ADDR, O_MTU, O_ATTACK, O_SLOTS, O_XTYPE, O_HOLD, O_SET, O_JOIN };
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
        { "attack", required_argument, NULL, O_ATTACK },
        { "slots", required_argument, NULL, O_SLOTS },
        { "extra-type", required_argument, NULL, O_XTYPE },
        { "hold", no_argument, NULL, O_HOLD },
        { "set", required_argument, NULL, O_SET },
        { "join", required_argument, NULL, O_JOIN },
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
            else if (!strcmp(optarg, "hostile")) o->mode = MODE_HOSTILE;
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
        case O_ATTACK:
            for (o->attack = 0; o->attack < AT__COUNT; o->attack++)
                if (!strcmp(optarg, attack_info[o->attack].name))
                    break;
            if (o->attack == AT__COUNT)
                return -1;
            o->have_attack = true;
            break;
        case O_SLOTS: o->slots = (unsigned)strtoul(optarg, &end, 10);
            if (*end || o->slots < 2 || o->slots > H_MAX_RAW - 1) return -1;
            break;
        case O_XTYPE: o->extra_type = (int)strtol(optarg, &end, 10);
            if (*end || o->extra_type < 0 || o->extra_type > 255) return -1;
            break;
        case O_HOLD: o->hold = true; break;
        case O_JOIN:
            if (o->njoin == MAX_JOIN || parse_mac(optarg, o->join[o->njoin])) return -1;
            o->njoin++;
            break;
        case O_SET:
            if (o->nset == H_MAX_SET || !strchr(optarg, '=') || optarg[0] == '=') return -1;
            o->set[o->nset++] = optarg;
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
    if ((o->mode == MODE_HOSTILE) != o->have_attack || (o->nset && o->attack != AT_XS_KEYS))
        return -1;
    if (o->njoin && (o->mode == MODE_TAP || o->mode == MODE_HOSTILE || !o->want.multicast))
        return -1;
    if (o->hold && o->mode == MODE_TAP)
        return -1;
    if (o->mode == MODE_HOSTILE && o->slots &&
        ((o->attack == AT_TOO_MANY_SLOTS && o->slots > NET_TX_FATAL_SLOTS) ||
         (o->attack == AT_FATAL_SLOTS && o->slots <= NET_TX_FATAL_SLOTS)))
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

/* --hold: the device stays connected (its backend counters readable)
 * until SIGTERM/SIGINT, bounded. */
static void hold_until_signal(const struct opts *o)
{
    uint64_t deadline = sc_clock_ms() + START_WAIT_MS;
    while (o->hold && !stop_flag && sc_clock_ms() < deadline)
        usleep(20000);
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
    static const char *const names[] = { "gen", "sink", "echo", "tap", "hostile" };
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

/* --join: one MCAST_ADD request per address on queue 0, each waited for.
 * 0, -EOPNOTSUPP (multicast control not negotiated), -EIO (answered with
 * an error), -ETIMEDOUT, -EPROTO. */
static int join_groups(struct run *r)
{
    if (!r->o->njoin)
        return 0;
    if (!r->in->multicast)
        return -EOPNOTSUPP;
    struct nf_queue *q = nf_dev_queue(r->dev, 0);
    const struct nf_queue_stats *s = nf_queue_get_stats(q);
    for (unsigned i = 0; i < r->o->njoin; i++) {
        uint64_t done0 = s->tx_done, err0 = s->tx_frames_error;
        int rc = nf_tx_mcast(q, true, r->o->join[i]);
        if (rc < 0)
            return rc;
        nf_push(q);
        uint64_t deadline = sc_clock_ms() + 5000;
        while (s->tx_done == done0) {
            if (nf_tx_reap(q) < 0)
                return -EPROTO;
            if (sc_clock_ms() > deadline)
                return -ETIMEDOUT;
            nf_wait(q, 10);
        }
        if (s->tx_frames_error != err0)
            return -EIO;
    }
    return 0;
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
    o->gen.finish = &finish_flag;
    struct ng_run *ng;
    int err = join_groups(r);
    if (err < 0) {
        fprintf(stderr, "simnetfront: --join: %s\n", strerror(-err));
        return 1;
    }
    err = ng_create(r->dev, &o->gen, &ng);
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
    hold_until_signal(o);
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

/* ---- hostile mode ---- */

struct h_page {
    void *va;
    uint64_t gfn;
    int ref;                    /* -1: not granted */
};

struct hostile {
    struct run *r;
    struct xsim_guest *g;
    struct xs_handle *xs;
    struct nf_queue *q;         /* queue 0: the one attacked */
    const struct nf_queue_stats *st;
    struct h_page page[H_PAGES];
    netif_tx_request_t req[H_MAX_RAW];
    unsigned nreq;              /* raw entries */
    unsigned owed;              /* ... that are requests (an answer each) */
    struct nf_queue_stats before;   /* at the attack */
    struct nf_queue_stats end;      /* before the close (st then points here) */
    unsigned probes_before, probes_after;
    int state;                  /* the backend's, at the end */
    uint64_t rx_frames, rx_errors, rx_max_pending;
    bool rx_overrun;
    const char *why;            /* what went otherwise than expected */
};

static int h_backend_state(struct hostile *h)
{
    char path[200];
    unsigned len;
    snprintf(path, sizeof(path), "%s/state", h->r->in->backend_path);
    char *v = xs_read(h->xs, XBT_NULL, path, &len);
    if (!v)
        return XenbusStateClosed; /* a removed directory: as netfront_dev.c */
    char *end;
    long st = strtol(v, &end, 10);
    bool ok = *v && !*end && st >= 0 && st <= XenbusStateReconfigured;
    free(v);
    return ok ? (int)st : XenbusStateUnknown;
}

static bool h_closing(int st) { return st == XenbusStateClosing || st == XenbusStateClosed; }

/* Reaps tx answers until done(h) or the device's timeout; sleeps on kicks
 * and the backend's state.  true when done(h). */
static bool h_wait(struct hostile *h, bool (*done)(struct hostile *), unsigned ms)
{
    uint64_t deadline = sc_clock_ms() + ms;
    for (;;) {
        if (nf_tx_reap(h->q) < 0)
            return false;
        if (done(h))
            return true;
        if (sc_clock_ms() >= deadline) /* not stop_flag: it ends no-rx-consume's wait */
            return false;
        struct pollfd p[2] = {
            { .fd = nf_queue_fd(h->q), .events = POLLIN },
            { .fd = nf_dev_watch_fd(h->r->dev), .events = POLLIN },
        };
        if (poll(p, 2, 10) > 0) {
            if (p[0].revents & POLLIN)
                nf_wait(h->q, 0);
            if (p[1].revents & POLLIN)
                nf_dev_check(h->r->dev);
        }
    }
}

static unsigned timeout_of(const struct hostile *h)
{
    return h->r->o->want.timeout_ms ? h->r->o->want.timeout_ms : 10000u;
}

static uint64_t probe_goal;
static bool probes_answered(struct hostile *h) { return h->st->tx_done >= probe_goal; }

/* H_PROBES frames to our own MAC (the switch learns us and keeps them;
 * a TAP uplink takes them): how many were answered OKAY. */
static unsigned h_probe(struct hostile *h)
{
    uint8_t f[60] = { 0 };
    memcpy(f, h->r->in->mac, NF_ETH_ALEN);
    memcpy(f + NF_ETH_ALEN, h->r->in->mac, NF_ETH_ALEN);
    f[12] = 0x88; /* local experimental ethertype */
    f[13] = 0xb5;
    uint64_t done0 = h->st->tx_done;
    uint64_t bad0 = h->st->tx_frames_error + h->st->tx_frames_dropped;
    unsigned sent = 0;
    while (sent < H_PROBES && nf_send(h->q, f, sizeof(f), NULL) == 0)
        sent++;
    nf_push(h->q);
    probe_goal = done0 + sent;
    h_wait(h, probes_answered, timeout_of(h));
    uint64_t bad = h->st->tx_frames_error + h->st->tx_frames_dropped - bad0;
    uint64_t done = h->st->tx_done - done0;
    return done > bad ? (unsigned)(done - bad) : 0;
}

/* Pages the raw requests point into: granted read-only, a frame header at
 * the start (to ourselves), as netfront's own would be. */
static int h_pages(struct hostile *h)
{
    for (unsigned i = 0; i < H_PAGES; i++) {
        struct h_page *p = &h->page[i];
        p->ref = -1;
        p->va = xsim_guest_pages_alloc(h->g, 1, &p->gfn);
        if (!p->va)
            return -ENOMEM;
        uint8_t *b = p->va;
        memcpy(b, h->r->in->mac, NF_ETH_ALEN);
        memcpy(b + NF_ETH_ALEN, h->r->in->mac, NF_ETH_ALEN);
        b[12] = 0x88;
        b[13] = 0xb5;
        p->ref = xsim_guest_grant(h->g, h->r->in->backend_id, p->gfn, true);
        if (p->ref < 0)
            return p->ref;
    }
    return 0;
}

/* A grant the backend still holds is left (the page leaks). */
static unsigned h_pages_free(struct hostile *h)
{
    unsigned busy = 0;
    for (unsigned i = 0; i < H_PAGES; i++) {
        struct h_page *p = &h->page[i];
        if (p->ref >= 0 && xsim_guest_end_access(h->g, (grant_ref_t)p->ref) < 0) {
            busy++;
            continue;
        }
        if (p->va)
            xsim_guest_pages_free(h->g, p->va, 1);
    }
    return busy;
}

static grant_ref_t h_ref(const struct hostile *h, unsigned i)
{
    return (grant_ref_t)h->page[i % H_PAGES].ref;
}

/* One raw request (answered), or an extra-info entry (not). */
static void raw_req(struct hostile *h, grant_ref_t gref, uint16_t offset, uint16_t size,
                    uint16_t flags)
{
    h->req[h->nreq] = (netif_tx_request_t){
        .gref = gref, .offset = offset, .flags = flags,
        .id = (uint16_t)(H_RAW_ID + h->nreq), .size = size,
    };
    h->nreq++;
    h->owed++;
}

static void raw_extra(struct hostile *h, const netif_extra_info_t *x)
{
    memset(&h->req[h->nreq], 0, sizeof(h->req[0]));
    memcpy(&h->req[h->nreq], x, sizeof(*x));
    h->nreq++;
}

/* `n` slots of 64 bytes each, the first one's size the whole. */
static void raw_slots(struct hostile *h, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        raw_req(h, h_ref(h, i), 0, (uint16_t)(i ? 64 : 64 * n),
                i + 1 < n ? NETTXF_more_data : 0);
}

static void raw_gso(struct hostile *h, uint8_t type, uint16_t size)
{
    raw_req(h, h_ref(h, h->nreq), 0, 1000, NETTXF_extra_info);
    netif_extra_info_t x = { .type = XEN_NETIF_EXTRA_TYPE_GSO };
    x.u.gso.type = type;
    x.u.gso.size = size;
    raw_extra(h, &x);
}

/* The entries of the attack (none for prod-ahead and no-rx-consume). */
static void build_attack(struct hostile *h)
{
    const struct opts *o = h->r->o;
    switch (o->attack) {
    case AT_TOO_MANY_SLOTS:
        raw_slots(h, o->slots ? o->slots : XEN_NETIF_NR_SLOTS_MIN + 1);
        break;
    case AT_FATAL_SLOTS:
        raw_slots(h, o->slots ? o->slots : NET_TX_FATAL_SLOTS + 1);
        break;
    case AT_ZERO_FRAG: /* 128 = 64 + 0 + 64 */
        raw_req(h, h_ref(h, 0), 0, 128, NETTXF_more_data);
        raw_req(h, h_ref(h, 1), 0, 0, NETTXF_more_data);
        raw_req(h, h_ref(h, 2), 0, 64, 0);
        break;
    case AT_OVERSIZED_FRAG: /* a 100-byte packet with a 200-byte fragment */
        raw_req(h, h_ref(h, 0), 0, 100, NETTXF_more_data);
        raw_req(h, h_ref(h, 1), 0, 200, 0);
        break;
    case AT_CROSS_PAGE: /* the second fragment runs 104 bytes past its page */
        raw_req(h, h_ref(h, 0), 0, 300, NETTXF_more_data);
        raw_req(h, h_ref(h, 1), 4000, 200, 0);
        break;
    case AT_RUNT:
        raw_req(h, h_ref(h, 0), 0, 10, 0);
        break;
    case AT_BAD_GSO: /* a size of 0, then an unknown type */
        raw_gso(h, XEN_NETIF_GSO_TYPE_TCPV4, 0);
        raw_gso(h, 7, 1400);
        break;
    case AT_UNGRANTED_REF:
        raw_req(h, H_UNGRANTED_REF, 0, 60, 0);
        break;
    case AT_BAD_EXTRA_TYPE: {
        raw_req(h, h_ref(h, 0), 0, 100, NETTXF_extra_info);
        netif_extra_info_t x = { .type = (uint8_t)o->extra_type };
        raw_extra(h, &x);
        break;
    }
    case AT_PROD_AHEAD:
    case AT_NO_RX_CONSUME:
    case AT_XS_KEYS:
    case AT__COUNT:
        break;
    }
}

static bool raw_answered(struct hostile *h)
{
    return h->st->tx_raw_responses - h->before.tx_raw_responses >= h->owed;
}

static bool backend_closing(struct hostile *h)
{
    return h_closing(h_backend_state(h));
}

/* Takes every rx response waiting (and refills): frames taken. */
static uint64_t h_rx_drain(struct hostile *h, uint8_t *buf, size_t cap)
{
    uint64_t n = 0;
    for (unsigned q = 0; q < h->r->in->nr_queues; q++)
        while (nf_recv(nf_dev_queue(h->r->dev, q), buf, cap, NULL) > 0)
            n++;
    return n;
}

static uint64_t rx_errors_sum(struct hostile *h)
{
    uint64_t e = 0;
    for (unsigned q = 0; q < h->r->in->nr_queues; q++)
        e += nf_queue_get_stats(nf_dev_queue(h->r->dev, q))->rx_errors;
    return e;
}

/* no-rx-consume: for --seconds, nothing taken on any queue's rx ring,
 * nothing posted; the backend must stop at the buffers it had. */
static void h_rx_starve(struct hostile *h)
{
    size_t cap = NF_MAX_FRAME + 1;
    uint8_t *buf = malloc(cap);
    if (!buf) {
        h->why = "out of memory";
        return;
    }
    unsigned nq = h->r->in->nr_queues;
    RING_IDX rsp0[NF_MAX_QUEUES];
    h_rx_drain(h, buf, cap);
    uint64_t err0 = rx_errors_sum(h);
    for (unsigned q = 0; q < nq; q++)
        rsp0[q] = __atomic_load_n(&nf_queue_rx_sring(nf_dev_queue(h->r->dev, q))->rsp_prod,
                                  __ATOMIC_ACQUIRE);
    double secs = h->r->o->gen.seconds > 0 ? h->r->o->gen.seconds : 3;
    uint64_t end = sc_clock_ns() + (uint64_t)(secs * 1e9);
    while (sc_clock_ns() < end && !stop_flag) {
        for (unsigned q = 0; q < nq; q++) {
            netif_rx_sring_t *s = nf_queue_rx_sring(nf_dev_queue(h->r->dev, q));
            RING_IDX rsp = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);
            RING_IDX req = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);
            if ((int32_t)(rsp - req) > 0)
                h->rx_overrun = true;
            if (rsp - rsp0[q] > h->rx_max_pending)
                h->rx_max_pending = rsp - rsp0[q];
        }
        nf_tx_reap(h->q);
        usleep(10000);
    }
    h->state = h_backend_state(h);
    /* Now take what it placed, and what a moment more brings. */
    uint64_t t_end = sc_clock_ns() + 300000000u;
    while (sc_clock_ns() < t_end) {
        h->rx_frames += h_rx_drain(h, buf, cap);
        usleep(10000);
    }
    h->rx_errors = rx_errors_sum(h) - err0;
    free(buf);
    if (h->rx_overrun)
        h->why = "the backend answered rx requests that were never posted";
    else if (h->state != XenbusStateConnected)
        h->why = "the backend did not keep the vif Connected";
    else if (h->rx_errors)
        h->why = "frames placed while starved were malformed";
}

static void h_outcome(struct hostile *h, enum outcome want)
{
    unsigned ms = timeout_of(h);
    switch (want) {
    case OUT_ERROR: {
        bool answered = h_wait(h, raw_answered, ms);
        uint64_t errors = h->st->tx_rsp_error - h->before.tx_rsp_error;
        h->state = h_backend_state(h);
        if (!answered)
            h->why = "not every slot was answered";
        else if (errors != h->owed)
            h->why = "a slot was answered with another status than an error";
        else if (h->state != XenbusStateConnected)
            h->why = "the backend did not keep the vif Connected";
        else if ((h->probes_after = h_probe(h)) != H_PROBES)
            h->why = "the vif no longer answers good frames";
        break;
    }
    case OUT_FATAL:
        if (!h_wait(h, backend_closing, ms))
            h->why = "the backend did not fail the vif";
        h->state = h_backend_state(h);
        break;
    case OUT_SURVIVE:
        h_rx_starve(h);
        if (!h->why && (h->probes_after = h_probe(h)) != H_PROBES)
            h->why = "the vif no longer answers good frames";
        break;
    }
}

static void h_report(struct hostile *h, unsigned grants_busy, int status)
{
    const struct nf_queue_stats *s = h->st, *b = &h->before;
    enum outcome want = attack_info[h->r->o->attack].expect;
    static const char *const outcome_str[] = { "error", "fatal", "survive" };
    const char *state = sc_xenbus_state_str((XenbusState)h->state);
    if (!h->r->o->json) {
        if (!h->r->o->quiet)
            printf("attack %s: %s (backend %s, %" PRIu64 " raw answers, %" PRIu64 " errors)\n",
                   attack_info[h->r->o->attack].name, status ? h->why : "as expected", state,
                   s->tx_raw_responses - b->tx_raw_responses, s->tx_rsp_error - b->tx_rsp_error);
        return;
    }
    print_json(json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:o, s:i, s:i, s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:i, s:i, "
        "s:i, s:s, s:b, s:{s:I, s:I, s:I, s:b}, s:i, s:s, s:s}",
        "mode", "hostile", "attack", attack_info[h->r->o->attack].name, "expect",
        outcome_str[want], "domid", (int)h->r->o->domid, "devid", (int)h->r->in->devid,
        "negotiated", negotiated_json(h->r->in), "raw_entries", (int)h->nreq, "raw_owed",
        (int)h->owed, "responses", "raw", (json_int_t)(s->tx_raw_responses - b->tx_raw_responses),
        "okay", (json_int_t)(s->tx_rsp_okay - b->tx_rsp_okay), "error",
        (json_int_t)(s->tx_rsp_error - b->tx_rsp_error), "dropped",
        (json_int_t)(s->tx_rsp_dropped - b->tx_rsp_dropped), "null",
        (json_int_t)(s->tx_rsp_null - b->tx_rsp_null), "other",
        (json_int_t)(s->tx_rsp_other - b->tx_rsp_other), "probes_before",
        (int)h->probes_before, "probes_after", (int)h->probes_after, "backend_state",
        h->state, "backend_state_name", state, "backend_closed", h_closing(h->state), "rx",
        "frames", (json_int_t)h->rx_frames, "errors", (json_int_t)h->rx_errors, "max_pending",
        (json_int_t)h->rx_max_pending, "overrun", h->rx_overrun, "grants_busy",
        (int)grants_busy, "why", status ? h->why : "", "result", status ? "failed" : "ok"));
}

/* Until a signal (bounded): answers reaped, rx taken, nothing sent. */
static void h_hold(struct hostile *h)
{
    uint8_t *buf = malloc(NF_MAX_FRAME + 1);
    uint64_t deadline = sc_clock_ms() + START_WAIT_MS;
    while (!stop_flag && sc_clock_ms() < deadline) {
        nf_tx_reap(h->q);
        if (buf)
            h_rx_drain(h, buf, NF_MAX_FRAME + 1);
        usleep(20000);
    }
    free(buf);
}

/* 0 when the backend did what attack_info says, else 1. */
static int run_hostile(struct run *r, struct xsim_guest *g)
{
    struct hostile h = { .r = r, .g = g, .q = nf_dev_queue(r->dev, 0) };
    h.st = nf_queue_get_stats(h.q);
    h.xs = xsim_guest_xs_open(g);
    int err = h.xs ? h_pages(&h) : -errno;
    if (err < 0) {
        fprintf(stderr, "simnetfront: hostile: setting up: %s\n", strerror(-err));
        h.why = "setting up failed";
    } else if ((h.probes_before = h_probe(&h)) != H_PROBES) {
        h.why = "probe frames were not answered before the attack";
    }
    signal_fd(r->o->ready_fd, 'c');
    if (!h.why) {
        build_attack(&h);
        h.before = *h.st;
        if (h.nreq && nf_tx_raw(h.q, h.req, h.nreq) == 0)
            nf_push(h.q);
        else if (r->o->attack == AT_PROD_AHEAD)
            nf_tx_raw_prod(h.q, nf_queue_tx_sring(h.q)->req_prod + 1000u);
        h_outcome(&h, attack_info[r->o->attack].expect);
    }
    signal_fd(r->o->ready_fd, 'd');
    if (r->o->hold)
        h_hold(&h);
    int status = h.why != NULL;
    h.end = *h.st; /* the queues go with the close */
    h.st = &h.end;
    /* Our side closed before the grants end: the backend let go by then. */
    int cr = nf_dev_close(r->dev);
    if (cr < 0 && !status) {
        h.why = "the backend did not close the device when asked";
        status = 1;
    }
    unsigned busy = h.xs ? h_pages_free(&h) : 0;
    if (busy && !status) {
        h.why = "the backend still held a grant after Closed";
        status = 1;
    }
    h_report(&h, busy, status);
    if (h.xs)
        xs_close(h.xs);
    return status;
}


/* ---- hostile mode: xenstore ---- */

struct xsk {
    const struct opts *o;
    struct xs_handle *xs;
    char fe[96], be[160];
};

static char *xsk_read(struct xsk *x, const char *dir, const char *key)
{
    char path[300];
    unsigned len;
    snprintf(path, sizeof(path), "%s/%s", dir, key);
    return xs_read(x->xs, XBT_NULL, path, &len);
}

static bool xsk_write(struct xsk *x, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool xsk_write(struct xsk *x, const char *key, const char *fmt, ...)
{
    char path[300], val[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", x->fe, key);
    return xs_write(x->xs, XBT_NULL, path, val, strlen(val));
}

static int xsk_state(struct xsk *x)
{
    char *v = xsk_read(x, x->be, "state");
    if (!v)
        return XenbusStateClosed;
    int st = atoi(v);
    free(v);
    return st;
}

/* Polls the backend's state until it is in `mask` or ms pass; *seen gets
 * every state met on the way (a bit each).  The last state read. */
static int xsk_wait(struct xsk *x, unsigned mask, unsigned ms, unsigned *seen)
{
    uint64_t deadline = sc_clock_ms() + ms;
    for (;;) {
        int st = xsk_state(x);
        if (seen && st >= 0 && st < 32)
            *seen |= 1u << st;
        if ((st >= 0 && st < 32 && (mask & (1u << st))) || sc_clock_ms() >= deadline ||
            stop_flag)
            return st;
        usleep(5000);
    }
}

#define BIT(st) (1u << (st))

/* xs-keys: 0 when the backend failed the vif and never connected it. */
static int run_xs_keys(struct opts *o, struct xsim_guest *g)
{
    struct xsk x = { .o = o };
    const char *why = NULL;
    struct nf_queue *q = NULL;
    unsigned seen = 0, ms = o->want.timeout_ms ? o->want.timeout_ms : 10000u;
    int st = -1;
    bool split = false;
    snprintf(x.fe, sizeof(x.fe), "/local/domain/%ld/device/vif/%u", o->domid, o->devid);
    x.xs = xsim_guest_xs_open(g);
    char *be = x.xs ? xsk_read(&x, x.fe, "backend") : NULL;
    char *beid = x.xs ? xsk_read(&x, x.fe, "backend-id") : NULL;
    if (!be || !beid) {
        why = "no vif to attack (backend, backend-id)";
        goto out;
    }
    snprintf(x.be, sizeof(x.be), "%s", be);
    if (h_closing(xsk_state(&x))) /* an earlier frontend's: start again */
        xsk_write(&x, "state", "%d", XenbusStateInitialising);
    if (xsk_wait(&x, BIT(XenbusStateInitWait), ms, NULL) != XenbusStateInitWait) {
        why = "the backend never reached InitWait";
        goto out;
    }
    char *sp = xsk_read(&x, x.be, "feature-split-event-channels");
    split = o->want.split_evtchn && sp && atoi(sp) == 1;
    free(sp);
    int err = nf_queue_create(g, (domid_t)atoi(beid), split, &q);
    if (err == 0)
        err = nf_rx_refill(q) < 0 ? -ENOMEM : 0;
    if (err < 0) {
        why = "creating the rings failed";
        goto out;
    }
    /* What an earlier run left, then what Linux netfront writes for one
     * queue, then the overrides. */
    static const char *const stale[] = {
        "tx-ring-ref", "rx-ring-ref", "event-channel", "event-channel-tx", "event-channel-rx",
        "multi-queue-num-queues", "queue-0", "queue-1", "request-multicast-control",
        "xdp-headroom", "feature-no-csum-offload", "ctrl-ring-ref", "event-channel-ctrl",
    };
    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        char path[300];
        snprintf(path, sizeof(path), "%s/%s", x.fe, stale[i]);
        xs_rm(x.xs, XBT_NULL, path);
    }
    bool ok = xsk_write(&x, "tx-ring-ref", "%u", nf_queue_tx_ref(q)) &&
              xsk_write(&x, "rx-ring-ref", "%u", nf_queue_rx_ref(q)) &&
              xsk_write(&x, "request-rx-copy", "1") &&
              xsk_write(&x, "feature-rx-notify", "1") &&
              xsk_write(&x, "feature-sg", "1");
    if (ok && split)
        ok = xsk_write(&x, "event-channel-tx", "%u", nf_queue_tx_port(q)) &&
             xsk_write(&x, "event-channel-rx", "%u", nf_queue_rx_port(q));
    else if (ok)
        ok = xsk_write(&x, "event-channel", "%u", nf_queue_tx_port(q));
    for (unsigned i = 0; ok && i < o->nset; i++) {
        const char *eq = strchr(o->set[i], '=');
        char key[128], path[300];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - o->set[i]), o->set[i]);
        snprintf(path, sizeof(path), "%s/%s", x.fe, key);
        ok = eq[1] ? xsk_write(&x, key, "%s", eq + 1)
                   : (xs_rm(x.xs, XBT_NULL, path) || errno == ENOENT);
    }
    if (!ok || !xsk_write(&x, "state", "%d", XenbusStateConnected)) {
        why = "writing the frontend keys failed";
        goto out;
    }
    nf_queue_kick(q);
    st = xsk_wait(&x, BIT(XenbusStateClosing) | BIT(XenbusStateClosed), ms, &seen);
    if (!h_closing(st))
        why = "the backend did not fail the vif";
    else if (seen & BIT(XenbusStateConnected))
        why = "the backend connected the vif first";
    /* Closed as netfront would: Closing, backend Closed, Closed. */
    xsk_write(&x, "state", "%d", XenbusStateClosing);
    xsk_wait(&x, BIT(XenbusStateClosing) | BIT(XenbusStateClosed), ms, NULL);
    xsk_write(&x, "state", "%d", XenbusStateClosed);
    if (xsk_wait(&x, BIT(XenbusStateClosed), ms, NULL) != XenbusStateClosed && !why)
        why = "the backend did not reach Closed";
out:
    nf_queue_destroy(q);
    if (o->json) {
        json_t *keys = json_array();
        for (unsigned i = 0; i < o->nset; i++)
            json_array_append_new(keys, json_string(o->set[i]));
        print_json(json_pack("{s:s, s:s, s:s, s:i, s:i, s:o, s:b, s:i, s:s, s:b, s:b, s:s, s:s}",
                             "mode", "hostile", "attack", "xs-keys", "expect", "fatal",
                             "domid", (int)o->domid, "devid", (int)o->devid, "set", keys,
                             "split", split, "backend_state", st, "backend_state_name",
                             sc_xenbus_state_str((XenbusState)st), "backend_closed",
                             h_closing(st), "saw_connected",
                             (seen & BIT(XenbusStateConnected)) != 0, "why", why ? why : "",
                             "result", why ? "failed" : "ok"));
    } else if (!o->quiet) {
        printf("xs-keys: %s (backend %s)\n", why ? why : "as expected",
               sc_xenbus_state_str((XenbusState)st));
    }
    free(be);
    free(beid);
    if (x.xs)
        xs_close(x.xs);
    return why ? 1 : 0;
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
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct xsim_guest *g = xsim_guest_open(o.dir, (domid_t)o.domid);
    if (!g) {
        fprintf(stderr, "simnetfront: cannot act as domain %ld in %s: %s\n", o.domid, o.dir,
                strerror(errno));
        return 3;
    }
    if (o.mode == MODE_HOSTILE && o.attack == AT_XS_KEYS) {
        int st = run_xs_keys(&o, g);
        xsim_guest_close(g);
        return st;
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
    int status = o.mode == MODE_TAP       ? run_tap(&r)
                 : o.mode == MODE_HOSTILE ? run_hostile(&r, g)
                                          : run_traffic(&r);
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
