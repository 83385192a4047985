/*
 * nettap.c - the TAP adapter (nettap.h): TAP creation inside a network
 * namespace, the virtio_net_hdr <-> netif offload conversions, and the loop
 * that moves frames between the TAP and the device's queues.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netframe.h"
#include "nettap.h"

#define VNET_HLEN sizeof(struct virtio_net_hdr)
/* The largest GSO frame the TAP may hand us: what fits a first tx slot's
 * 16-bit size, less room for headers (Linux netfront caps TSO the same way). */
#define TAP_GSO_MAX_SIZE 65215
#define TAP_BATCH 64

/* ---- conversions ---- */

void nettap_offloads_from(const struct nf_dev_info *in, struct nettap_offloads *out)
{
    out->csum4 = in->csum_offload;
    out->csum6 = in->ipv6_csum_offload;
    out->tso4 = in->gso_tcpv4 && in->sg && out->csum4;
    out->tso6 = in->gso_tcpv6 && in->sg && out->csum6;
}

unsigned nettap_tun_flags(const struct nettap_offloads *o)
{
    unsigned f = 0;
    if (o->csum4 || o->csum6)
        f |= TUN_F_CSUM;
    if (o->tso4)
        f |= TUN_F_TSO4;
    if (o->tso6)
        f |= TUN_F_TSO6;
    return f;
}

int nettap_to_netif(const struct virtio_net_hdr *vh, uint8_t *frame, size_t len,
                    const struct nettap_offloads *o, struct nf_tx_meta *meta)
{
    memset(meta, 0, sizeof(*meta));
    struct nfr_l4 p;
    bool parsed = nfr_parse(frame, len, &p) == 0;
    uint8_t gso = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
    if (gso != VIRTIO_NET_HDR_GSO_NONE) {
        if (gso == VIRTIO_NET_HDR_GSO_TCPV4 && o->tso4)
            meta->gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
        else if (gso == VIRTIO_NET_HDR_GSO_TCPV6 && o->tso6)
            meta->gso_type = XEN_NETIF_GSO_TYPE_TCPV6;
        else
            return -EOPNOTSUPP;
        if (!vh->gso_size)
            return -EINVAL;
        meta->gso_size = vh->gso_size;
    }
    if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        bool may = parsed && nfr_csum_field(&p) == (size_t)vh->csum_start + vh->csum_offset &&
                   (p.ipv6 ? o->csum6 : o->csum4);
        if (may) {
            meta->csum_blank = true;
        } else {
            if (meta->gso_type)
                return -EOPNOTSUPP; /* GSO needs the partial checksum */
            int err = nfr_csum_complete_at(frame, len, vh->csum_start, vh->csum_offset);
            if (err)
                return err;
            meta->data_validated = true;
        }
    } else if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
        meta->data_validated = true;
    }
    return 0;
}

int nettap_from_netif(const struct nf_rx_meta *m, uint8_t *frame, size_t len,
                      struct virtio_net_hdr *vh)
{
    memset(vh, 0, sizeof(*vh));
    bool gso = m->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 || m->gso_type == XEN_NETIF_GSO_TYPE_TCPV6;
    if (!m->csum_blank && !gso) {
        if (m->data_validated)
            vh->flags = VIRTIO_NET_HDR_F_DATA_VALID;
        return 0;
    }
    struct nfr_l4 p;
    if (nfr_parse(frame, len, &p) < 0 || (gso && p.proto != IPPROTO_TCP))
        return -EINVAL;
    if (!m->csum_blank)
        nfr_csum_set_partial(frame, &p); /* GSO segments get theirs from it */
    vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    vh->csum_start = (uint16_t)p.l4;
    vh->csum_offset = (uint16_t)(nfr_csum_field(&p) - p.l4);
    if (gso) {
        vh->gso_type = m->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 ? VIRTIO_NET_HDR_GSO_TCPV4
                                                                : VIRTIO_NET_HDR_GSO_TCPV6;
        vh->gso_size = m->gso_size;
        vh->hdr_len = (uint16_t)p.payload;
    }
    return 0;
}

/* ---- setup ---- */

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return ret;
}

