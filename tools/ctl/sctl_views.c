/*
 * sctl_views.c - sidecorectl's views of the daemon (status, devices,
 * queues, cores, guests) and its settings commands (set-tenant,
 * resize-check).  sctl.h has the contract.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sctl.h"
#include "stats.h"

/* p50/p99 of a queue's latency: since the start, or over the interval. */
static void latency(json_t *q, json_t *prevq, uint64_t *p50, uint64_t *p99)
{
    struct sc_hist_snap now, before;
    sctl_hist_from_json(json_object_get(q, "latency"), &now);
    if (prevq) {
        sctl_hist_from_json(json_object_get(prevq, "latency"), &before);
        if (now.count >= before.count)
            sc_hist_diff(&now, &before, &now);
    }
    *p50 = sc_hist_percentile(&now, 50);
    *p99 = sc_hist_percentile(&now, 99);
}

/* "5" or "5,6": the queue's event-channel ports. */
static const char *fmt_ports(json_t *q)
{
    static char b[32]; /* one per row: the row copies it at once */
    json_t *ports = json_object_get(q, "ports"), *p;
    size_t i, n = 0;
    b[0] = '\0';
    json_array_foreach(ports, i, p)
        n += (size_t)snprintf(b + n, n < 32 ? 32 - n : 0, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(p));
    if (!json_array_size(ports))
        snprintf(b, 32, "-");
    return b;
}

/* ---- the views: prev is the previous snapshot in --watch (else NULL) ---- */

/* ["vbd", "qdisk"] -> "vbd,qdisk" (malloc'd) */
static char *join_strings(json_t *arr)
{
    size_t len = 1, i;
    json_t *e;
    json_array_foreach(arr, i, e)
        len += strlen(json_string_value(e) ? json_string_value(e) : "") + 1;
    char *s = calloc(1, len);
    json_array_foreach(arr, i, e) {
        if (s && json_string_value(e)) {
            if (*s)
                strcat(s, ",");
            strcat(s, json_string_value(e));
        }
    }
    return s;
}

static void show_status(json_t *r, json_t *prev, double dt)
{
    (void)prev;
    (void)dt;
    const char *keys[] = { "version", "platform", "domid", "pid", "mode", "uptime_s", "cores",
                           "devices", "poll_idle_us", "classes", "types", "ctl", "config",
                           "clients", "queue_failures" };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(r, keys[i]);
        if (!v)
            continue;
        char *s = NULL;
        if (json_is_string(v)) {
            s = strdup(json_string_value(v));
        } else if (json_is_real(v)) {
            if (asprintf(&s, "%.0f", json_real_value(v)) < 0)
                s = NULL;
        } else if (json_is_array(v)) {
            s = join_strings(v);
        } else {
            s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        }
        printf("%-15s %s\n", keys[i], s && *s ? s : "-");
        free(s);
    }
    json_t *rb = json_object_get(r, "rebalance");
    if (rb)
        printf("%-15s poll window %s; rebalance %s (every %s ms, spread %s%%): %s plans, %s "
               "moves\n", "balance", sctl_jstr(r, "poll_window"),
               json_is_true(json_object_get(rb, "enabled")) ? "on" : "off",
               sctl_fmt_u(sctl_jint(rb, "interval_ms")),
               sctl_fmt_f(json_real_value(json_object_get(rb, "spread_pct")), 0),
               sctl_fmt_u(sctl_jint(rb, "rebalances")), sctl_fmt_u(sctl_jint(rb, "moves")));
    if (rb && sctl_jint(rb, "min_cores"))
        printf("%-15s %s active (at least %s): %s added, %s parked so far\n", "sidecores",
               sctl_fmt_u(sctl_jint(rb, "active_cores")), sctl_fmt_u(sctl_jint(rb, "min_cores")),
               sctl_fmt_u(sctl_jint(rb, "cores_added")), sctl_fmt_u(sctl_jint(rb, "cores_parked")));
    /* reservations against what the sidecores can honour (0: not known) */
    json_t *ad = json_object_get(r, "admission");
    if (ad) {
        printf("%-15s %s IOPS", "reserved", sctl_fmt_h((double)sctl_jint(ad, "reserved_iops"), 0));
        if (sctl_jint(ad, "reservable_iops"))
            printf(" of %s", sctl_fmt_h((double)sctl_jint(ad, "reservable_iops"), 0));
        printf(", %s/s", sctl_fmt_h((double)sctl_jint(ad, "reserved_bps"), 1));
        if (sctl_jint(ad, "reservable_bps"))
            printf(" of %s/s", sctl_fmt_h((double)sctl_jint(ad, "reservable_bps"), 1));
        printf(" (sidecore capacity %s)\n", sctl_jstr(ad, "capacity"));
    }
    /* the queues' memory budget */
    json_t *m = json_object_get(r, "memory");
    if (m) {
        uint64_t total = sctl_jint(m, "budget_bytes");
        printf("%-15s %s reserved", "memory", sctl_fmt_h((double)sctl_jint(m, "reserved_bytes"), 1));
        if (total)
            printf(" of %s (%s left)", sctl_fmt_h((double)total, 1),
                   sctl_fmt_h((double)sctl_jint(m, "left_bytes"), 1));
        else
            printf(", budget unlimited");
        printf(", %s queues, peak %s, %s refused", sctl_fmt_u(sctl_jint(m, "reservations")),
               sctl_fmt_h((double)sctl_jint(m, "peak_bytes"), 1),
               sctl_fmt_u(sctl_jint(m, "refused")));
        if (sctl_jint(m, "guest_max_bytes"))
            printf(", per guest at most %s", sctl_fmt_h((double)sctl_jint(m, "guest_max_bytes"), 1));
        printf("\n");
    }
}

