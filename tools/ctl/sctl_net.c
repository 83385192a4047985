/*
 * sctl_net.c - sidecorectl's network views and command (sctl.h):
 *
 *   vifs      the vif devices of `devices` (their class object, netback's
 *             net_describe.c): MAC, uplink, features, rates, traffic
 *   switch    `vif-switches` (net_switch_describe + host_interface): the
 *             ports with their counters, the forwarding table, the totals
 *   vif-rate  DEVICE RATE [--rx]: a vif's rate now, "<bytes>,<usecs>" or ""
 *
 * Directions: a vif's TX is what its guest sends (the guest's tx ring), RX
 * what it receives; a switch port's IN is what enters the switch from
 * that port, OUT what the switch sends to it.
 */
#include <stdlib.h>
#include <string.h>

#include "sctl.h"

/* ---- vifs ---- */

static json_t *select_vifs(json_t *devices)
{
    json_t *out = json_array(), *d;
    size_t i;
    if (!out || !json_is_array(devices)) {
        json_decref(out);
        return NULL;
    }
    json_array_foreach(devices, i, d)
        if (strcmp(sctl_jstr(d, "type"), "vif") == 0)
            json_array_append(out, d);
    return out;
}

/* "sg,gso4,gso6,csum,csum6,split": what the frontend negotiated. */
static const char *fmt_features(json_t *f)
{
    static const struct {
        const char *key, *abbr;
    } names[] = {
        { "sg", "sg" },
        { "gso_tcpv4", "gso4" },
        { "gso_tcpv6", "gso6" },
        { "csum_offload", "csum" },
        { "ipv6_csum_offload", "csum6" },
        { "split_event_channels", "split" },
        { "multicast_control", "mcast" },
    };
    static char buf[96]; /* one per row: the row copies it at once */
    size_t n = 0;
    if (!json_is_object(f))
        return "-";
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (json_is_true(json_object_get(f, names[i].key)) && n < sizeof(buf))
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? "," : "", names[i].abbr);
    return n ? buf : "none";
}

/* bytes per usecs as "1.2MiB/s" into buf; "-" when unlimited (0 bytes). */
static const char *fmt_rate(uint64_t bytes, uint64_t usecs, char *buf, size_t len)
{
    if (!bytes || !usecs)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%s/s", sctl_fmt_h((double)bytes * 1e6 / (double)usecs, true));
    return buf;
}

/* RATE: the tx rate (the toolstack's `rate`, or vif-rate's), then the rx
 * one if set: "1.2MiB/s", "1.2MiB/s,rx:500.0kiB/s", "rx:500.0kiB/s" or "-". */
static const char *fmt_vif_rates(json_t *cls)
{
    static char buf[80];
    char tx[32] = "-", rx[32];
    unsigned long long b, u;
    const char *rate = json_string_value(json_object_get(cls, "rate"));
    int end = 0;
    if (rate && sscanf(rate, "%llu,%llu%n", &b, &u, &end) == 2 && !rate[end])
        fmt_rate(b, u, tx, sizeof(tx));
    else if (rate)
        snprintf(tx, sizeof(tx), "%s", rate); /* not ours to judge: shown as it is */
    fmt_rate(sctl_jint(cls, "rx_rate_bytes"), sctl_jint(cls, "rx_rate_usecs"), rx, sizeof(rx));
    if (strcmp(rx, "-") == 0)
        snprintf(buf, sizeof(buf), "%s", tx);
    else if (strcmp(tx, "-") == 0)
        snprintf(buf, sizeof(buf), "rx:%s", rx);
    else
        snprintf(buf, sizeof(buf), "%s,rx:%s", tx, rx);
    return buf;
}

static uint64_t sum2(json_t *o, const char *a, const char *b)
{
    return sctl_jint(o, a) + sctl_jint(o, b);
}

static double rate2(json_t *o, json_t *p, const char *a, const char *b, double dt)
{
    return sctl_rate(o, p, a, dt) + sctl_rate(o, p, b, dt);
}

