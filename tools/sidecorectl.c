/*
 * sidecorectl - sidecored's admin tool, over its control socket.
 *
 *   sidecorectl [--socket PATH] status|devices|queues|cores|guests
 *               [--json] [--watch SECONDS [--count N]]
 *   sidecorectl [--socket PATH] set-tenant DOMID weight=W [res_iops=N] [lim_iops=N]
 *               [res_bps=N] [lim_bps=N]
 *   sidecorectl [--socket PATH] resize-check DEVICE      (vbd/5/51712, 5/51712 or an id)
 *
 * Tables by default; --json prints the daemon's answer as it is.  --watch
 * redraws every SECONDS with rates computed from the difference between
 * two snapshots (the daemon never clears a counter).  PATH defaults as
 * sidecored's: $XENSIM_DIR/sidecored.sock when $XENSIM_DIR is set, else
 * /run/sidecore/sidecored.sock.  Exit codes: 0 success, 1 the daemon is
 * unreachable or refused, 2 usage error.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "clock.h"
#include "config.h"
#include "ctl.h"
#include "stats.h"

#define CALL_TIMEOUT_MS 10000
#define MAX_COLS 16

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sidecorectl [--socket PATH] COMMAND\n"
            "  status | devices | queues | cores | guests   [--json] [--watch SECONDS [--count N]]\n"
            "  set-tenant DOMID key=value...   weight, res_iops, lim_iops, res_bps, lim_bps\n"
            "                                  (k/M/G suffixes; 0 = no reservation/limit)\n"
            "  resize-check DEVICE             vbd/<domid>/<devid>, <domid>/<devid> or an id\n"
            "PATH defaults to $XENSIM_DIR/sidecored.sock with xensim, else %s.\n",
            SC_CONFIG_DEFAULT_CTL);
}

/* ---- a table: rows of strings, printed in aligned columns ---- */

struct table {
    unsigned ncols;
    const char *head[MAX_COLS];
    bool left[MAX_COLS]; /* text columns align left, numbers right */
    char **cells;        /* nrows * ncols */
    unsigned nrows, cap;
};

static void table_init(struct table *t, const char *spec)
{
    /* spec: "NAME< CORE< REQS ..." ('<' marks a left-aligned column) */
    memset(t, 0, sizeof(*t));
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s", spec);
    for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok && t->ncols < MAX_COLS;
         tok = strtok_r(NULL, " ", &save)) {
        size_t len = strlen(tok);
        t->left[t->ncols] = tok[len - 1] == '<';
        if (t->left[t->ncols])
            tok[len - 1] = '\0';
        t->head[t->ncols++] = tok;
    }
}

static void table_row(struct table *t, ...)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, (size_t)t->cap * t->ncols * sizeof(char *));
        if (!t->cells) {
            perror("sidecorectl");
            exit(1);
        }
    }
    va_list ap;
    va_start(ap, t);
    for (unsigned c = 0; c < t->ncols; c++) {
        const char *s = va_arg(ap, const char *);
        t->cells[(size_t)t->nrows * t->ncols + c] = strdup(s ? s : "-");
    }
    va_end(ap);
    t->nrows++;
}

