/*
 * metrics_text.c - the published views as Prometheus text (metrics_text.h).
 *
 * Each part (daemon, cores, queues, guests) is a list of rows, each row a
 * view's JSON object and its label set, and a table of fields: one metric
 * family per field, its samples one per row that has the field.  Families
 * are written whole, in a fixed order, even when no row has a sample, so a
 * scraper sees the same names whatever runs.
 */
#include "metrics_text.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define LABELS_MAX 320

struct row {
    json_t *o;               /* the view's object (borrowed) */
    const char *type;        /* queues: the device's type, for its device counters */
    char labels[LABELS_MAX]; /* `k="v",k="v"`, escaped; "" for none */
};

enum kind {
    K_INT,   /* an integer, as it is */
    K_NS_S,  /* nanoseconds, written as seconds */
    K_REAL,  /* a JSON number */
    K_BOOL,  /* true/false as 1/0 */
};

struct field {
    const char *metric;
    const char *type; /* counter, gauge */
    const char *key;  /* the view's key; "a.b" for a member of object a */
    enum kind kind;
    const char *help;
};

uint64_t sc_metrics_le_ns(unsigned i)
{
    return (UINT64_C(1) << (SC_METRICS_LE_FIRST_SHIFT + i)) - 1;
}

/* ---- writing ---- */

/* Label values may hold anything a view does (a device name, a version):
 * backslash, double quote and newline are escaped, as the format says. */
static void label_add(char *buf, const char *name, const char *value)
{
    size_t n = strlen(buf);
    if (n && n < LABELS_MAX - 1)
        buf[n++] = ',';
    n += (size_t)snprintf(buf + n, n < LABELS_MAX ? LABELS_MAX - n : 0, "%s=\"", name);
    for (const char *p = value; *p && n + 3 < LABELS_MAX; p++) {
        if (*p == '\\' || *p == '"') {
            buf[n++] = '\\';
            buf[n++] = *p;
        } else if (*p == '\n') {
            buf[n++] = '\\';
            buf[n++] = 'n';
        } else {
            buf[n++] = *p;
        }
    }
    if (n + 1 < LABELS_MAX)
        buf[n++] = '"';
    buf[n < LABELS_MAX ? n : LABELS_MAX - 1] = '\0';
}

static void label_add_int(char *buf, const char *name, json_int_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%" JSON_INTEGER_FORMAT, v);
    label_add(buf, name, s);
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels,extra} or name{extra} or name: the sample's left side. */
static void sample_start(FILE *out, const char *name, const char *labels, const char *extra)
{
    fputs(name, out);
    if (*labels || (extra && *extra)) {
        fputc('{', out);
        fputs(labels, out);
        if (extra && *extra) {
            if (*labels)
                fputc(',', out);
            fputs(extra, out);
        }
        fputc('}', out);
    }
    fputc(' ', out);
}

/* Nanoseconds as exact decimal seconds ("0.000001023", "12", "1.5"): a
 * bound must be exactly the largest value of its bucket. */
static void put_ns_s(FILE *out, uint64_t ns)
{
    char frac[16];
    snprintf(frac, sizeof(frac), "%09" PRIu64, ns % 1000000000u);
    size_t n = strlen(frac);
    while (n && frac[n - 1] == '0')
        frac[--n] = '\0';
    fprintf(out, n ? "%" PRIu64 ".%s" : "%" PRIu64 "%s", ns / 1000000000u, frac);
}

static void put_real(FILE *out, double v)
{
    fprintf(out, "%.9g", v);
}

/* ---- reading the views ---- */

static json_t *get_path(json_t *o, const char *key)
{
    const char *dot = strchr(key, '.');
    if (!dot)
        return json_object_get(o, key);
    char first[64];
    size_t n = (size_t)(dot - key);
    if (n >= sizeof(first))
        return NULL;
    memcpy(first, key, n);
    first[n] = '\0';
    return json_object_get(json_object_get(o, first), dot + 1);
}