static void show_vifs(json_t *r, json_t *prev, double dt)
{
    struct sctl_table t;
    json_t *d;
    size_t i;
    if (prev)
        sctl_table_init(&t, "DEVICE< MAC< UPLINK< FEATURES< RATE< TX-PKT/s TX-BYTES/s RX-PKT/s "
                            "RX-BYTES/s DROP/s ERR/s KICK/s NOTIFY/s");
    else
        sctl_table_init(&t, "DEVICE< MAC< UPLINK< FEATURES< RATE< TX-PKTS TX-BYTES RX-PKTS "
                            "RX-BYTES DROPS ERRORS KICKS NOTIFIES");
    json_array_foreach(r, i, d) {
        json_t *cls = json_object_get(d, "class");
        json_t *tr = json_object_get(cls, "traffic");
        const char *name = sctl_jstr(d, "name"), *mac = sctl_jstr(cls, "mac");
        const char *up = sctl_jstr(cls, "uplink");
        const char *feat = fmt_features(json_object_get(cls, "features"));
        const char *rates = fmt_vif_rates(cls);
        if (!tr) { /* not connected: no queues, no counters */
            sctl_table_row(&t, name, mac, up, feat, rates, "-", "-", "-", "-", "-", "-", "-",
                           "-");
        } else if (prev) {
            json_t *pd = sctl_find_same(prev, d, "name");
            json_t *p = json_object_get(json_object_get(pd, "class"), "traffic");
            sctl_table_row(&t, name, mac, up, feat, rates,
                           sctl_fmt_h(sctl_rate(tr, p, "tx_packets", dt), false),
                           sctl_fmt_h(sctl_rate(tr, p, "tx_bytes", dt), true),
                           sctl_fmt_h(sctl_rate(tr, p, "rx_packets", dt), false),
                           sctl_fmt_h(sctl_rate(tr, p, "rx_bytes", dt), true),
                           sctl_fmt_h(rate2(tr, p, "tx_drops", "rx_drops", dt), false),
                           sctl_fmt_h(rate2(tr, p, "tx_errors", "rx_errors", dt), false),
                           sctl_fmt_h(sctl_rate(tr, p, "kicks", dt), false),
                           sctl_fmt_h(sctl_rate(tr, p, "notifies", dt), false));
        } else {
            sctl_table_row(&t, name, mac, up, feat, rates,
                           sctl_fmt_u(sctl_jint(tr, "tx_packets")),
                           sctl_fmt_h((double)sctl_jint(tr, "tx_bytes"), true),
                           sctl_fmt_u(sctl_jint(tr, "rx_packets")),
                           sctl_fmt_h((double)sctl_jint(tr, "rx_bytes"), true),
                           sctl_fmt_u(sum2(tr, "tx_drops", "rx_drops")),
                           sctl_fmt_u(sum2(tr, "tx_errors", "rx_errors")),
                           sctl_fmt_u(sctl_jint(tr, "kicks")),
                           sctl_fmt_u(sctl_jint(tr, "notifies")));
        }
    }
    sctl_table_print(&t);
}

/* ---- switch ---- */

static const char *port_name(json_t *ports, json_int_t port)
{
    json_t *p;
    size_t i;
    json_array_foreach(ports, i, p)
        if (json_integer_value(json_object_get(p, "port")) == port)
            return sctl_jstr(p, "name");
    return "-";
}

/* Multicast: "-" unfiltered (every group passes), else the groups' count. */
static const char *fmt_mcast(json_t *p)
{
    if (!json_is_true(json_object_get(p, "mcast_filter")))
        return "-";
    return sctl_fmt_u(json_array_size(json_object_get(p, "mcast")));
}