/* Runs `ip [-n netns] args...`; its exit status, or -errno. */
static int run_ip(const char *netns, const char *const *args)
{
    const char *argv[16];
    unsigned n = 0;
    argv[n++] = "ip";
    if (netns) {
        argv[n++] = "-n";
        argv[n++] = netns;
    }
    for (; *args && n < 15; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        execvp("ip", (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -errno;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -ECHILD;
}

/* Enters network namespace `name` (ip netns); *back gets ours. */
static int enter_netns(const char *name, int *back)
{
    char path[300];
    snprintf(path, sizeof(path), "/run/netns/%s", name);
    int ns = open(path, O_RDONLY | O_CLOEXEC);
    if (ns < 0)
        return -errno;
    *back = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int ret = *back < 0 || setns(ns, CLONE_NEWNET) < 0 ? -errno : 0;
    close(ns);
    if (ret && *back >= 0)
        close(*back);
    return ret;
}

static int open_tap(const struct nettap_opts *o, unsigned tun_flags, char *err, size_t errlen)
{
    int back = -1, ret;
    if (o->netns && (ret = enter_netns(o->netns, &back)) < 0)
        return fail(err, errlen, ret, "netns %s: %s", o->netns, strerror(-ret));
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    ret = fd < 0 ? -errno : 0;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->ifname);
    int hsz = (int)VNET_HLEN;
    const char *what = "/dev/net/tun";
    if (!ret && ioctl(fd, TUNSETIFF, &ifr) < 0)
        ret = -errno, what = "TUNSETIFF";
    if (!ret && ioctl(fd, TUNSETVNETHDRSZ, &hsz) < 0)
        ret = -errno, what = "TUNSETVNETHDRSZ";
    if (!ret && ioctl(fd, TUNSETOFFLOAD, tun_flags) < 0)
        ret = -errno, what = "TUNSETOFFLOAD";
    if (back >= 0) {
        if (setns(back, CLONE_NEWNET) < 0 && !ret)
            ret = -errno, what = "setns back";
        close(back);
    }
    if (ret) {
        if (fd >= 0)
            close(fd);
        return fail(err, errlen, ret, "%s %s: %s", what, o->ifname, strerror(-ret));
    }
    return fd;
}

static int configure(const struct nettap_opts *o, const struct nf_dev_info *in, char *err,
                     size_t errlen)
{
    char mac[24], mtu[16], gso[16];
    snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", in->mac[0], in->mac[1],
             in->mac[2], in->mac[3], in->mac[4], in->mac[5]);
    snprintf(mtu, sizeof(mtu), "%u", o->mtu ? o->mtu : in->mtu);
    snprintf(gso, sizeof(gso), "%u", TAP_GSO_MAX_SIZE);
    const char *link[] = { "link", "set", "dev", o->ifname, "address", mac, "mtu", mtu,
                           "gso_max_size", gso, "up", NULL };
    int r = run_ip(o->netns, link);
    if (r)
        return fail(err, errlen, -EIO, "ip link set dev %s address %s mtu %s up: %s", o->ifname,
                    mac, mtu, r < 0 ? strerror(-r) : "failed");
    if (o->addr) {
        const char *addr[] = { "addr", "add", o->addr, "dev", o->ifname, NULL };
        if ((r = run_ip(o->netns, addr)))
            return fail(err, errlen, -EIO, "ip addr add %s dev %s: %s", o->addr, o->ifname,
                        r < 0 ? strerror(-r) : "failed");
    }
    return 0;
}

/* ---- the loop ---- */

struct tap_run {
    struct nf_dev *d;
    int fd;
    unsigned nq;
    struct nettap_offloads off;
    struct nettap_stats *st;
    uint8_t *buf;               /* virtio_net_hdr + frame */
    size_t cap;
};

static void ring_to_tap(struct tap_run *t)
{
    uint8_t *frame = t->buf + VNET_HLEN;
    for (unsigned q = 0; q < t->nq; q++) {
        struct nf_rx_meta m;
        int n;
        while ((n = nf_recv(nf_dev_queue(t->d, q), frame, t->cap - VNET_HLEN, &m)) > 0) {
            struct virtio_net_hdr vh;
            if (nettap_from_netif(&m, frame, (size_t)n, &vh) < 0) {
                t->st->dropped_from_ring++;
                continue;
            }
            memcpy(t->buf, &vh, sizeof(vh));
            if (write(t->fd, t->buf, VNET_HLEN + (size_t)n) != (ssize_t)(VNET_HLEN + (size_t)n)) {
                t->st->dropped_from_ring++;
                continue;
            }
            t->st->from_ring++;
            t->st->from_ring_bytes += (size_t)n;
            t->st->from_ring_gso += m.gso_type != XEN_NETIF_GSO_TYPE_NONE;
            t->st->from_ring_csum_blank += m.csum_blank;
        }
    }
}

/* Every queue can take the largest frame: read from the TAP only then,
 * else let the kernel queue (as a full NIC does). */
static bool rings_have_room(struct tap_run *t)
{
    for (unsigned q = 0; q < t->nq; q++)
        if (nf_queue_tx_free(nf_dev_queue(t->d, q)) < NF_MAX_SLOTS + 1)
            return false;
    return true;
}

static void tap_to_ring(struct tap_run *t)
{
    uint8_t *frame = t->buf + VNET_HLEN;
    for (unsigned i = 0; i < TAP_BATCH && rings_have_room(t); i++) {
        ssize_t r = read(t->fd, t->buf, t->cap);
        if (r < (ssize_t)VNET_HLEN)
            break;
        size_t len = (size_t)r - VNET_HLEN;
        struct virtio_net_hdr vh;
        memcpy(&vh, t->buf, sizeof(vh));
        struct nf_tx_meta meta;
        bool sw_csum = (vh.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
        if (nettap_to_netif(&vh, frame, len, &t->off, &meta) < 0) {
            t->st->dropped_to_ring++;
            continue;
        }
        unsigned q = t->nq > 1 ? nfr_flow_hash(frame, len) % t->nq : 0;
        if (nf_send(nf_dev_queue(t->d, q), frame, len, &meta) < 0) {
            t->st->dropped_to_ring++;
            continue;
        }
        t->st->to_ring++;
        t->st->to_ring_bytes += len;
        t->st->to_ring_gso += meta.gso_type != XEN_NETIF_GSO_TYPE_NONE;
        t->st->to_ring_csum_blank += meta.csum_blank;
        t->st->csum_completed += sw_csum && !meta.csum_blank;
    }
    for (unsigned q = 0; q < t->nq; q++)
        nf_push(nf_dev_queue(t->d, q));
}

static int shuttle(struct tap_run *t, volatile sig_atomic_t *stop)
{
    struct pollfd pfd[NF_MAX_QUEUES + 2];
    while (!stop || !*stop) {
        for (unsigned q = 0; q < t->nq; q++)
            if (nf_tx_reap(nf_dev_queue(t->d, q)) < 0)
                return -EPROTO;
        ring_to_tap(t);
        tap_to_ring(t);
        unsigned n = 0;
        pfd[n++] = (struct pollfd){ .fd = t->fd, .events = rings_have_room(t) ? POLLIN : 0 };
        for (unsigned q = 0; q < t->nq; q++)
            pfd[n++] = (struct pollfd){ .fd = nf_queue_fd(nf_dev_queue(t->d, q)),
                                        .events = POLLIN };
        pfd[n++] = (struct pollfd){ .fd = nf_dev_watch_fd(t->d), .events = POLLIN };
        if (poll(pfd, n, 100) < 0 && errno != EINTR)
            return -errno;
        for (unsigned q = 0; q < t->nq; q++)
            if (pfd[1 + q].revents & POLLIN)
                nf_wait(nf_dev_queue(t->d, q), 0);
        if ((pfd[n - 1].revents & POLLIN) && nf_dev_check(t->d) > 0)
            return -ENODEV;
    }
    return 0;
}

int nettap_run(struct nf_dev *d, const struct nettap_opts *o, struct nettap_stats *st,
               char *err, size_t errlen)
{
    const struct nf_dev_info *in = nf_dev_get_info(d);
    struct tap_run t = { .d = d, .nq = nf_dev_nr_queues(d), .st = st };
    nettap_offloads_from(in, &t.off);
    memset(st, 0, sizeof(*st));
    t.fd = open_tap(o, nettap_tun_flags(&t.off), err, errlen);
    if (t.fd < 0)
        return t.fd;
    int ret = configure(o, in, err, errlen);
    t.cap = VNET_HLEN + 65536 + 256;
    t.buf = malloc(t.cap);
    if (!ret && !t.buf)
        ret = -ENOMEM;
    if (!ret) {
        ret = shuttle(&t, o->stop);
        if (ret == -ENODEV)
            fail(err, errlen, ret, "backend closed the device");
        else if (ret)
            fail(err, errlen, ret, "%s", strerror(-ret));
    }
    free(t.buf);
    close(t.fd);
    return ret;
}