static void show_devices(json_t *r, json_t *prev, double dt)
{
    (void)prev;
    (void)dt;
    struct sctl_table t;
    /* CLASS last: the class's one-line summary has spaces */
    sctl_table_init(&t, "DEVICE< STATE< FRONTEND< ONLINE< QUEUES< BACKEND< CLASS<");
    json_t *d;
    size_t i;
    json_array_foreach(r, i, d) {
        char queues[256] = "";
        size_t len = 0;
        json_t *q;
        size_t j;
        json_array_foreach(json_object_get(d, "queues"), j, q) {
            const char *name = sctl_jstr(q, "name");
            const char *sp = strrchr(name, ' ');
            int n = snprintf(queues + len, sizeof(queues) - len, "%s%s@%s%s", j ? "," : "",
                             sp ? sp + 1 : name, sctl_jstr(q, "core"),
                             json_is_true(json_object_get(q, "failed")) ? "!" : "");
            if (n < 0 || (size_t)n >= sizeof(queues) - len)
                break;
            len += (size_t)n;
        }
        sctl_table_row(
            &t, sctl_jstr(d, "name"), sctl_jstr(d, "state"), sctl_jstr(d, "frontend_state"),
            json_is_true(json_object_get(d, "online")) ? "yes" : "no", len ? queues : "-",
            sctl_jstr(d, "backend_path"), sctl_jstr(json_object_get(d, "class"), "summary"));
    }
    sctl_table_print(&t);
}