static void show_ports(json_t *sw, json_t *prev_sw, double dt)
{
    struct sctl_table t;
    json_t *ports = json_object_get(sw, "ports"), *p;
    size_t i;
    if (prev_sw)
        sctl_table_init(&t, "PORT NAME< STATE< IN-PKT/s IN-BYTES/s OUT-PKT/s OUT-BYTES/s "
                            "FLOOD/s UNKNOWN/s DROP/s MCAST");
    else
        sctl_table_init(&t, "PORT NAME< STATE< IN-PKTS IN-BYTES OUT-PKTS OUT-BYTES FLOODED "
                            "UNKNOWN DROPS LEARN-FAIL MCAST");
    json_array_foreach(ports, i, p) {
        const char *id = sctl_fmt_u(sctl_jint(p, "port"));
        if (prev_sw) {
            json_t *pp = sctl_find_same(json_object_get(prev_sw, "ports"), p, "port");
            if (pp && strcmp(sctl_jstr(pp, "name"), sctl_jstr(p, "name")) != 0)
                pp = NULL; /* the id was reused by another port meanwhile */
            sctl_table_row(&t, id, sctl_jstr(p, "name"), sctl_jstr(p, "state"),
                           sctl_fmt_h(sctl_rate(p, pp, "rx_packets", dt), false),
                           sctl_fmt_h(sctl_rate(p, pp, "rx_bytes", dt), true),
                           sctl_fmt_h(sctl_rate(p, pp, "tx_packets", dt), false),
                           sctl_fmt_h(sctl_rate(p, pp, "tx_bytes", dt), true),
                           sctl_fmt_h(sctl_rate(p, pp, "flood_packets", dt), false),
                           sctl_fmt_h(sctl_rate(p, pp, "unknown_unicast", dt), false),
                           sctl_fmt_h(sctl_rate(p, pp, "drops", dt), false), fmt_mcast(p));
        } else {
            sctl_table_row(&t, id, sctl_jstr(p, "name"), sctl_jstr(p, "state"),
                           sctl_fmt_u(sctl_jint(p, "rx_packets")),
                           sctl_fmt_h((double)sctl_jint(p, "rx_bytes"), true),
                           sctl_fmt_u(sctl_jint(p, "tx_packets")),
                           sctl_fmt_h((double)sctl_jint(p, "tx_bytes"), true),
                           sctl_fmt_u(sctl_jint(p, "flood_packets")),
                           sctl_fmt_u(sctl_jint(p, "unknown_unicast")),
                           sctl_fmt_u(sctl_jint(p, "drops")),
                           sctl_fmt_u(sctl_jint(p, "learn_failures")), fmt_mcast(p));
        }
    }
    sctl_table_print(&t);
}

static int by_port_then_mac(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t px = json_integer_value(json_object_get(x, "port"));
    json_int_t py = json_integer_value(json_object_get(y, "port"));
    if (px != py)
        return px < py ? -1 : 1;
    return strcmp(sctl_jstr(x, "mac"), sctl_jstr(y, "mac"));
}

/* Since the address was last seen: "0.4s" */
static const char *fmt_age(uint64_t ms)
{
    static char buf[32]; /* one per row: the row copies it at once */
    snprintf(buf, sizeof(buf), "%.1fs", (double)ms / 1000.0);
    return buf;
}

