/*
 * netgen.c - the traffic engine (netgen.h): test frames out, paced or as
 * fast as the rings take them; every frame in verified, tracked per sender
 * and flow, or reflected.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "netgen.h"

#define HIST_BUCKETS 2048
#define MAX_PEERS 64
#define STALL_MS 15000
#define SEND_BATCH 256
#define RX_CAP (NFR_MAX_FRAME + 1)

/* What one sender's stream looks like on one flow, as received. */
struct rx_flow {
    bool seen;
    uint32_t next;
};
struct peer {
    uint8_t mac[NFR_ETH_ALEN];
    struct rx_flow *flows;      /* NFR_MAX_FLOWS */
};

struct ng_run {
    struct ng_opts opts;
    const struct ng_opts *o;    /* &opts */
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

/* ---- latency histogram: 32 sub-buckets per power of two (~3%) ---- */

static unsigned hist_idx(uint64_t v)
{
    if (v < 32)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);
    unsigned idx = (e - 4) * 32 + (unsigned)((v >> (e - 5)) & 31);
    return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static double hist_pct_us(const struct ng_run *r, double pct)
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

/* ---- receive ---- */

static struct peer *find_peer(struct ng_run *r, const uint8_t mac[NFR_ETH_ALEN])
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
static bool track(struct ng_run *r, const struct nfr_msg *m, bool self)
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

static void verify_frame(struct ng_run *r, const uint8_t *f, size_t n, const struct nf_rx_meta *m)
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
static bool csum_ok_for(const struct ng_run *r, bool v6)
{
    return v6 ? r->in->ipv6_csum_offload : r->in->csum_offload;
}

/* Sends on queue q, waiting (bounded) for room. */
static int send_waiting(struct ng_run *r, unsigned q, const uint8_t *f, size_t n,
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
        if (sc_clock_ms() > deadline || *r->o->stop)
            return -ETIMEDOUT;
        nf_wait(nq, 10);
    }
}

/* Echo: the frame back to where it came from, its offloads kept when the
 * backend takes them (else the checksum is completed here). */
static void echo_frame(struct ng_run *r, unsigned q, uint8_t *f, size_t n,
                       const struct nf_rx_meta *m)
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
static int receive_all(struct ng_run *r)
{
    int got = 0;
    for (unsigned q = 0; q < r->nq; q++) {
        struct nf_queue *nq = nf_dev_queue(r->dev, q);
        struct nf_rx_meta m;
        int n;
        while ((n = nf_recv(nq, r->rxbuf, RX_CAP, &m)) > 0) {
            got++;
            if (r->o->mode == NG_ECHO)
                echo_frame(r, q, r->rxbuf, (size_t)n, &m);
            else
                verify_frame(r, r->rxbuf, (size_t)n, &m);
        }
        if (n < 0)
            return n;
        if (r->o->mode == NG_ECHO)
            nf_push(nq);
    }
    if (got)
        r->last_rx_ns = sc_clock_ns();
    return got;
}

/* ---- send ---- */

/* How frames are built and what the ring is told, from what was negotiated. */
static int setup_tx(struct ng_run *r)
{
    const struct ng_opts *o = r->o;
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
static int send_some(struct ng_run *r, uint64_t *next_ns, uint64_t period_ns)
{
    const struct ng_opts *o = r->o;
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

static int reap_all(struct ng_run *r, unsigned *inflight)
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
static int sleep_on_rings(struct ng_run *r, uint64_t wait_ns)
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

static bool sending_done(const struct ng_run *r, uint64_t now, uint64_t deadline)
{
    if (r->o->mode != NG_GEN)
        return true;
    return now >= deadline || (r->o->count && r->sent >= r->o->count) ||
           (r->o->finish && *r->o->finish);
}

/* Receive-only modes end at --count messages (sink) or frames (echo). */
static bool receiving_done(const struct ng_run *r)
{
    const struct ng_opts *o = r->o;
    if (o->mode == NG_SINK)
        return o->count && r->peer_msgs + r->echoes >= o->count;
    if (o->mode == NG_ECHO)
        return o->count && r->echoed + r->echo_dropped >= o->count;
    return false;
}

static int drive(struct ng_run *r)
{
    const struct ng_opts *o = r->o;
    uint64_t t0 = sc_clock_ns();
    uint64_t deadline = o->seconds > 0 ? t0 + (uint64_t)(o->seconds * 1e9) : UINT64_MAX;
    uint64_t period = o->rate > 0 ? (uint64_t)(1e9 / o->rate) : 0;
    uint64_t next_send = t0, last_progress = t0, done_at = 0;
    uint64_t linger = (uint64_t)o->linger_ms * 1000000u;
    r->last_rx_ns = t0;
    while (!*r->o->stop) {
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
        } else if (o->mode == NG_GEN) {
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

static uint64_t lost(const struct ng_run *r)
{
    const struct ng_opts *o = r->o;
    uint64_t l = o->expect ? (o->expect > r->peer_msgs ? o->expect - r->peer_msgs : 0)
                           : r->peer_gaps;
    if (o->mode == NG_GEN && o->expect_echo)
        l += r->sent > r->echoes ? r->sent - r->echoes : 0;
    else
        l += r->self_gaps;
    return l;
}

/* ---- API ---- */

int ng_create(struct nf_dev *d, const struct ng_opts *o, struct ng_run **out)
{
    static volatile sig_atomic_t never;
    struct ng_run *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->opts = *o;
    if (!r->opts.stop)
        r->opts.stop = &never;
    if (!r->opts.flows)
        r->opts.flows = 1;
    r->o = &r->opts;
    r->dev = d;
    r->in = nf_dev_get_info(d);
    r->nq = nf_dev_nr_queues(d);
    r->txbuf = malloc(NFR_MAX_FRAME);
    r->rxbuf = malloc(RX_CAP);
    int err = r->txbuf && r->rxbuf ? 0 : -ENOMEM;
    if (!err && o->mode == NG_GEN)
        err = setup_tx(r);
    if (err) {
        ng_destroy(r);
        return err;
    }
    *out = r;
    return 0;
}

int ng_drive(struct ng_run *r)
{
    return drive(r);
}

void ng_get_result(const struct ng_run *r, struct ng_result *out)
{
    *out = (struct ng_result){
        .sent = r->sent, .sent_bytes = r->sent_bytes, .received = r->received,
        .received_bytes = r->rx_bytes, .bad_csum = r->bad_csum, .bad_data = r->bad_data,
        .other = r->other, .echoes = r->echoes, .peer_messages = r->peer_msgs,
        .out_of_order = r->out_of_order, .lost = lost(r), .echoed = r->echoed,
        .echo_dropped = r->echo_dropped, .p50_us = hist_pct_us(r, 50),
        .p99_us = hist_pct_us(r, 99),
    };
}

void ng_destroy(struct ng_run *r)
{
    if (!r)
        return;
    for (unsigned i = 0; i < r->npeers; i++)
        free(r->peers[i].flows);
    free(r->tx_seq);
    free(r->txbuf);
    free(r->rxbuf);
    free(r);
}