static void show_queues(json_t *r, json_t *prev, double dt)
{
    struct sctl_table t;
    json_t *q;
    size_t i;
    if (prev) {
        sctl_table_init(&t, "QUEUE< CORE< LOAD% MEM REQ/s BYTES/s KICK/s NOTIFY/s BUSY/s "
                            "EMPTY/s ERR/s P50us P99us FAILED<");
        json_array_foreach(r, i, q) {
            json_t *p = sctl_find_same(prev, q, "name");
            uint64_t p50, p99;
            latency(q, p, &p50, &p99);
            sctl_table_row(&t, sctl_jstr(q, "name"), sctl_jstr(q, "core"),
                           sctl_fmt_f(100.0 * json_real_value(json_object_get(q, "load")), 1),
                           sctl_fmt_h((double)sctl_jint(q, "mem_reserved_bytes"), 1),
                           sctl_fmt_h(sctl_rate(q, p, "requests", dt), 0),
                           sctl_fmt_h(sctl_rate(q, p, "bytes", dt), 1),
                           sctl_fmt_h(sctl_rate(q, p, "kicks", dt), 0),
                           sctl_fmt_h(sctl_rate(q, p, "notifies", dt), 0),
                           sctl_fmt_h(sctl_rate(q, p, "busy_polls", dt), 0),
                           sctl_fmt_h(sctl_rate(q, p, "empty_polls", dt), 0),
                           sctl_fmt_h(sctl_rate(q, p, "errors", dt), 0), sctl_fmt_us(p50),
                           sctl_fmt_us(p99),
                           json_is_true(json_object_get(q, "failed")) ? "yes" : "no");
        }
    } else {
        sctl_table_init(&t, "QUEUE< CORE< PORTS LOAD% MEM REQUESTS BYTES KICKS NOTIFIES BUSY "
                            "EMPTY ERRORS P50us P99us FAILED<");
        json_array_foreach(r, i, q) {
            uint64_t p50, p99;
            latency(q, NULL, &p50, &p99);
            sctl_table_row(
                &t, sctl_jstr(q, "name"), sctl_jstr(q, "core"), fmt_ports(q),
                sctl_fmt_f(100.0 * json_real_value(json_object_get(q, "load")), 1),
                sctl_fmt_h((double)sctl_jint(q, "mem_reserved_bytes"), 1),
                sctl_fmt_u(sctl_jint(q, "requests")), sctl_fmt_h((double)sctl_jint(q, "bytes"), 1),
                sctl_fmt_u(sctl_jint(q, "kicks")), sctl_fmt_u(sctl_jint(q, "notifies")),
                sctl_fmt_u(sctl_jint(q, "busy_polls")), sctl_fmt_u(sctl_jint(q, "empty_polls")),
                sctl_fmt_u(sctl_jint(q, "errors")), sctl_fmt_us(p50), sctl_fmt_us(p99),
                json_is_true(json_object_get(q, "failed")) ? "yes" : "no");
        }
    }
    sctl_table_print(&t);
    /* why each queue is on its core (the balancer's notes) */
    if (!prev)
        json_array_foreach(r, i, q)
            if (*sctl_jstr(q, "placed") && strcmp(sctl_jstr(q, "placed"), "-"))
                printf("%s on %s: %s\n", sctl_jstr(q, "name"), sctl_jstr(q, "core"),
                       sctl_jstr(q, "placed"));
    /* the devices' own counters, a line per queue that has any */
    json_array_foreach(r, i, q) {
        json_t *dc = json_object_get(q, "device_counters"), *v;
        const char *name;
        if (!json_object_size(dc))
            continue;
        printf("%s:", sctl_jstr(q, "name"));
        json_object_foreach(dc, name, v) {
            json_t *pv = NULL;
            if (prev) {
                json_t *pq = sctl_find_same(prev, q, "name");
                pv = json_object_get(json_object_get(pq, "device_counters"), name);
            }
            if (prev && dt > 0)
                printf(" %s/s=%s", name,
                       sctl_fmt_h((double)(json_integer_value(v) - json_integer_value(pv)) / dt,
                                  0));
            else
                printf(" %s=%s", name, sctl_fmt_u((uint64_t)json_integer_value(v)));
        }
        printf("\n");
    }
}

static const char *busy_pct(json_t *c, json_t *p)
{
    uint64_t busy = sctl_jint(c, "busy_ns"),
             total = busy + sctl_jint(c, "idle_ns") + sctl_jint(c, "sleep_ns");
    if (p) {
        uint64_t pbusy = sctl_jint(p, "busy_ns");
        uint64_t ptotal = pbusy + sctl_jint(p, "idle_ns") + sctl_jint(p, "sleep_ns");
        if (busy >= pbusy && total >= ptotal) {
            busy -= pbusy;
            total -= ptotal;
        }
    }
    return sctl_fmt_f(total ? 100.0 * (double)busy / (double)total : 0.0, 1);
}

