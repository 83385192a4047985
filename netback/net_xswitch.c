/*
 * net_xswitch.c - the internal switch of a driver domain: its table, its
 * host port and the queue that reads it (net_xswitch.h).
 *
 * The host port's queue: frames the driver domain sends into the switch's
 * TAP interface are read into local buffers, their source learnt on the
 * host port, and handed to the vif queues they are for as transfers of
 * local memory; a buffer is reused when every receiver answered.  It has
 * no ring and no event channel: its core watches the TAP descriptor and
 * the inbox the answers come back to.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/virtio_net.h>

#include "clock.h"
#include "log.h"
#include "net_switch.h"
#include "net_tap.h"
#include "net_xswitch.h"
#include "queue_attach.h"

#define HOST_BUFS     64u
#define HOST_BUF_SIZE (65536u + 4096u)
#define HOST_XFERS    512u
#define FDB_SIZE      4096u

struct host_buf {
    uint8_t *data;
    uint32_t len;
    unsigned refs;
};

struct net_xswitch {
    struct sc_queue sc;            /* the host port's queue */
    char name[NET_TAP_NAME_MAX];
    struct sc_pool *pool;
    struct net_switch *sw;
    struct net_port host;          /* the owner of the host port */
    int tap_fd;
    struct sc_attach at;
    struct net_xport xp;
    struct host_buf bufs[HOST_BUFS];
    unsigned free_idx[HOST_BUFS], nfree;
    uint8_t *mem;
    struct sc_ratelimit rl;
    unsigned members;              /* vif ports joined: the host queue runs while > 0 */
    struct net_xswitch_member *releasing; /* the last to leave, told when the queue is off */
    struct net_xswitch *next;
};

static struct net_xswitch *all_switches;

static struct net_xswitch *xsw_of(struct sc_queue *sq)
{
    return (struct net_xswitch *)((char *)sq - offsetof(struct net_xswitch, sc));
}

/* ---- the host port's queue (its core) ---- */

static void buf_unref(struct net_xswitch *x, struct host_buf *b)
{
    if (--b->refs == 0)
        x->free_idx[x->nfree++] = (unsigned)(b - x->bufs);
}

static void take_answers(struct net_xswitch *x)
{
    struct sc_inbox_msg *m = sc_inbox_take_all(&x->xp.inbox);
    while (m) {
        struct sc_inbox_msg *next = sc_inbox_next(m);
        struct net_xfer *xf = net_xfer_of(m);
        if (xf->returned) {
            struct host_buf *b = xf->cookie;
            net_xfer_put(&x->xp, xf);
            buf_unref(x, b);
        } else {
            net_xfer_return(xf, -ENOBUFS); /* nothing is sent to the host port's queue */
        }
        m = next;
    }
}

struct host_send {
    struct net_xswitch *x;
    struct host_buf *b;
    const struct net_offload *off;
};

static void host_send_to(int port, void *owner, void *arg)
{
    struct host_send *s = arg;
    const struct net_port *op = owner;
    if (!op || !op->nqueues)
        return; /* the host port itself, or a port on its way out */
    struct net_xfer *xf = net_xfer_get(&s->x->xp);
    if (!xf) {
        net_switch_count_drop(s->x->sw, port, 1);
        return;
    }
    xf->src_domid = 0;
    xf->frags = NULL;
    xf->nfrags = 0;
    xf->local = s->b->data;
    xf->len = s->b->len;
    xf->off = *s->off;
    memcpy(xf->hdr, s->b->data, s->b->len < NET_XFER_HDR ? s->b->len : NET_XFER_HDR);
    xf->cookie = s->b;
    s->b->refs++;
    net_switch_count_tx(s->x->sw, port, 1, s->b->len);
    uint32_t hlen = xf->len < NET_XFER_HDR ? xf->len : NET_XFER_HDR;
    net_xfer_send(xf, net_port_pick(op, xf->hdr, hlen));
}

static void host_switch(struct net_xswitch *x, struct host_buf *b, const struct net_offload *off,
                        uint64_t now_ns)
{
    const uint8_t *dst = b->data;
    struct host_send s = { .x = x, .b = b, .off = off };
    b->refs = 1; /* held while sending */
    net_switch_learn(x->sw, x->host.id, b->data + 6, now_ns);
    net_switch_count_rx(x->sw, x->host.id, 1, b->len);
    int port = NET_SWITCH_NO_PORT;
    if (!(dst[0] & 1))
        port = net_switch_lookup(x->sw, dst, now_ns);
    if (port == x->host.id)
        ; /* the host's own: dropped */
    else if (port != NET_SWITCH_NO_PORT)
        host_send_to(port, net_switch_port_owner(x->sw, port), &s);
    else
        net_switch_flood(x->sw, x->host.id, dst, host_send_to, &s);
    buf_unref(x, b);
}