static void table_print(struct table *t)
{
    size_t width[MAX_COLS];
    for (unsigned c = 0; c < t->ncols; c++) {
        width[c] = strlen(t->head[c]);
        for (unsigned r = 0; r < t->nrows; r++) {
            size_t w = strlen(t->cells[(size_t)r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    for (int r = -1; r < (int)t->nrows; r++) {
        for (unsigned c = 0; c < t->ncols; c++) {
            const char *s = r < 0 ? t->head[c] : t->cells[(size_t)r * t->ncols + c];
            bool last = c + 1 == t->ncols;
            if (t->left[c] && last)
                printf("%s", s);
            else if (t->left[c])
                printf("%-*s  ", (int)width[c], s);
            else
                printf(last ? "%*s" : "%*s  ", (int)width[c], s);
        }
        printf("\n");
    }
    for (size_t i = 0; i < (size_t)t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

/* ---- formatting ---- */

#define NFMT 64
static char fmt_bufs[NFMT][32];
static unsigned fmt_next;

static char *fmt_buf(void)
{
    return fmt_bufs[fmt_next++ % NFMT];
}

static const char *fmt_u(uint64_t v)
{
    char *b = fmt_buf();
    snprintf(b, 32, "%llu", (unsigned long long)v);
    return b;
}

/* 1234567 -> "1.2M" (base 1000 for counts, 1024 for bytes) */
static const char *fmt_h(double v, bool bytes)
{
    static const char units[] = " kMGTP";
    double base = bytes ? 1024.0 : 1000.0;
    unsigned u = 0;
    while ((v < 0 ? -v : v) >= base && u < sizeof(units) - 2) {
        v /= base;
        u++;
    }
    char *b = fmt_buf();
    if (u == 0)
        snprintf(b, 32, bytes ? "%.0fB" : "%.0f", v);
    else
        snprintf(b, 32, bytes ? "%.1f%ciB" : "%.1f%c", v, units[u]);
    return b;
}

static const char *fmt_f(double v, int prec)
{
    char *b = fmt_buf();
    snprintf(b, 32, "%.*f", prec, v);
    return b;
}

static uint64_t jint(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v < 0 ? 0 : (uint64_t)v;
}

static const char *jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

/* The element of array `arr` whose `key` equals that of `like`. */
static json_t *find_same(json_t *arr, json_t *like, const char *key)
{
    json_t *want = json_object_get(like, key), *e;
    size_t i;
    if (!arr || !want)
        return NULL;
    json_array_foreach(arr, i, e)
        if (json_equal(json_object_get(e, key), want))
            return e;
    return NULL;
}

/* Rate of counter `key` between prev and cur over dt seconds; 0 when there
 * is no previous snapshot or the counter went back (daemon restarted). */
static double rate(json_t *cur, json_t *prev, const char *key, double dt)
{
    if (!prev || dt <= 0)
        return 0;
    uint64_t a = jint(cur, key), b = jint(prev, key);
    return a >= b ? (double)(a - b) / dt : 0;
}

static void hist_from_json(json_t *lat, struct sc_hist_snap *h)
{
    memset(h, 0, sizeof(*h));
    if (!lat)
        return;
    h->count = jint(lat, "count");
    h->sum_ns = jint(lat, "sum_ns");
    h->max_ns = jint(lat, "max_ns");
    json_t *b;
    size_t i;
    json_array_foreach(json_object_get(lat, "buckets"), i, b) {
        json_int_t idx = json_integer_value(json_array_get(b, 0));
        if (idx >= 0 && idx < (json_int_t)SC_HIST_BUCKETS)
            h->bucket[idx] = (uint64_t)json_integer_value(json_array_get(b, 1));
    }
}

/* p50/p99 of a queue's latency: since the start, or over the interval. */
static void latency(json_t *q, json_t *prevq, uint64_t *p50, uint64_t *p99)
{
    struct sc_hist_snap now, before;
    hist_from_json(json_object_get(q, "latency"), &now);
    if (prevq) {
        hist_from_json(json_object_get(prevq, "latency"), &before);
        if (now.count >= before.count)
            sc_hist_diff(&now, &before, &now);
    }
    *p50 = sc_hist_percentile(&now, 50);
    *p99 = sc_hist_percentile(&now, 99);
}

/* "5" or "5,6": the queue's event-channel ports. */
static const char *fmt_ports(json_t *q)
{
    char *b = fmt_buf();
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

static const char *fmt_us(uint64_t ns)
{
    return ns ? fmt_f((double)ns / 1000.0, ns < 10000 ? 1 : 0) : "-";
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
}

static void show_devices(json_t *r, json_t *prev, double dt)
{
    (void)prev;
    (void)dt;
    struct table t;
    /* CLASS last: the class's one-line summary has spaces */
    table_init(&t, "DEVICE< STATE< FRONTEND< ONLINE< QUEUES< BACKEND< CLASS<");
    json_t *d;
    size_t i;
    json_array_foreach(r, i, d) {
        char queues[256] = "";
        size_t len = 0;
        json_t *q;
        size_t j;
        json_array_foreach(json_object_get(d, "queues"), j, q) {
            const char *name = jstr(q, "name");
            const char *sp = strrchr(name, ' ');
            int n = snprintf(queues + len, sizeof(queues) - len, "%s%s@%s%s", j ? "," : "",
                             sp ? sp + 1 : name, jstr(q, "core"),
                             json_is_true(json_object_get(q, "failed")) ? "!" : "");
            if (n < 0 || (size_t)n >= sizeof(queues) - len)
                break;
            len += (size_t)n;
        }
        table_row(&t, jstr(d, "name"), jstr(d, "state"), jstr(d, "frontend_state"),
                  json_is_true(json_object_get(d, "online")) ? "yes" : "no",
                  len ? queues : "-", jstr(d, "backend_path"),
                  jstr(json_object_get(d, "class"), "summary"));
    }
    table_print(&t);
}

static void show_queues(json_t *r, json_t *prev, double dt)
{
    struct table t;
    json_t *q;
    size_t i;
    if (prev) {
        table_init(&t, "QUEUE< CORE< REQ/s BYTES/s KICK/s NOTIFY/s BUSY/s EMPTY/s ERR/s "
                       "P50us P99us FAILED<");
        json_array_foreach(r, i, q) {
            json_t *p = find_same(prev, q, "name");
            uint64_t p50, p99;
            latency(q, p, &p50, &p99);
            table_row(&t, jstr(q, "name"), jstr(q, "core"), fmt_h(rate(q, p, "requests", dt), 0),
                      fmt_h(rate(q, p, "bytes", dt), 1), fmt_h(rate(q, p, "kicks", dt), 0),
                      fmt_h(rate(q, p, "notifies", dt), 0), fmt_h(rate(q, p, "busy_polls", dt), 0),
                      fmt_h(rate(q, p, "empty_polls", dt), 0), fmt_h(rate(q, p, "errors", dt), 0),
                      fmt_us(p50), fmt_us(p99),
                      json_is_true(json_object_get(q, "failed")) ? "yes" : "no");
        }
    } else {
        table_init(&t, "QUEUE< CORE< PORTS REQUESTS BYTES KICKS NOTIFIES BUSY EMPTY ERRORS "
                       "P50us P99us FAILED<");
        json_array_foreach(r, i, q) {
            uint64_t p50, p99;
            latency(q, NULL, &p50, &p99);
            table_row(&t, jstr(q, "name"), jstr(q, "core"), fmt_ports(q),
                      fmt_u(jint(q, "requests")), fmt_h((double)jint(q, "bytes"), 1),
                      fmt_u(jint(q, "kicks")), fmt_u(jint(q, "notifies")),
                      fmt_u(jint(q, "busy_polls")), fmt_u(jint(q, "empty_polls")),
                      fmt_u(jint(q, "errors")), fmt_us(p50), fmt_us(p99),
                      json_is_true(json_object_get(q, "failed")) ? "yes" : "no");
        }
    }
    table_print(&t);
    /* the devices' own counters, a line per queue that has any */
    json_array_foreach(r, i, q) {
        json_t *dc = json_object_get(q, "device_counters"), *v;
        const char *name;
        if (!json_object_size(dc))
            continue;
        printf("%s:", jstr(q, "name"));
        json_object_foreach(dc, name, v) {
            json_t *pv = NULL;
            if (prev) {
                json_t *pq = find_same(prev, q, "name");
                pv = json_object_get(json_object_get(pq, "device_counters"), name);
            }
            if (prev && dt > 0)
                printf(" %s/s=%s", name,
                       fmt_h((double)(json_integer_value(v) - json_integer_value(pv)) / dt, 0));
            else
                printf(" %s=%s", name, fmt_u((uint64_t)json_integer_value(v)));
        }
        printf("\n");
    }
}

static const char *busy_pct(json_t *c, json_t *p)
{
    uint64_t busy = jint(c, "busy_ns"), total = busy + jint(c, "idle_ns") + jint(c, "sleep_ns");
    if (p) {
        uint64_t pbusy = jint(p, "busy_ns");
        uint64_t ptotal = pbusy + jint(p, "idle_ns") + jint(p, "sleep_ns");
        if (busy >= pbusy && total >= ptotal) {
            busy -= pbusy;
            total -= ptotal;
        }
    }
    return fmt_f(total ? 100.0 * (double)busy / (double)total : 0.0, 1);
}

static void show_cores(json_t *r, json_t *prev, double dt)
{
    struct table t;
    json_t *c;
    size_t i;
    if (prev)
        table_init(&t, "CORE< CPU QUEUES BUSY% ROUNDS/s SLEEPS/s WAKEUPS/s KICKS/s IO/s");
    else
        table_init(&t, "CORE< CPU QUEUES BUSY% ROUNDS SLEEPS WAKEUPS KICKS IO-SUBMITTED "
                       "IO-COMPLETED");
    json_array_foreach(r, i, c) {
        json_int_t cpu = json_integer_value(json_object_get(c, "cpu"));
        const char *cpus = cpu < 0 ? "-" : fmt_u((uint64_t)cpu);
        if (prev) {
            json_t *p = find_same(prev, c, "name");
            table_row(&t, jstr(c, "name"), cpus, fmt_u(jint(c, "queues")), busy_pct(c, p),
                      fmt_h(rate(c, p, "rounds", dt), 0), fmt_h(rate(c, p, "sleeps", dt), 0),
                      fmt_h(rate(c, p, "wakeups", dt), 0), fmt_h(rate(c, p, "kicks", dt), 0),
                      fmt_h(rate(c, p, "io_completed", dt), 0));
        } else {
            table_row(&t, jstr(c, "name"), cpus, fmt_u(jint(c, "queues")), busy_pct(c, NULL),
                      fmt_u(jint(c, "rounds")), fmt_u(jint(c, "sleeps")),
                      fmt_u(jint(c, "wakeups")), fmt_u(jint(c, "kicks")),
                      fmt_u(jint(c, "io_submitted")), fmt_u(jint(c, "io_completed")));
        }
    }
    table_print(&t);
}

static const char *fmt_rate_setting(uint64_t v, bool bytes)
{
    return v ? fmt_h((double)v, bytes) : "-";
}

static void show_guests(json_t *r, json_t *prev, double dt)
{
    struct table t;
    json_t *g;
    size_t i;
    if (prev)
        table_init(&t, "DOMID WEIGHT RES-IOPS LIM-IOPS RES-BPS LIM-BPS DEVICES QUEUES IOPS "
                       "BYTES/s KICK/s NOTIFY/s THROTTLED/s");
    else
        table_init(&t, "DOMID WEIGHT RES-IOPS LIM-IOPS RES-BPS LIM-BPS DEVICES QUEUES REQUESTS "
                       "BYTES KICKS NOTIFIES THROTTLED");
    json_array_foreach(r, i, g) {
        json_t *s = json_object_get(g, "sched");
        const char *dom = fmt_u(jint(g, "domid")), *w = fmt_u(jint(g, "weight"));
        const char *ri = fmt_rate_setting(jint(g, "reservation_iops"), false);
        const char *li = fmt_rate_setting(jint(g, "limit_iops"), false);
        const char *rb = fmt_rate_setting(jint(g, "reservation_bps"), true);
        const char *lb = fmt_rate_setting(jint(g, "limit_bps"), true);
        if (prev) {
            json_t *p = find_same(prev, g, "domid");
            double thr = p ? rate(s, json_object_get(p, "sched"), "throttled", dt) : 0;
            table_row(&t, dom, w, ri, li, rb, lb, fmt_u(jint(g, "devices")),
                      fmt_u(jint(g, "queues")), fmt_h(rate(g, p, "requests", dt), 0),
                      fmt_h(rate(g, p, "bytes", dt), 1), fmt_h(rate(g, p, "kicks", dt), 0),
                      fmt_h(rate(g, p, "notifies", dt), 0), fmt_h(thr, 0));
        } else {
            table_row(&t, dom, w, ri, li, rb, lb, fmt_u(jint(g, "devices")),
                      fmt_u(jint(g, "queues")), fmt_u(jint(g, "requests")),
                      fmt_h((double)jint(g, "bytes"), 1), fmt_u(jint(g, "kicks")),
                      fmt_u(jint(g, "notifies")), fmt_u(jint(s, "throttled")));
        }
    }
    table_print(&t);
}

static const struct view {
    const char *name;
    void (*show)(json_t *result, json_t *prev, double dt);
} views[] = {
    { "status", show_status },   { "devices", show_devices }, { "queues", show_queues },
    { "cores", show_cores },     { "guests", show_guests },
};

/* ---- commands ---- */

static struct sc_ctl_client *connect_or_die(const char *path)
{
    struct sc_ctl_client *c = sc_ctl_client_open(path, CALL_TIMEOUT_MS);
    if (!c) {
        fprintf(stderr, "sidecorectl: cannot connect to %s: %s%s\n", path, strerror(errno),
                errno == ENOENT || errno == ECONNREFUSED ? " (is sidecored running?)" : "");
        exit(1);
    }
    return c;
}

static json_t *call(struct sc_ctl_client *c, const char *method, json_t *params)
{
    json_t *result = NULL;
    char msg[512];
    int code = 0;
    int ret = sc_ctl_client_call(c, method, params, &result, &code, msg, sizeof(msg));
    if (ret < 0) {
        fprintf(stderr, "sidecorectl: %s: %s\n", method, msg);
        return NULL;
    }
    return result;
}

static int run_view(const char *path, const struct view *v, bool json, double watch, long count)
{
    struct sc_ctl_client *c = connect_or_die(path);
    json_t *prev = NULL;
    double prev_t = 0;
    int rc = 0;
    bool tty = isatty(STDOUT_FILENO);
    for (long frame = 0;; frame++) {
        json_t *r = call(c, v->name, NULL);
        double now = (double)sc_clock_ns() / 1e9;
        if (!r) {
            rc = 1;
            break;
        }
        if (json) {
            char *s = json_dumps(r, watch > 0 ? JSON_COMPACT : JSON_INDENT(2));
            printf("%s\n", s ? s : "null");
            free(s);
        } else if (watch <= 0) {
            v->show(r, NULL, 0);
        } else if (prev) {
            if (tty)
                printf("\033[H\033[2J");
            else if (frame > 1)
                printf("\n");
            time_t wall = time(NULL);
            char stamp[32];
            strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&wall));
            printf("sidecorectl %s  every %gs  %s  (rates over the last %.2fs)\n", v->name, watch,
                   stamp, now - prev_t);
            v->show(r, prev, now - prev_t);
        }
        fflush(stdout);
        json_decref(prev);
        prev = r;
        prev_t = now;
        /* in --watch, the first snapshot only sets the baseline for rates */
        long shown = json ? frame + 1 : frame;
        if (watch <= 0 || (count > 0 && shown >= count))
            break;
        struct timespec ts = { (time_t)watch, (long)((watch - (double)(time_t)watch) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    json_decref(prev);
    sc_ctl_client_close(c);
    return rc;
}

/* N with optional k/M/G (x1000 for request rates, x1024 for bytes). */
static int parse_value(const char *s, bool bytes, json_int_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*s))
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    double base = bytes ? 1024.0 : 1000.0, mult = 1;
    if (*end == 'k' || *end == 'K')
        mult = base;
    else if (*end == 'm' || *end == 'M')
        mult = base * base;
    else if (*end == 'g' || *end == 'G')
        mult = base * base * base;
    if (mult > 1)
        end++;
    if (errno || *end || (double)v * mult > 9e18)
        return -1;
    *out = (json_int_t)((double)v * mult);
    return 0;
}

static int cmd_set_tenant(const char *path, int argc, char **argv)
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
    };
    json_int_t domid;
    if (argc < 2 || parse_value(argv[0], false, &domid) < 0 || strpbrk(argv[0], "kKmMgG") ||
        domid >= DOMID_FIRST_RESERVED) {
        fprintf(stderr, "sidecorectl: set-tenant DOMID key=value...\n");
        return 2;
    }
    json_t *params = json_pack("{s:I}", "domid", domid);
    for (int i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        size_t k, n = sizeof(keys) / sizeof(keys[0]);
        for (k = 0; eq && k < n; k++)
            if (strlen(keys[k].name) == (size_t)(eq - argv[i]) &&
                strncmp(argv[i], keys[k].name, (size_t)(eq - argv[i])) == 0)
                break;
        json_int_t v;
        if (!eq || k == n || parse_value(eq + 1, keys[k].bytes, &v) < 0) {
            fprintf(stderr, "sidecorectl: set-tenant: bad setting '%s' (weight=N, res_iops=N, "
                    "lim_iops=N, res_bps=N, lim_bps=N)\n", argv[i]);
            json_decref(params);
            return 2;
        }
        json_object_set_new(params, keys[k].key, json_integer(v));
    }
    struct sc_ctl_client *c = connect_or_die(path);
    json_t *r = call(c, "set-tenant", params);
    json_decref(params);
    sc_ctl_client_close(c);
    if (!r)
        return 1;
    printf("domain %llu: weight %llu, reservation %s IOPS %s/s, limit %s IOPS %s/s "
           "(- = none)\n",
           (unsigned long long)jint(r, "domid"), (unsigned long long)jint(r, "weight"),
           fmt_rate_setting(jint(r, "reservation_iops"), false),
           fmt_rate_setting(jint(r, "reservation_bps"), true),
           fmt_rate_setting(jint(r, "limit_iops"), false),
           fmt_rate_setting(jint(r, "limit_bps"), true));
    json_decref(r);
    return 0;
}

static int cmd_resize_check(const char *path, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "sidecorectl: resize-check DEVICE\n");
        return 2;
    }
    const char *s = argv[0];
    bool digits = *s && strspn(s, "0123456789") == strlen(s);
    json_t *params = digits ? json_pack("{s:I}", "device", (json_int_t)strtoll(s, NULL, 10))
                            : json_pack("{s:s}", "device", s);
    struct sc_ctl_client *c = connect_or_die(path);
    json_t *r = call(c, "resize-check", params);
    json_decref(params);
    sc_ctl_client_close(c);
    if (!r)
        return 1;
    printf("%s: %s\n", jstr(r, "device"),
           json_is_true(json_object_get(r, "changed")) ? "new size sent to the frontend"
                                                       : "size unchanged");
    json_decref(r);
    return 0;
}

static char opt_path[SC_CONFIG_PATH_MAX];
static bool opt_json;
static double opt_watch;
static long opt_count;

static const struct option long_opts[] = {
    { "socket", required_argument, NULL, 's' },
    { "json", no_argument, NULL, 'j' },
    { "watch", required_argument, NULL, 'w' },
    { "count", required_argument, NULL, 'n' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Options up to the next non-option ("+": a command's own arguments stay
 * its own).  -1 to go on, else the exit code. */
static int parse_opts(int argc, char **argv)
{
    int opt;
    while ((opt = getopt_long(argc, argv, "+s:jw:n:h", long_opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 's':
            if (strlen(optarg) >= sizeof(opt_path)) {
                fprintf(stderr, "sidecorectl: --socket: path too long\n");
                return 2;
            }
            snprintf(opt_path, sizeof(opt_path), "%s", optarg);
            break;
        case 'j':
            opt_json = true;
            break;
        case 'w':
            opt_watch = strtod(optarg, &end);
            if (*end || !(opt_watch > 0) || opt_watch > 3600) {
                fprintf(stderr, "sidecorectl: --watch: '%s' is not a number of seconds\n",
                        optarg);
                return 2;
            }
            break;
        case 'n':
            opt_count = strtol(optarg, &end, 10);
            if (*end || opt_count <= 0) {
                fprintf(stderr, "sidecorectl: --count: '%s' is not a positive number\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    int rc = parse_opts(argc, argv);
    if (rc >= 0)
        return rc;
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind++];
    const struct view *view = NULL;
    for (size_t i = 0; i < sizeof(views) / sizeof(views[0]); i++)
        if (strcmp(cmd, views[i].name) == 0)
            view = &views[i];
    if (view) {
        /* the view's options may follow it: sidecorectl queues --watch 1 */
        rc = parse_opts(argc, argv);
        if (rc >= 0)
            return rc;
        if (optind < argc) {
            fprintf(stderr, "sidecorectl: %s: unexpected argument '%s'\n", cmd, argv[optind]);
            return 2;
        }
    } else if (strcmp(cmd, "set-tenant") != 0 && strcmp(cmd, "resize-check") != 0) {
        fprintf(stderr, "sidecorectl: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (!opt_path[0] && sc_config_default_ctl_path(SC_XEN_AUTO, opt_path, sizeof(opt_path)) < 0) {
        fprintf(stderr, "sidecorectl: the default socket path is too long; use --socket\n");
        return 2;
    }
    if (view)
        return run_view(opt_path, view, opt_json, opt_watch, opt_count);
    if (strcmp(cmd, "set-tenant") == 0)
        return cmd_set_tenant(opt_path, argc - optind, argv + optind);
    return cmd_resize_check(opt_path, argc - optind, argv + optind);
}
