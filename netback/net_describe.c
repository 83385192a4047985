/*
 * net_describe.c - a vif as `sidecorectl devices` shows it: MAC, uplink,
 * negotiated features, rate, and the traffic of its queues summed
 * (packets, bytes, drops, kicks, notifies).  Control thread.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net_dev.h"

static json_t *describe_features(const struct net_features *f)
{
    return json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:i}", "sg", f->sg, "gso_tcpv4",
                     f->gso_tcpv4, "gso_tcpv6", f->gso_tcpv6, "csum_offload", f->csum,
                     "ipv6_csum_offload", f->ipv6_csum, "rx_notify", f->rx_notify,
                     "split_event_channels", f->split, "multicast_control", f->mcast_control,
                     "xdp_headroom", (int)f->xdp_headroom);
}

/* Every queue's device counters and generic kicks/notifies, summed. */
static json_t *describe_traffic(const struct net_dev *nd)
{
    uint64_t sum[NETQ__COUNT] = { 0 };
    uint64_t kicks = 0, notifies = 0;
    for (unsigned i = 0; i < nd->nvqs; i++) {
        if (!nd->vqs[i].q)
            continue;
        const struct sc_queue *q = net_queue_sc(nd->vqs[i].q);
        uint64_t v[NETQ__COUNT];
        unsigned n = sc_queue_device_counters(q, NULL, v, NETQ__COUNT);
        for (unsigned c = 0; c < n && c < NETQ__COUNT; c++)
            sum[c] += v[c];
        struct sc_queue_stats_snap s;
        sc_queue_stats_read(&q->stats, &s);
        kicks += s.counter[SC_QSTAT_KICKS];
        notifies += s.counter[SC_QSTAT_NOTIFIES];
    }
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (unsigned c = 0; c < NETQ__COUNT; c++)
        json_object_set_new(o, net_queue_counter_names[c], json_integer((json_int_t)sum[c]));
    json_object_set_new(o, "kicks", json_integer((json_int_t)kicks));
    json_object_set_new(o, "notifies", json_integer((json_int_t)notifies));
    return o;
}

static void fmt_mac(const struct net_dev *nd, char *buf, size_t len)
{
    if (!nd->has_mac) {
        snprintf(buf, len, "-");
        return;
    }
    snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", nd->mac[0], nd->mac[1], nd->mac[2],
             nd->mac[3], nd->mac[4], nd->mac[5]);
}

json_t *net_device_describe(struct sc_device *dev)
{
    if (!net_device_is_vif(dev)) {
        errno = EINVAL;
        return NULL;
    }
    const struct net_dev *nd = dev->priv;
    errno = 0;
    if (!nd)
        return NULL;
    char mac[24], line[160];
    fmt_mac(nd, mac, sizeof(mac));
    const struct net_features *f = &nd->feat;
    char uplink[40];
    if (nd->xsw)
        snprintf(uplink, sizeof(uplink), "switch %s", net_xswitch_name(nd->xsw));
    else
        snprintf(uplink, sizeof(uplink), "%s", nd->tap_fd >= 0 ? nd->tap_name : "(no uplink)");
    int n = snprintf(line, sizeof(line), "%s %s mtu %u", mac, uplink, nd->mtu);
    if (nd->vqs && n > 0 && (size_t)n < sizeof(line))
        snprintf(line + n, sizeof(line) - (size_t)n, ", %u queue%s%s%s%s%s%s", nd->nvqs,
                 nd->nvqs == 1 ? "" : "s", f->sg ? " sg" : "",
                 f->gso_tcpv4 || f->gso_tcpv6 ? " gso" : "", f->csum ? " csum" : "",
                 f->split ? " split" : "", nd->rate ? " rate-limited" : "");
    json_t *o = json_pack("{s:s, s:s, s:s, s:s?, s:i, s:i, s:s?, s:I, s:I, s:I, s:i, s:o*, s:o*}",
                          "summary", line, "mac", mac, "uplink", uplink, "bridge", nd->bridge, "handle",
                          (int)nd->handle, "mtu", (int)nd->mtu, "rate", nd->rate,
                          "rx_rate_bytes",
                          (json_int_t)atomic_load(&nd->shared.rx_rate.bytes), "rx_rate_usecs",
                          (json_int_t)atomic_load(&nd->shared.rx_rate.usecs), "throttled",
                          (json_int_t)atomic_load(&nd->shared.tx_rate.throttled),
                          "multicast_addresses", (int)net_mcast_count(&nd->shared.mcast),
                          "features", nd->vqs ? describe_features(f) : NULL, "traffic",
                          nd->vqs ? describe_traffic(nd) : NULL);
    if (!o)
        errno = ENOMEM;
    return o;
}
