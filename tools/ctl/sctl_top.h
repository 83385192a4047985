/*
 * sctl_top.h - the pure parts of `sidecorectl top`: no terminal, no socket,
 * no clock, so a unit test covers them (tests/unit/ctl/sctl_top_test.c).
 *
 *   sctl_top_rows.c    two samples of the daemon (the answers of `cores`,
 *                      `queues` and `guests`) -> rows per view: rates over
 *                      the interval, busy %, p99 from the latency
 *                      histograms' difference, notifies and kicks per request
 *   sctl_top_layout.c  the views' columns, sorting, the keys, and the screen
 *                      as lines cut to a width (never wrapped)
 *
 * Counters only grow (backend/stats.h): a rate is the difference of two
 * samples.  A queue absent from the earlier sample, or whose counters went
 * back (its device reconnected under the same name), began after it, so its
 * whole count belongs to the interval.  Cores and guests are summed from
 * their queues' differences, so a queue that left takes its interval with it
 * rather than making a total go back.  Single-threaded; returns as stated.
 */
#ifndef SCTL_TOP_H
#define SCTL_TOP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

enum sctl_top_view {
    SCTL_TOP_CORES,  /* per sidecore */
    SCTL_TOP_GUESTS, /* per guest and class (vbd, vif) it has a device of */
    SCTL_TOP_QUEUES, /* per queue */
    SCTL_TOP__VIEWS
};

/* "cores", "guests", "queues"; NULL for an unknown view. */
const char *sctl_top_view_name(enum sctl_top_view v);
/* The view named `name`, or -1. */
int sctl_top_view_parse(const char *name);

/* One sample: the daemon's answers (references owned by the sample), taken
 * at t seconds (any monotonic origin). */
struct sctl_top_sample {
    json_t *cores, *queues, *guests;
    double t;
};

void sctl_top_sample_clear(struct sctl_top_sample *s);

/* One row of a view over the interval; the fields a view has no use for
 * stay 0.  Rates are per second. */
struct sctl_top_row {
    char id[48];        /* what the row is: "sc0", "5 vbd", "vbd 5/51712 q0" */
    char core[16];      /* queues: the sidecore serving it now */
    char cls[8];        /* guests, queues: "vbd" or "vif" */
    long long domid;    /* guests, queues; cores: -1 */
    long long cpu;      /* cores: its CPU, -1 if not pinned */
    unsigned queues;    /* cores, guests: how many queues */
    unsigned weight;    /* guests */
    double load;        /* %: a core's busy time, a guest's or queue's share of one core */
    double iops, bps, kicks, notifies, errors;
    double kick_per_req;   /* kicks / requests in the interval; < 0 without requests */
    double notify_per_req; /* notifies / requests in the interval; < 0 without requests */
    uint64_t p50_ns, p99_ns; /* from the interval's latencies; 0 without any */
    double rounds, wakeups, sleeps, throttled;
    uint64_t window_ns; /* cores: the polling window now */
};

struct sctl_top_model {
    struct sctl_top_row *rows[SCTL_TOP__VIEWS]; /* malloc'd */
    unsigned nrows[SCTL_TOP__VIEWS];
    struct sctl_top_row total; /* every queue's traffic together (id "total") */
    double dt;                 /* the interval, seconds */
};

/* The model of the interval prev -> cur (cur->t > prev->t).  Replaces
 * whatever *m held.  0, -EINVAL for samples that are not the daemon's
 * arrays or an interval <= 0, -ENOMEM. */
int sctl_top_model_build(struct sctl_top_model *m, const struct sctl_top_sample *prev,
                         const struct sctl_top_sample *cur);
void sctl_top_model_free(struct sctl_top_model *m);

/* The latency histogram of a queue's JSON ("latency"), minus that of its
 * earlier sample (NULL: none, or a reset), merged into *acc (a sum). */
struct sc_hist_snap;
void sctl_top_hist_add_diff(struct sc_hist_snap *acc, json_t *lat, json_t *prev_lat);

/* ---- layout: columns, sort, keys, the screen ---- */

#define SCTL_TOP_MAX_WIDTH 512 /* wider terminals are drawn this wide */

/* What the person looking has chosen.  sctl_top_ui_init gives the default:
 * the cores view, every view sorted by load, busiest first. */
struct sctl_top_ui {
    enum sctl_top_view view;
    unsigned sort[SCTL_TOP__VIEWS]; /* a column of that view */
    bool reverse[SCTL_TOP__VIEWS];  /* against the column's natural order */
    bool help;                      /* the help screen instead of the table */
    double delay;                   /* seconds between samples */
};

void sctl_top_ui_init(struct sctl_top_ui *ui, double delay);
/* The number of columns of view v, and column c's heading ("BUSY%"). */
unsigned sctl_top_ncols(enum sctl_top_view v);
const char *sctl_top_col_name(enum sctl_top_view v, unsigned c);
/* Sorts view v by the column `col` of it: numbers largest first, names and
 * numbers that identify (DOMID, CPU) smallest first, ties by the row's id;
 * `reverse` turns it round.  Stable across frames: equal keys keep id order. */
void sctl_top_sort(struct sctl_top_row *rows, unsigned n, enum sctl_top_view v, unsigned col,
                   bool reverse);
/* Sets view ui->view's sort column by heading (case-insensitive, "%" and
 * "/s" optional: "busy", "req/s", "P99us"); 0 or -ENOENT. */
int sctl_top_sort_by_name(struct sctl_top_ui *ui, const char *name);

enum sctl_top_action {
    SCTL_TOP_NONE,    /* a key that means nothing */
    SCTL_TOP_REDRAW,  /* the choice changed: draw the last model again */
    SCTL_TOP_SAMPLE,  /* sample now (the delay changed, or space) */
    SCTL_TOP_QUIT,
};

/* Keys as sctl_term_key reads them: a byte, or one of these. */
#define SCTL_KEY_LEFT  0x101
#define SCTL_KEY_RIGHT 0x102

/* Applies one key to *ui (the help line lists them).  While the help screen
 * is shown, any key but q closes it. */
enum sctl_top_action sctl_top_key(struct sctl_top_ui *ui, int key);

/* Emits the screen, a line at a time, each at most `width` characters of
 * printable ASCII and no escape: line 0 the title, then a summary line, the
 * keys line, a blank, the column heading (heading = true) and the rows, as
 * many as fit in `height` lines (0: every row).  `title` is what the caller
 * knows of the daemon.  m NULL: no interval yet (only the first lines).
 * Sorts m's rows of the shown view.  Returns the number of lines emitted. */
typedef void sctl_top_emit_fn(void *arg, unsigned line, const char *text, bool heading);
unsigned sctl_top_render(struct sctl_top_model *m, const struct sctl_top_ui *ui,
                         const char *title, unsigned width, unsigned height,
                         sctl_top_emit_fn *emit, void *arg);

#endif