/* Where each sidecore's vCPU runs and its steal (steal.h), when known. */
static void show_placement(json_t *r)
{
    struct sctl_table t;
    json_t *c;
    size_t i;
    bool any = false;
    json_array_foreach(r, i, c)
        any |= json_is_object(json_object_get(c, "placement"));
    if (!any)
        return;
    putchar('\n');
    sctl_table_init(&t, "CORE< VCPU PCPU POOL< SCHED< PINNED STEAL% BACKOFF BACKOFFS");
    json_array_foreach(r, i, c) {
        json_t *p = json_object_get(c, "placement");
        if (!json_is_object(p))
            continue;
        char vcpu[16], pcpu[16], pool[48], steal[16];
        json_int_t v = json_integer_value(json_object_get(c, "vcpu"));
        json_int_t pc = json_integer_value(json_object_get(p, "pcpu"));
        json_int_t po = json_integer_value(json_object_get(p, "pool"));
        const char *pname = sctl_jstr(p, "pool_name");
        json_t *pin = json_object_get(p, "pinned"), *st = json_object_get(p, "steal_pct");
        snprintf(vcpu, sizeof(vcpu), v < 0 ? "-" : "%lld", (long long)v);
        snprintf(pcpu, sizeof(pcpu), pc < 0 ? "-" : "%lld", (long long)pc);
        if (po < 0)
            snprintf(pool, sizeof(pool), "-");
        else
            snprintf(pool, sizeof(pool), "%lld%s%s", (long long)po, *pname ? ":" : "", pname);
        if (json_is_number(st))
            snprintf(steal, sizeof(steal), "%.1f", json_number_value(st));
        else
            snprintf(steal, sizeof(steal), "-");
        const char *sched = sctl_jstr(p, "sched");
        sctl_table_row(&t, sctl_jstr(c, "name"), vcpu, pcpu, pool, *sched ? sched : "-",
                       json_is_boolean(pin) ? (json_is_true(pin) ? "yes" : "no") : "-", steal,
                       json_is_true(json_object_get(c, "steal_backoff")) ? "yes" : "no",
                       sctl_fmt_u(sctl_jint(p, "backoffs")));
    }
    sctl_table_print(&t);
}

static void show_cores(json_t *r, json_t *prev, double dt)
{
    struct sctl_table t;
    json_t *c;
    size_t i;
    if (prev)
        sctl_table_init(&t, "CORE< CPU QUEUES BUSY% WINDOWus ROUNDS/s SLEEPS/s WAKEUPS/s KICKS/s "
                            "IO/s");
    else
        sctl_table_init(&t, "CORE< CPU QUEUES BUSY% WINDOWus ROUNDS SLEEPS WAKEUPS KICKS "
                            "IO-SUBMITTED IO-COMPLETED");
    json_array_foreach(r, i, c) {
        json_int_t cpu = json_integer_value(json_object_get(c, "cpu"));
        const char *cpus = cpu < 0 ? "-" : sctl_fmt_u((uint64_t)cpu);
        if (prev) {
            json_t *p = sctl_find_same(prev, c, "name");
            sctl_table_row(&t, sctl_jstr(c, "name"), cpus, sctl_fmt_u(sctl_jint(c, "queues")),
                           busy_pct(c, p),
                           sctl_fmt_u(sctl_jint(c, "poll_window_ns") / 1000),
                           sctl_fmt_h(sctl_rate(c, p, "rounds", dt), 0),
                           sctl_fmt_h(sctl_rate(c, p, "sleeps", dt), 0),
                           sctl_fmt_h(sctl_rate(c, p, "wakeups", dt), 0),
                           sctl_fmt_h(sctl_rate(c, p, "kicks", dt), 0),
                           sctl_fmt_h(sctl_rate(c, p, "io_completed", dt), 0));
        } else {
            sctl_table_row(&t, sctl_jstr(c, "name"), cpus, sctl_fmt_u(sctl_jint(c, "queues")),
                           busy_pct(c, NULL), sctl_fmt_u(sctl_jint(c, "poll_window_ns") / 1000),
                           sctl_fmt_u(sctl_jint(c, "rounds")),
                           sctl_fmt_u(sctl_jint(c, "sleeps")), sctl_fmt_u(sctl_jint(c, "wakeups")),
                           sctl_fmt_u(sctl_jint(c, "kicks")),
                           sctl_fmt_u(sctl_jint(c, "io_submitted")),
                           sctl_fmt_u(sctl_jint(c, "io_completed")));
        }
    }
    sctl_table_print(&t);
    show_placement(r);
}