static int host_poll(struct sc_queue *sq, const struct sc_sched_grant *g, struct sc_visit *v)
{
    struct net_xswitch *x = xsw_of(sq);
    sc_inbox_disarm(&x->xp.inbox);
    take_answers(x);
    while (x->nfree) {
        if (!sc_sched_grant_admits(g, v->bytes, v->requests, 0)) {
            v->more = true;
            break;
        }
        struct host_buf *b = &x->bufs[x->free_idx[x->nfree - 1]];
        struct virtio_net_hdr vh;
        struct iovec iov[2] = {
            { .iov_base = &vh, .iov_len = sizeof(vh) },
            { .iov_base = b->data, .iov_len = HOST_BUF_SIZE },
        };
        ssize_t n = readv(x->tap_fd, iov, 2);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                sc_log_limited(&x->rl, SC_LOG_WARN, x->sc.name, "reading %s: %s", x->name,
                               strerror(errno));
            break;
        }
        if ((size_t)n < sizeof(vh) + NET_ETH_HLEN)
            continue;
        b->len = (uint32_t)((size_t)n - sizeof(vh));
        struct net_offload off;
        if (net_offload_from_vnet(&vh, &off) < 0) {
            net_switch_count_drop(x->sw, x->host.id, 1);
            continue;
        }
        x->nfree--;
        v->requests++;
        v->bytes += b->len;
        host_switch(x, b, &off, v->now_ns);
    }
    return 0;
}

static void host_flush(struct sc_queue *sq)
{
    (void)sq; /* no ring: nothing to publish */
}

static bool host_rearm(struct sc_queue *sq)
{
    struct net_xswitch *x = xsw_of(sq);
    return !sc_inbox_arm(&x->xp.inbox);
}

static bool host_idle(struct sc_queue *sq)
{
    struct net_xswitch *x = xsw_of(sq);
    take_answers(x);
    return net_xport_outstanding(&x->xp) == 0;
}

/* Answers in the inbox; frames on the TAP are found by the core, which
 * asks the watched fds of parked queues each round. */
static bool host_pending(struct sc_queue *sq)
{
    struct net_xswitch *x = xsw_of(sq);
    return !sc_inbox_empty(&x->xp.inbox);
}

static const struct sc_queue_ops host_ops = {
    .poll = host_poll,
    .flush = host_flush,
    .rearm = host_rearm,
    .idle = host_idle,
    .pending = host_pending,
};

/* ---- the switch (control thread) ---- */

static void host_added(struct sc_attach *a, int result)
{
    struct net_xswitch *x = a->owner;
    if (result < 0)
        sc_log(SC_LOG_ERR, x->sc.name, "no sidecore took the host port's queue: %s",
               strerror(-result));
}

static int host_attach(struct net_xswitch *x);

/* The last vif left (or the daemon stops): the host port's queue is off
 * its core; one joined meanwhile brings it back. */
static void host_detached(struct sc_attach *a, int result)
{
    (void)result;
    struct net_xswitch *x = a->owner;
    struct net_xswitch_member *m = x->releasing;
    x->releasing = NULL;
    if (x->members && host_attach(x) < 0)
        sc_log(SC_LOG_ERR, x->sc.name, "putting the host port's queue back on a sidecore failed");
    if (m)
        m->released(m);
}

static int host_attach(struct net_xswitch *x)
{
    x->at = (struct sc_attach){ .owner = x, .added = host_added, .detached = host_detached };
    return sc_attach_queue(&x->at, x->pool, &x->sc, NULL, 0);
}