static uint64_t u64_of(json_t *v)
{
    json_int_t i = json_is_integer(v) ? json_integer_value(v) : 0;
    return i > 0 ? (uint64_t)i : 0;
}

/* One sample of f for row r, if r has it. */
static void field_sample(FILE *out, const struct field *f, const struct row *r)
{
    json_t *v = get_path(r->o, f->key);
    if (!v || json_is_null(v))
        return;
    if ((f->kind == K_INT || f->kind == K_NS_S) && !json_is_integer(v))
        return;
    if (f->kind == K_REAL && !json_is_number(v))
        return;
    if (f->kind == K_BOOL && !json_is_boolean(v))
        return;
    sample_start(out, f->metric, r->labels, NULL);
    switch (f->kind) {
    case K_INT: fprintf(out, "%" PRIu64 "\n", u64_of(v)); break;
    case K_NS_S: put_ns_s(out, u64_of(v)); fputc('\n', out); break;
    case K_REAL: put_real(out, json_number_value(v)); fputc('\n', out); break;
    case K_BOOL: fputs(json_is_true(v) ? "1\n" : "0\n", out); break;
    }
}

static void fields_write(FILE *out, const struct field *fields, size_t nfields,
                         const struct row *rows, size_t nrows)
{
    for (size_t i = 0; i < nfields; i++) {
        family(out, fields[i].metric, fields[i].type, fields[i].help);
        for (size_t r = 0; r < nrows; r++)
            field_sample(out, &fields[i], &rows[r]);
    }
}

/* ---- the daemon ---- */

static void daemon_write(FILE *out, json_t *status, double age_s)
{
    family(out, "sidecore_build_info", "gauge",
           "Always 1; the labels say which sidecored serves (version, platform, mode).");
    if (status) {
        char labels[LABELS_MAX] = "";
        const char *ver = json_string_value(json_object_get(status, "version"));
        const char *plat = json_string_value(json_object_get(status, "platform"));
        const char *mode = json_string_value(json_object_get(status, "mode"));
        label_add(labels, "version", ver ? ver : "");
        label_add(labels, "platform", plat ? plat : "");
        label_add(labels, "mode", mode ? mode : "");
        sample_start(out, "sidecore_build_info", labels, NULL);
        fputs("1\n", out);
    }
    family(out, "sidecore_metrics_age_seconds", "gauge",
           "How old the oldest view these metrics come from is (published every 0.5 s).");
    sample_start(out, "sidecore_metrics_age_seconds", "", NULL);
    put_real(out, age_s);
    fputc('\n', out);
    static const struct field fields[] = {
        { "sidecore_uptime_seconds", "gauge", "uptime_s", K_REAL,
          "Time since sidecored started." },
        { "sidecore_devices", "gauge", "devices", K_INT, "Devices sidecored serves now." },
        { "sidecore_queue_failures_total", "counter", "queue_failures", K_INT,
          "Queues that failed (a broken ring) and were handled." },
        { "sidecore_mem_budget_bytes", "gauge", "memory.budget_bytes", K_INT,
          "Memory all queues may reserve (0: unlimited)." },
        { "sidecore_mem_reserved_bytes", "gauge", "memory.reserved_bytes", K_INT,
          "Memory the queues reserved." },
        { "sidecore_mem_refused_total", "counter", "memory.refused", K_INT,
          "Queues refused because their memory did not fit the budget." },
    };
    struct row r = { .o = status };
    fields_write(out, fields, sizeof(fields) / sizeof(fields[0]), &r, status ? 1 : 0);
}

/* ---- cores ---- */