static void show_guests(json_t *r, json_t *prev, double dt)
{
    struct sctl_table t;
    json_t *g;
    size_t i;
    if (prev)
        sctl_table_init(&t, "DOMID CLASS WEIGHT RES-IOPS LIM-IOPS RES-BPS LIM-BPS DEVICES QUEUES "
                            "MEM IOPS BYTES/s KICK/s NOTIFY/s THROTTLED/s");
    else
        sctl_table_init(&t,
                        "DOMID CLASS WEIGHT RES-IOPS LIM-IOPS RES-BPS LIM-BPS DEVICES QUEUES "
                        "MEM REQUESTS BYTES KICKS NOTIFIES THROTTLED");
    json_array_foreach(r, i, g) {
        json_t *s = json_object_get(g, "sched");
        const char *dom = sctl_fmt_u(sctl_jint(g, "domid")),
                   *w = sctl_fmt_u(sctl_jint(g, "weight"));
        const char *cls = sctl_jstr(g, "class");
        const char *ri = sctl_fmt_setting(sctl_jint(g, "reservation_iops"), false);
        const char *li = sctl_fmt_setting(sctl_jint(g, "limit_iops"), false);
        const char *rb = sctl_fmt_setting(sctl_jint(g, "reservation_bps"), true);
        const char *lb = sctl_fmt_setting(sctl_jint(g, "limit_bps"), true);
        const char *mem = sctl_fmt_h((double)sctl_jint(g, "mem_reserved_bytes"), 1);
        if (prev) {
            json_t *p = NULL, *pg;
            size_t k;
            json_array_foreach(prev, k, pg) /* the same guest's same class */
                if (sctl_jint(pg, "domid") == sctl_jint(g, "domid") &&
                    strcmp(sctl_jstr(pg, "class"), cls) == 0)
                    p = pg;
            double thr = p ? sctl_rate(s, json_object_get(p, "sched"), "throttled", dt) : 0;
            sctl_table_row(&t, dom, cls, w, ri, li, rb, lb, sctl_fmt_u(sctl_jint(g, "devices")),
                           sctl_fmt_u(sctl_jint(g, "queues")), mem,
                           sctl_fmt_h(sctl_rate(g, p, "requests", dt), 0),
                           sctl_fmt_h(sctl_rate(g, p, "bytes", dt), 1),
                           sctl_fmt_h(sctl_rate(g, p, "kicks", dt), 0),
                           sctl_fmt_h(sctl_rate(g, p, "notifies", dt), 0), sctl_fmt_h(thr, 0));
        } else {
            sctl_table_row(&t, dom, cls, w, ri, li, rb, lb, sctl_fmt_u(sctl_jint(g, "devices")),
                           sctl_fmt_u(sctl_jint(g, "queues")), mem,
                           sctl_fmt_u(sctl_jint(g, "requests")),
                           sctl_fmt_h((double)sctl_jint(g, "bytes"), 1),
                           sctl_fmt_u(sctl_jint(g, "kicks")), sctl_fmt_u(sctl_jint(g, "notifies")),
                           sctl_fmt_u(sctl_jint(s, "throttled")));
        }
    }
    sctl_table_print(&t);
}

const struct sctl_view sctl_core_views[] = {
    { "status", "status", NULL, show_status },
    { "devices", "devices", NULL, show_devices },
    { "queues", "queues", NULL, show_queues },
    { "cores", "cores", NULL, show_cores },
    { "guests", "guests", NULL, show_guests },
    { NULL, NULL, NULL, NULL },
};

/* ---- commands ---- */

