/*
 * sctl.h - the parts of sidecorectl (tools/sidecorectl.c holds main, the
 * options and the command table).  A single-threaded CLI: nothing here is
 * thread-safe, and the fmt_* results live in a ring of static buffers
 * (NFMT of them), valid until that many more have been formatted.
 *
 *   sctl_table.c  aligned tables, number formatting, reading the daemon's JSON
 *   sctl_client.c the control socket: connect, call, the view loop (--watch)
 *   sctl_views.c  status, devices, queues, cores, guests; set-tenant, resize-check
 *   sctl_net.c    vifs, switch, vif-rate
 *   sctl_balance.c rebalance
 *   sctl_top.c    top: the live view (its pure parts in sctl_top.h, the
 *                 terminal in sctl_term.h)
 *   sctl_xscheck.c check-xenstore: the live store against xenstore-schema/
 *   sctl_place.c   place: a driver domain's vCPUs on physical CPUs of their own
 *                 (the schema model in sctl_schema.h); talks to xenstore,
 *                 not to the daemon: exit 1 means findings, 2 unreadable
 *
 * Commands return the process's exit code: 0 success, 1 the daemon is
 * unreachable or refused, 2 usage error.
 */
#ifndef SCTL_H
#define SCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#define SCTL_MAX_COLS 16

/* ---- a table: rows of strings, printed in aligned columns ---- */

struct sctl_table {
    unsigned ncols;
    char spec[512];                 /* the column names, split in place */
    const char *head[SCTL_MAX_COLS];
    bool left[SCTL_MAX_COLS];       /* text columns align left, numbers right */
    char **cells;                   /* nrows * ncols */
    unsigned nrows, cap;
};

/* spec: "NAME< CORE< REQS ..." ('<' marks a left-aligned column). */
void sctl_table_init(struct sctl_table *t, const char *spec);
/* One row: exactly ncols strings (NULL prints "-"), copied.  Exits on ENOMEM. */
void sctl_table_row(struct sctl_table *t, ...);
/* Prints header and rows to stdout and empties the table. */
void sctl_table_print(struct sctl_table *t);

/* ---- formatting (results in the static ring, see above) ---- */

const char *sctl_fmt_u(uint64_t v);
/* 1234567 -> "1.2M" (base 1000 for counts, 1024 and a B for bytes) */
const char *sctl_fmt_h(double v, bool bytes);
const char *sctl_fmt_f(double v, int prec);
/* A limit or reservation: "-" for 0 (none), else as sctl_fmt_h. */
const char *sctl_fmt_setting(uint64_t v, bool bytes);
/* Microseconds from nanoseconds, "-" for 0. */
const char *sctl_fmt_us(uint64_t ns);

/* ---- reading the daemon's JSON ---- */

/* o[key] as an unsigned (0 if absent or negative); "-" if not a string. */
uint64_t sctl_jint(json_t *o, const char *key);
const char *sctl_jstr(json_t *o, const char *key);
/* The element of array `arr` whose `key` equals that of `like` (NULL: none). */
json_t *sctl_find_same(json_t *arr, json_t *like, const char *key);
/* Rate of counter `key` between prev and cur over dt seconds; 0 when there
 * is no previous snapshot or the counter went back (daemon restarted). */
double sctl_rate(json_t *cur, json_t *prev, const char *key, double dt);
/* A queue's "latency" object (count, sum_ns, max_ns, [bucket, count]
 * pairs) as a snapshot; an absent one is empty. */
struct sc_hist_snap;
void sctl_hist_from_json(json_t *lat, struct sc_hist_snap *h);
/* N with an optional k/M/G (x1000, or x1024 when bytes); 0 or -1. */
int sctl_parse_value(const char *s, bool bytes, json_int_t *out);

/* ---- the control socket ---- */

struct sc_ctl_client;

/* Connects or exits 1 with a message naming the path. */
struct sc_ctl_client *sctl_connect(const char *path);
/* The result (a new reference), or NULL after printing the daemon's error. */
json_t *sctl_call(struct sc_ctl_client *c, const char *method, json_t *params);
/* One call on a fresh connection: connect (or exit 1), call, close. */
json_t *sctl_call_once(const char *path, const char *method, json_t *params);
/* A device reference as the daemon takes it: an id (all digits) as a number,
 * anything else ("vif/5/0", "5/0") as a string.  New reference. */
json_t *sctl_device_ref(const char *s);

/* ---- views: a method's answer shown as a table ---- */

struct sctl_view {
    const char *name;    /* the command */
    const char *method;  /* what it calls */
    /* The part of the answer the view is about (a new reference; NULL: the
     * answer as it is).  Its --json prints this too. */
    json_t *(*select)(json_t *result);
    /* prev: the previous snapshot in --watch (rates over dt s), else NULL */
    void (*show)(json_t *result, json_t *prev, double dt);
};

struct sctl_view_opts {
    bool json;
    double watch; /* seconds between frames; 0: once */
    long count;   /* frames to show in --watch; 0: until interrupted */
};

/* Runs `v` once or every opts->watch seconds. */
int sctl_run_view(const char *path, const struct sctl_view *v, const struct sctl_view_opts *o);

extern const struct sctl_view sctl_core_views[];  /* NULL-terminated */
extern const struct sctl_view sctl_net_views[];   /* NULL-terminated */

/* ---- commands with arguments: argv holds only the command's own ---- */

int sctl_cmd_rebalance(const char *path, int argc, char **argv);
int sctl_cmd_move_queue(const char *path, int argc, char **argv);
int sctl_cmd_set_tenant(const char *path, int argc, char **argv);
int sctl_cmd_resize_check(const char *path, int argc, char **argv);
int sctl_cmd_vif_rate(const char *path, int argc, char **argv);
int sctl_cmd_top(const char *path, int argc, char **argv);
int sctl_cmd_check_xenstore(const char *path, int argc, char **argv);
int sctl_cmd_place(const char *path, int argc, char **argv);

#endif