static int xswitch_open(struct net_xswitch *x, const char *name, struct sc_pool *pool)
{
    snprintf(x->name, sizeof(x->name), "%s", name);
    x->pool = pool;
    x->tap_fd = -1;
    x->xp.inbox.efd = -1;
    int rc = sc_queue_init(&x->sc, &host_ops, 0, SC_TCLASS_VIF, "switch %s host", name);
    if (rc < 0)
        return rc;
    x->sw = net_switch_create(name, NET_XSWITCH_PORTS, FDB_SIZE, NET_XSWITCH_AGE_NS);
    if (!x->sw)
        return -errno;
    x->mem = mmap(NULL, (size_t)HOST_BUFS * HOST_BUF_SIZE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (x->mem == MAP_FAILED) {
        x->mem = NULL;
        return -errno;
    }
    for (unsigned i = 0; i < HOST_BUFS; i++) {
        x->bufs[i].data = x->mem + (size_t)i * HOST_BUF_SIZE;
        x->free_idx[x->nfree++] = i;
    }
    if ((rc = net_xport_init(&x->xp, HOST_XFERS)) < 0)
        return rc;
    bool adopted;
    rc = net_tap_create(name, 0, &adopted); /* kept across restarts, with its addresses */
    if (rc < 0)
        return rc;
    x->tap_fd = rc;
    if (adopted)
        sc_log(SC_LOG_INFO, "vif", "switch %s: adopted its interface from an earlier daemon",
               name);
    /* whatever the host sends: the receivers fix what their guests lack */
    if ((rc = net_tap_set_offloads(x->tap_fd, true, true, true)) < 0)
        sc_log(SC_LOG_WARN, x->sc.name, "setting the offloads of %s: %s", name, strerror(-rc));
    x->host = (struct net_port){ .sw = x->sw, .host_fd = x->tap_fd };
    rc = net_switch_port_add(x->sw, &x->host, name);
    if (rc < 0)
        return rc;
    x->host.id = rc;
    if ((rc = sc_queue_watch_fd(&x->sc, x->tap_fd)) < 0 ||
        (rc = sc_queue_watch_fd(&x->sc, sc_inbox_fd(&x->xp.inbox))) < 0)
        return rc;
    return 0; /* its queue goes on a core with the first vif */
}

static void xswitch_close(struct net_xswitch *x)
{
    if (x->tap_fd >= 0)
        close(x->tap_fd);
    net_xport_destroy(&x->xp);
    if (x->mem)
        munmap(x->mem, (size_t)HOST_BUFS * HOST_BUF_SIZE);
    net_switch_destroy(x->sw);
    free(x);
}

struct net_xswitch *net_xswitch_get(const char *name, struct sc_pool *pool)
{
    if (!name || !*name || strlen(name) >= NET_TAP_NAME_MAX || !pool) {
        errno = EINVAL;
        return NULL;
    }
    for (struct net_xswitch *x = all_switches; x; x = x->next)
        if (x->pool == pool && strcmp(x->name, name) == 0)
            return x;
    struct net_xswitch *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    int rc = xswitch_open(x, name, pool);
    if (rc < 0) {
        sc_log(SC_LOG_ERR, "vif", "switch %s: %s", name, strerror(-rc));
        xswitch_close(x);
        errno = -rc;
        return NULL;
    }
    sc_log(SC_LOG_INFO, "vif", "switch %s: made, its host port is the interface %s", name, name);
    x->next = all_switches;
    all_switches = x;
    return x;
}

const char *net_xswitch_name(const struct net_xswitch *x)
{
    return x->name;
}

int net_xswitch_join(struct net_xswitch *x, struct net_xswitch_member *m, const char *port_name,
                     struct net_xport *const *xports, unsigned n, const struct net_hash *hash)
{
    if (!n || n > NET_MAX_QUEUES || m->joined)
        return -EINVAL;
    m->port = (struct net_port){ .sw = x->sw, .nqueues = n, .host_fd = -1, .hash = hash };
    for (unsigned i = 0; i < n; i++)
        m->port.xports[i] = xports[i];
    int id = net_switch_port_add(x->sw, &m->port, port_name);
    if (id < 0)
        return id;
    m->port.id = id;
    m->joined = true;
    /* the host queue: on a core with the first vif (or back once a
     * detach in progress completes: host_detached) */
    if (x->members++ == 0 && !sc_attach_busy(&x->at)) {
        int rc = host_attach(x);
        if (rc < 0)
            sc_log(SC_LOG_ERR, x->sc.name, "putting the host port's queue on a sidecore: %s",
                   strerror(-rc));
    }
    return 0;
}

static void grace_done(struct sc_grace *g)
{
    struct net_xswitch_member *m = g->owner;
    m->left(m);
}

void net_xswitch_leave(struct net_xswitch *x, struct net_xswitch_member *m)
{
    if (!m->joined) {
        m->left(m);
        return;
    }
    net_switch_port_del(x->sw, m->port.id);
    m->grace.owner = m;
    m->grace.done = grace_done;
    if (sc_grace_start(&m->grace, x->pool) < 0)
        m->left(m);
}

bool net_xswitch_release(struct net_xswitch *x, struct net_xswitch_member *m)
{
    if (!m->joined)
        return false;
    net_switch_port_release(x->sw, m->port.id);
    m->joined = false;
    /* no vif left: nothing for the host to reach */
    if (--x->members == 0 && sc_attach_busy(&x->at) && !x->at.remove_posted && !x->releasing &&
        m->released && sc_detach_queue(&x->at) == 0) {
        if (sc_attach_busy(&x->at)) {
            x->releasing = m;
            return true;
        }
    }
    return false;
}

void net_xswitch_age(struct net_xswitch *x)
{
    net_switch_age(x->sw, sc_clock_ns());
}

json_t *net_xswitch_describe(struct net_xswitch *x)
{
    json_t *o = net_switch_describe(x->sw, sc_clock_ns());
    if (o)
        json_object_set_new(o, "host_interface", json_string(x->name));
    return o;
}

void net_xswitch_foreach(void (*fn)(struct net_xswitch *x, void *arg), void *arg)
{
    for (struct net_xswitch *x = all_switches; x; x = x->next)
        fn(x, arg);
}