static void cores_write(FILE *out, json_t *cores)
{
    size_t n = json_array_size(cores);
    struct row *rows = calloc(n ? n : 1, sizeof(*rows));
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        rows[i].o = json_array_get(cores, i);
        const char *name = json_string_value(json_object_get(rows[i].o, "name"));
        label_add(rows[i].labels, "core", name ? name : "");
    }
    static const struct field fields[] = {
        { "sidecore_core_busy_seconds_total", "counter", "busy_ns", K_NS_S,
          "Time the sidecore spent in rounds that did work." },
        { "sidecore_core_idle_seconds_total", "counter", "idle_ns", K_NS_S,
          "Time the sidecore spent polling without finding work." },
        { "sidecore_core_sleep_seconds_total", "counter", "sleep_ns", K_NS_S,
          "Time the sidecore spent blocked, waiting for a kick." },
        { "sidecore_core_rounds_total", "counter", "rounds", K_INT,
          "Rounds of the sidecore's loop." },
        { "sidecore_core_busy_rounds_total", "counter", "busy_rounds", K_INT,
          "Rounds that consumed a request or reaped a completion." },
        { "sidecore_core_sleeps_total", "counter", "sleeps", K_INT,
          "Times the sidecore blocked." },
        { "sidecore_core_wakeups_total", "counter", "wakeups", K_INT,
          "Blocks ended by an event (the others by a timeout)." },
        { "sidecore_core_kicks_total", "counter", "kicks", K_INT,
          "Pending event-channel ports taken." },
        { "sidecore_core_stray_kicks_total", "counter", "stray_kicks", K_INT,
          "Kicks on a port no queue of this sidecore has." },
        { "sidecore_core_io_submitted_total", "counter", "io_submitted", K_INT,
          "I/Os submitted to the sidecore's io_uring." },
        { "sidecore_core_io_completed_total", "counter", "io_completed", K_INT,
          "I/Os completed by the sidecore's io_uring." },
        { "sidecore_core_commands_total", "counter", "commands", K_INT,
          "Commands from the control thread run by the sidecore." },
        { "sidecore_core_failed_queues_total", "counter", "failed", K_INT,
          "Queues that failed on this sidecore." },
        { "sidecore_core_queues", "gauge", "queues", K_INT, "Queues on the sidecore now." },
        { "sidecore_core_active", "gauge", "active", K_BOOL,
          "1 if the sidecore takes queues, 0 if parked by the balancer." },
        { "sidecore_core_poll_window_seconds", "gauge", "poll_window_ns", K_NS_S,
          "How long the sidecore polls without work before it sleeps." },
        { "sidecore_core_turn_shift", "gauge", "turn_shift", K_INT,
          "Short turns: the scheduler's quanta are divided by 2 to this power now." },
        { "sidecore_core_steal_seconds_total", "counter", "placement.steal_ns", K_NS_S,
          "Steal of the sidecore's vCPU: runnable but not running (absent: unknown)." },
        { "sidecore_core_steal_backoff", "gauge", "steal_backoff", K_BOOL,
          "1 while the sidecore backs off for steal (sleeps when idle)." },
        { "sidecore_core_steal_backoffs_total", "counter", "placement.backoffs", K_INT,
          "Times the sidecore backed off for steal." },
    };
    fields_write(out, fields, sizeof(fields) / sizeof(fields[0]), rows, n);
    free(rows);
}

/* ---- queues ---- */

/* The queue's index within its device: its place in the device's list,
 * else the "q<n>" its name ends with (queue.h), else -1. */
static json_int_t queue_index(json_t *dev, const char *qname)
{
    json_t *qs = json_object_get(dev, "queues");
    for (size_t i = 0; i < json_array_size(qs); i++) {
        const char *n = json_string_value(json_object_get(json_array_get(qs, i), "name"));
        if (n && strcmp(n, qname) == 0)
            return (json_int_t)i;
    }
    const char *q = strrchr(qname, 'q');
    if (q && q > qname && q[-1] == ' ' && isdigit((unsigned char)q[1]))
        return (json_int_t)strtol(q + 1, NULL, 10);
    return -1;
}

/* The rows of the queues whose device is in the devices view (its type and
 * devid make the labels); n set.  NULL + n 0 when there are none. */