static void show_fdb(json_t *sw)
{
    json_t *fdb = json_object_get(sw, "fdb");
    size_t n = json_array_size(fdb);
    json_t **e = n ? calloc(n, sizeof(*e)) : NULL;
    if (n && !e) {
        perror("sidecorectl");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        e[i] = json_array_get(fdb, i);
    if (n)
        qsort(e, n, sizeof(*e), by_port_then_mac); /* the daemon's order is its hash's */
    struct sctl_table t;
    sctl_table_init(&t, "MAC< PORT NAME< AGE");
    for (size_t i = 0; i < n; i++) {
        json_int_t port = json_integer_value(json_object_get(e[i], "port"));
        sctl_table_row(&t, sctl_jstr(e[i], "mac"), sctl_fmt_u((uint64_t)port),
                       port_name(json_object_get(sw, "ports"), port),
                       fmt_age(sctl_jint(e[i], "age_ms")));
    }
    sctl_table_print(&t);
    free(e);
}

static void show_switch(json_t *r, json_t *prev, double dt)
{
    json_t *sw;
    size_t i;
    json_t *all = json_object_get(r, "switches");
    if (!json_array_size(all)) {
        printf("no switch (a vif whose bridge is the switch's name makes it)\n");
        return;
    }
    json_array_foreach(all, i, sw) {
        json_t *psw = prev ? sctl_find_same(json_object_get(prev, "switches"), sw, "name") : NULL;
        if (i)
            printf("\n");
        printf("switch %s (host interface %s): %zu of %s ports, %s of %s addresses, "
               "ageing %s s\n",
               sctl_jstr(sw, "name"), sctl_jstr(sw, "host_interface"),
               json_array_size(json_object_get(sw, "ports")),
               sctl_fmt_u(sctl_jint(sw, "max_ports")), sctl_fmt_u(sctl_jint(sw, "fdb_entries")),
               sctl_fmt_u(sctl_jint(sw, "fdb_size")),
               sctl_fmt_u(sctl_jint(sw, "age_ms") / 1000));
        show_ports(sw, psw, dt);
        printf("\n");
        show_fdb(sw);
        if (psw)
            printf("flooded %s/s, unknown unicast %s/s, learn failures %s/s\n",
                   sctl_fmt_h(sctl_rate(sw, psw, "flood_packets", dt), false),
                   sctl_fmt_h(sctl_rate(sw, psw, "unknown_unicast", dt), false),
                   sctl_fmt_h(sctl_rate(sw, psw, "learn_failures", dt), false));
        else
            printf("flooded %s, unknown unicast %s, learn failures %s\n",
                   sctl_fmt_u(sctl_jint(sw, "flood_packets")),
                   sctl_fmt_u(sctl_jint(sw, "unknown_unicast")),
                   sctl_fmt_u(sctl_jint(sw, "learn_failures")));
    }
}

const struct sctl_view sctl_net_views[] = {
    { "vifs", "devices", select_vifs, show_vifs },
    { "switch", "vif-switches", NULL, show_switch },
    { NULL, NULL, NULL, NULL },
};

/* ---- vif-rate ---- */

/* "" (unlimited) or "<bytes>,<usecs>" with usecs > 0: what the daemon takes. */
static bool rate_ok(const char *s, unsigned long long *bytes, unsigned long long *usecs)
{
    int end = 0;
    *bytes = *usecs = 0;
    if (!*s)
        return true;
    return strspn(s, "0123456789,") == strlen(s) &&
           sscanf(s, "%llu,%llu%n", bytes, usecs, &end) == 2 && !s[end] && *usecs > 0;
}

int sctl_cmd_vif_rate(const char *path, int argc, char **argv)
{
    const char *pos[2];
    int npos = 0;
    bool rx = false, bad = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--rx") == 0)
            rx = true;
        else if (npos < 2 && (argv[i][0] != '-' || !argv[i][1]))
            pos[npos++] = argv[i];
        else
            bad = true;
    }
    unsigned long long bytes, usecs;
    if (bad || npos != 2 || !*pos[0]) {
        fprintf(stderr, "sidecorectl: vif-rate DEVICE RATE [--rx]\n");
        return 2;
    }
    if (!rate_ok(pos[1], &bytes, &usecs)) {
        fprintf(stderr, "sidecorectl: vif-rate: RATE '%s' is not <bytes>,<usecs> (or \"\" for "
                "unlimited)\n", pos[1]);
        return 2;
    }
    json_t *params = json_pack("{s:o, s:s, s:s}", "device", sctl_device_ref(pos[0]), "rate",
                               pos[1], "direction", rx ? "rx" : "tx");
    json_t *r = sctl_call_once(path, "vif-rate", params);
    json_decref(params);
    if (!r)
        return 1;
    char buf[32];
    const char *human = fmt_rate(bytes, usecs, buf, sizeof(buf));
    if (strcmp(human, "-") == 0)
        printf("%s: %s unlimited\n", sctl_jstr(r, "device"), rx ? "rx" : "tx");
    else
        printf("%s: %s limited to %s (%llu bytes every %llu us)\n", sctl_jstr(r, "device"),
               rx ? "rx" : "tx", human, bytes, usecs);
    json_decref(r);
    return 0;
}