int sctl_cmd_set_tenant(const char *path, int argc, char **argv)
{
    static const struct {
        const char *name, *key;
        bool bytes;
    } keys[] = {
        { "weight", "weight", false },
        { "res_iops", "reservation_iops", false }, { "reservation_iops", "reservation_iops", false },
        { "lim_iops", "limit_iops", false },       { "limit_iops", "limit_iops", false },
        { "res_bps", "reservation_bps", true },    { "reservation_bps", "reservation_bps", true },
        { "lim_bps", "limit_bps", true },          { "limit_bps", "limit_bps", true },
        { "read_iops", "read_iops", false },       { "read_bps", "read_bps", true },
        { "write_iops", "write_iops", false },     { "write_bps", "write_bps", true },
    };
    json_int_t domid;
    if (argc < 2 || sctl_parse_value(argv[0], false, &domid) < 0 ||
        strpbrk(argv[0], "kKmMgG") || domid >= DOMID_FIRST_RESERVED) {
        fprintf(stderr, "sidecorectl: set-tenant DOMID key=value...\n");
        return 2;
    }
    json_t *params = json_pack("{s:I}", "domid", domid);
    for (int i = 1; i < argc; i++) {
        /* vbd.KEY, vif.KEY: one class of the guest's (the daemon checks which) */
        const char *name = argv[i], *eq = strchr(name, '=');
        size_t plen = 0;
        if (strncmp(name, "vbd.", 4) == 0 || strncmp(name, "vif.", 4) == 0)
            plen = 4;
        size_t k, n = sizeof(keys) / sizeof(keys[0]);
        for (k = 0; eq && k < n; k++)
            if (strlen(keys[k].name) == (size_t)(eq - name) - plen &&
                strncmp(name + plen, keys[k].name, (size_t)(eq - name) - plen) == 0)
                break;
        json_int_t v;
        if (!eq || k == n || sctl_parse_value(eq + 1, keys[k].bytes, &v) < 0) {
            fprintf(stderr, "sidecorectl: set-tenant: bad setting '%s' (weight=N, res_iops=N, "
                    "lim_iops=N, res_bps=N, lim_bps=N, read_iops=N, read_bps=N, "
                    "write_iops=N, write_bps=N; vbd. or vif. in front for one class)\n",
                    argv[i]);
            json_decref(params);
            return 2;
        }
        char key[64];
        snprintf(key, sizeof(key), "%.*s%s", (int)plen, name, keys[k].key);
        json_object_set_new(params, key, json_integer(v));
    }
    json_t *r = sctl_call_once(path, "set-tenant", params);
    json_decref(params);
    if (!r)
        return 1;
    static const char *const classes[] = { "vbd", "vif" };
    for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
        json_t *s = json_object_get(r, classes[c]);
        printf("domain %llu %s: weight %llu, reservation %s IOPS %s/s, limit %s IOPS %s/s "
               "(- = none)\n",
               (unsigned long long)sctl_jint(r, "domid"), classes[c],
               (unsigned long long)sctl_jint(s, "weight"),
               sctl_fmt_setting(sctl_jint(s, "reservation_iops"), false),
               sctl_fmt_setting(sctl_jint(s, "reservation_bps"), true),
               sctl_fmt_setting(sctl_jint(s, "limit_iops"), false),
               sctl_fmt_setting(sctl_jint(s, "limit_bps"), true));
    }
    printf("  its disks: reads at most %s IOPS %s/s, writes %s IOPS %s/s\n",
           sctl_fmt_setting(sctl_jint(r, "read_iops"), false),
           sctl_fmt_setting(sctl_jint(r, "read_bps"), true),
           sctl_fmt_setting(sctl_jint(r, "write_iops"), false),
           sctl_fmt_setting(sctl_jint(r, "write_bps"), true));
    json_decref(r);
    return 0;
}

int sctl_cmd_resize_check(const char *path, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "sidecorectl: resize-check DEVICE\n");
        return 2;
    }
    json_t *params = json_pack("{s:o}", "device", sctl_device_ref(argv[0]));
    json_t *r = sctl_call_once(path, "resize-check", params);
    json_decref(params);
    if (!r)
        return 1;
    printf("%s: %s\n", sctl_jstr(r, "device"),
           json_is_true(json_object_get(r, "changed")) ? "new size sent to the frontend"
                                                       : "size unchanged");
    json_decref(r);
    return 0;
}