static struct row *queue_rows(json_t *queues, json_t *devices, size_t *n)
{
    size_t nq = json_array_size(queues);
    struct row *rows = calloc(nq ? nq : 1, sizeof(*rows));
    json_t *by_name = json_object();
    *n = 0;
    if (!rows || !by_name) {
        free(rows);
        json_decref(by_name);
        return NULL;
    }
    for (size_t i = 0; i < json_array_size(devices); i++) {
        json_t *d = json_array_get(devices, i);
        const char *name = json_string_value(json_object_get(d, "name"));
        if (name)
            json_object_set(by_name, name, d);
    }
    for (size_t i = 0; i < nq; i++) {
        json_t *q = json_array_get(queues, i);
        const char *qname = json_string_value(json_object_get(q, "name"));
        const char *dname = json_string_value(json_object_get(q, "device"));
        json_t *d = dname ? json_object_get(by_name, dname) : NULL;
        const char *type = json_string_value(json_object_get(d, "type"));
        json_t *devid = json_object_get(d, "devid"), *domid = json_object_get(q, "domid");
        if (!qname || !type || !json_is_integer(devid) || !json_is_integer(domid))
            continue;
        struct row *r = &rows[(*n)++];
        r->o = q;
        r->type = type;
        label_add(r->labels, "type", type);
        label_add_int(r->labels, "domid", json_integer_value(domid));
        label_add_int(r->labels, "devid", json_integer_value(devid));
        label_add_int(r->labels, "queue", queue_index(d, qname));
    }
    json_decref(by_name); /* the rows keep their types: the devices view holds them */
    return rows;
}

static void latency_write(FILE *out, const struct row *rows, size_t n)
{
    static const char name[] = "sidecore_queue_latency_seconds";
    family(out, name, "histogram",
           "Time from a request consumed to its response produced.");
    for (size_t r = 0; r < n; r++) {
        json_t *lat = json_object_get(rows[r].o, "latency");
        json_t *buckets = json_object_get(lat, "buckets");
        if (!json_is_object(lat))
            continue;
        uint64_t per_le[SC_METRICS_LE_COUNT] = { 0 }, total = 0;
        for (size_t i = 0; i < json_array_size(buckets); i++) {
            json_t *pair = json_array_get(buckets, i);
            json_t *b = json_array_get(pair, 0);
            uint64_t count = u64_of(json_array_get(pair, 1));
            total += count;
            if (!json_is_integer(b) || json_integer_value(b) < 0 ||
                json_integer_value(b) >= (json_int_t)SC_HIST_BUCKETS)
                continue; /* only +Inf holds it */
            uint64_t high = sc_hist_bucket_high((unsigned)json_integer_value(b));
            for (unsigned k = 0; k < SC_METRICS_LE_COUNT; k++) {
                if (high <= sc_metrics_le_ns(k)) {
                    per_le[k] += count;
                    break;
                }
            }
        }
        uint64_t cum = 0;
        for (unsigned k = 0; k < SC_METRICS_LE_COUNT; k++) {
            cum += per_le[k];
            fputs(name, out);
            fputs("_bucket{", out);
            fputs(rows[r].labels, out);
            fputs(*rows[r].labels ? ",le=\"" : "le=\"", out);
            put_ns_s(out, sc_metrics_le_ns(k));
            fprintf(out, "\"} %" PRIu64 "\n", cum);
        }
        fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, rows[r].labels,
                *rows[r].labels ? "," : "", total);
        fprintf(out, "%s_sum{%s} ", name, rows[r].labels);
        put_ns_s(out, u64_of(json_object_get(lat, "sum_ns")));
        /* the buckets' total, not the view's count: a snapshot reads them
         * one by one, and +Inf must equal _count */
        fprintf(out, "\n%s_count{%s} %" PRIu64 "\n", name, rows[r].labels, total);
    }
}

/* A device class's own counters (device_counters in the queues view) as
 * sidecore_<type>_<name>_total: the names are the module's stable ones. */
#define DEVCOUNTER_FAMILIES_MAX 256

struct devcounter_family {
    const char *type, *key;
};

static bool name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

static void device_counters_write(FILE *out, const struct row *rows, size_t n)
{
    struct devcounter_family fams[DEVCOUNTER_FAMILIES_MAX];
    size_t nf = 0;
    for (size_t r = 0; r < n; r++) {
        const char *key;
        json_t *v;
        if (!name_ok(rows[r].type))
            continue;
        json_object_foreach(json_object_get(rows[r].o, "device_counters"), key, v) {
            size_t f;
            for (f = 0; f < nf; f++)
                if (strcmp(fams[f].type, rows[r].type) == 0 && strcmp(fams[f].key, key) == 0)
                    break;
            if (f == nf && nf < DEVCOUNTER_FAMILIES_MAX && name_ok(key))
                fams[nf++] = (struct devcounter_family){ rows[r].type, key };
        }
    }
    for (size_t f = 0; f < nf; f++) {
        char metric[160], help[200];
        snprintf(metric, sizeof(metric), "sidecore_%s_%s_total", fams[f].type, fams[f].key);
        snprintf(help, sizeof(help), "The %s queue's own counter %s (docs/operations.md).",
                 fams[f].type, fams[f].key);
        family(out, metric, "counter", help);
        for (size_t r = 0; r < n; r++) {
            if (strcmp(rows[r].type, fams[f].type) != 0)
                continue;
            json_t *v = json_object_get(json_object_get(rows[r].o, "device_counters"),
                                        fams[f].key);
            if (!json_is_integer(v))
                continue;
            sample_start(out, metric, rows[r].labels, NULL);
            fprintf(out, "%" PRIu64 "\n", u64_of(v));
        }
    }
}

static void queues_write(FILE *out, json_t *queues, json_t *devices)
{
    size_t n = 0;
    struct row *rows = queue_rows(queues, devices, &n);
    static const struct field fields[] = {
        { "sidecore_queue_requests_total", "counter", "requests", K_INT,
          "Requests served (a disk's I/O requests; a vif's frames, both ways)." },
        { "sidecore_queue_bytes_total", "counter", "bytes", K_INT,
          "Payload bytes of the requests served." },
        { "sidecore_queue_errors_total", "counter", "errors", K_INT,
          "Requests answered with an error, and queue failures." },
        { "sidecore_queue_kicks_total", "counter", "kicks", K_INT,
          "Event-channel notifications received from the frontend." },
        { "sidecore_queue_notifies_total", "counter", "notifies", K_INT,
          "Event-channel notifications sent to the frontend." },
        { "sidecore_queue_busy_polls_total", "counter", "busy_polls", K_INT,
          "Visits that consumed something." },
        { "sidecore_queue_empty_polls_total", "counter", "empty_polls", K_INT,
          "Visits that found nothing to consume." },
        { "sidecore_queue_busy_seconds_total", "counter", "busy_ns", K_NS_S,
          "Its sidecore's time in the queue's visits and flushes." },
        { "sidecore_queue_failed", "gauge", "failed", K_BOOL,
          "1 once the queue failed (a broken ring), else 0." },
        { "sidecore_queue_load_ratio", "gauge", "load", K_REAL,
          "The share of a sidecore the queue took in the balancer's last interval." },
        { "sidecore_queue_mem_reserved_bytes", "gauge", "mem_reserved_bytes", K_INT,
          "Memory the queue reserved in the budget." },
    };
    fields_write(out, fields, sizeof(fields) / sizeof(fields[0]), rows, n);
    /* its sidecore in an info metric: a label that changes when the queue
     * moves would cut its counters' series in two */
    family(out, "sidecore_queue_info", "gauge",
           "Always 1; the core label names the sidecore serving the queue now.");
    for (size_t r = 0; r < n; r++) {
        char core[LABELS_MAX] = "";
        const char *c = json_string_value(json_object_get(rows[r].o, "core"));
        label_add(core, "core", c ? c : "");
        sample_start(out, "sidecore_queue_info", rows[r].labels, core);
        fputs("1\n", out);
    }
    latency_write(out, rows, n);
    device_counters_write(out, rows, n);
    free(rows);
}

/* ---- guests ---- */

static void guests_write(FILE *out, json_t *guests)
{
    size_t n = json_array_size(guests);
    struct row *rows = calloc(n ? n : 1, sizeof(*rows));
    if (!rows)
        return;
    for (size_t i = 0; i < n; i++) {
        rows[i].o = json_array_get(guests, i);
        const char *cls = json_string_value(json_object_get(rows[i].o, "class"));
        label_add(rows[i].labels, "type", cls ? cls : "");
        label_add_int(rows[i].labels, "domid",
                      json_integer_value(json_object_get(rows[i].o, "domid")));
    }
    static const struct field fields[] = {
        { "sidecore_guest_requests_total", "counter", "sched.requests", K_INT,
          "Requests the fair-share scheduler served the guest (this type's devices)." },
        { "sidecore_guest_bytes_total", "counter", "sched.bytes", K_INT,
          "Payload bytes the scheduler served the guest." },
        { "sidecore_guest_cost_bytes_total", "counter", "sched.cost", K_INT,
          "What the guest was charged: bytes plus a per-request and per-work charge." },
        { "sidecore_guest_reservation_cost_bytes_total", "counter", "sched.reservation_cost",
          K_INT, "The part of the cost served to meet the guest's reservation." },
        { "sidecore_guest_visits_total", "counter", "sched.visits", K_INT,
          "Visits the scheduler gave the guest's queues." },
        { "sidecore_guest_reservation_visits_total", "counter", "sched.reservation_visits",
          K_INT, "Visits given to meet the guest's reservation." },
        { "sidecore_guest_throttled_total", "counter", "sched.throttled", K_INT,
          "Times the guest was held back because its limit had no tokens left." },
        { "sidecore_guest_skipped_turns_total", "counter", "sched.skipped", K_INT,
          "Turns the guest lost to debt from overshooting visits." },
        { "sidecore_guest_read_throttled_total", "counter", "read_throttled", K_INT,
          "Disk reads that had to wait for the guest's read limit (vbd)." },
        { "sidecore_guest_write_throttled_total", "counter", "write_throttled", K_INT,
          "Disk writes that had to wait for the guest's write limit (vbd)." },
        { "sidecore_guest_weight", "gauge", "weight", K_INT,
          "The guest's fair-share weight." },
        { "sidecore_guest_reservation_iops", "gauge", "reservation_iops", K_INT,
          "Requests per second reserved for the guest (0: none)." },
        { "sidecore_guest_reservation_bytes_per_second", "gauge", "reservation_bps", K_INT,
          "Bytes per second reserved for the guest (0: none)." },
        { "sidecore_guest_limit_iops", "gauge", "limit_iops", K_INT,
          "The guest's limit in requests per second (0: none)." },
        { "sidecore_guest_limit_bytes_per_second", "gauge", "limit_bps", K_INT,
          "The guest's limit in bytes per second (0: none)." },
        { "sidecore_guest_devices", "gauge", "devices", K_INT,
          "The guest's devices of this type." },
        { "sidecore_guest_queues", "gauge", "queues", K_INT,
          "The guest's queues of this type." },
        { "sidecore_guest_mem_reserved_bytes", "gauge", "mem_reserved_bytes", K_INT,
          "Memory the guest's queues of this type reserved." },
    };
    fields_write(out, fields, sizeof(fields) / sizeof(fields[0]), rows, n);
    free(rows);
}

int sc_metrics_text_write(FILE *out, const struct sc_metrics_views *v)
{
    daemon_write(out, v->status, v->age_s);
    cores_write(out, v->cores);
    queues_write(out, v->queues, v->devices);
    guests_write(out, v->guests);
    return fflush(out) == 0 && !ferror(out) ? 0 : -EIO;
}
