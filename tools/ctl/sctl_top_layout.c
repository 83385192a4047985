/*
 * sctl_top_layout.c - what `sidecorectl top` shows: the views' columns,
 * their sort orders, the keys, and the screen as lines cut to a width
 * (sctl_top.h).  Columns are sized so that every view fits in 80 columns;
 * a narrower terminal loses the rightmost ones, never a wrapped line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sctl_top.h"

enum col {
    C_ID, C_CORE, C_CLASS, C_DOMID, C_CPU, C_QUEUES, C_WEIGHT, C_LOAD, C_IOPS, C_BPS, C_NPR,
    C_KPR, C_P50, C_P99, C_ERR, C_ROUNDS, C_WAKE, C_WINDOW, C_THR,
};

struct col_def {
    enum col col;
    const char *head;
    unsigned width;
    bool left; /* text, aligned left */
};

/* 78, 79 and 80 characters with the separating spaces */
static const struct col_def cores_cols[] = {
    { C_ID, "CORE", 5, true },    { C_CPU, "CPU", 3, false },      { C_QUEUES, "Q", 3, false },
    { C_LOAD, "BUSY%", 5, false }, { C_IOPS, "REQ/s", 6, false },   { C_BPS, "BYTES/s", 7, false },
    { C_NPR, "NTF/RQ", 6, false }, { C_KPR, "KCK/RQ", 6, false },   { C_P99, "P99us", 7, false },
    { C_ROUNDS, "ROUND/s", 7, false }, { C_WAKE, "WAKE/s", 6, false }, { C_WINDOW, "WINus", 6, false },
};
static const struct col_def guests_cols[] = {
    { C_DOMID, "DOMID", 5, false }, { C_CLASS, "CLASS", 5, true },  { C_WEIGHT, "WEIGHT", 6, false },
    { C_QUEUES, "Q", 3, false },    { C_LOAD, "LOAD%", 5, false },  { C_IOPS, "REQ/s", 6, false },
    { C_BPS, "BYTES/s", 7, false }, { C_NPR, "NTF/RQ", 6, false },  { C_KPR, "KCK/RQ", 6, false },
    { C_P99, "P99us", 7, false },   { C_THR, "THR/s", 6, false },   { C_ERR, "ERR/s", 6, false },
};
static const struct col_def queues_cols[] = {
    { C_ID, "QUEUE", 18, true },  { C_CORE, "CORE", 4, true },    { C_LOAD, "LOAD%", 5, false },
    { C_IOPS, "REQ/s", 6, false }, { C_BPS, "BYTES/s", 7, false }, { C_NPR, "NTF/RQ", 6, false },
    { C_KPR, "KCK/RQ", 6, false }, { C_P50, "P50us", 6, false },   { C_P99, "P99us", 7, false },
    { C_ERR, "ERR/s", 6, false },
};

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *name;
    const struct col_def *cols;
    unsigned ncols;
} views[SCTL_TOP__VIEWS] = {
    [SCTL_TOP_CORES] = { "cores", cores_cols, NCOLS(cores_cols) },
    [SCTL_TOP_GUESTS] = { "guests", guests_cols, NCOLS(guests_cols) },
    [SCTL_TOP_QUEUES] = { "queues", queues_cols, NCOLS(queues_cols) },
};

const char *sctl_top_view_name(enum sctl_top_view v)
{
    return (unsigned)v < SCTL_TOP__VIEWS ? views[v].name : NULL;
}

int sctl_top_view_parse(const char *name)
{
    for (unsigned v = 0; v < SCTL_TOP__VIEWS; v++)
        if (strcmp(name, views[v].name) == 0)
            return (int)v;
    return -1;
}

unsigned sctl_top_ncols(enum sctl_top_view v)
{
    return (unsigned)v < SCTL_TOP__VIEWS ? views[v].ncols : 0;
}

const char *sctl_top_col_name(enum sctl_top_view v, unsigned c)
{
    return c < sctl_top_ncols(v) ? views[v].cols[c].head : NULL;
}

/* The load column: what an admin wants first. */
static unsigned load_col(enum sctl_top_view v)
{
    for (unsigned c = 0; c < views[v].ncols; c++)
        if (views[v].cols[c].col == C_LOAD)
            return c;
    return 0;
}

void sctl_top_ui_init(struct sctl_top_ui *ui, double delay)
{
    memset(ui, 0, sizeof(*ui));
    ui->view = SCTL_TOP_CORES;
    for (unsigned v = 0; v < SCTL_TOP__VIEWS; v++)
        ui->sort[v] = load_col(v);
    ui->delay = delay;
}

/* ---- sorting ---- */

static double num_key(const struct sctl_top_row *r, enum col c)
{
    switch (c) {
    case C_DOMID: return (double)r->domid;
    case C_CPU: return (double)r->cpu;
    case C_QUEUES: return r->queues;
    case C_WEIGHT: return r->weight;
    case C_LOAD: return r->load;
    case C_IOPS: return r->iops;
    case C_BPS: return r->bps;
    case C_NPR: return r->notify_per_req;
    case C_KPR: return r->kick_per_req;
    case C_P50: return (double)r->p50_ns;
    case C_P99: return (double)r->p99_ns;
    case C_ERR: return r->errors;
    case C_ROUNDS: return r->rounds;
    case C_WAKE: return r->wakeups;
    case C_WINDOW: return (double)r->window_ns;
    case C_THR: return r->throttled;
    case C_ID: case C_CORE: case C_CLASS: break;
    }
    return 0;
}

struct sort_by {
    enum col col;
    int sign; /* -1: reversed */
};

static int cmp_rows(const void *a, const void *b, void *arg)
{
    const struct sctl_top_row *x = a, *y = b;
    const struct sort_by *by = arg;
    enum col sort_col = by->col;
    int d = 0;
    switch (sort_col) {
    case C_ID: d = strverscmp(x->id, y->id); break;
    case C_CORE: d = strverscmp(x->core, y->core); break;
    case C_CLASS: d = strcmp(x->cls, y->cls); break;
    default: {
        double kx = num_key(x, sort_col), ky = num_key(y, sort_col);
        /* what identifies goes up, what measures comes down */
        bool up = sort_col == C_DOMID || sort_col == C_CPU;
        d = kx < ky ? -1 : kx > ky ? 1 : 0;
        if (!up)
            d = -d;
    }
    }
    if (d)
        return by->sign * d;
    /* equal keys in id order, whichever way: rows do not swap between frames */
    return strverscmp(x->id, y->id);
}

void sctl_top_sort(struct sctl_top_row *rows, unsigned n, enum sctl_top_view v, unsigned col,
                   bool reverse)
{
    if ((unsigned)v >= SCTL_TOP__VIEWS || col >= views[v].ncols || n < 2)
        return;
    struct sort_by by = { views[v].cols[col].col, reverse ? -1 : 1 };
    qsort_r(rows, n, sizeof(*rows), cmp_rows, &by);
}

/* "BUSY%" matches "busy", "busy%"; "REQ/s" "req"; "P99us" "p99". */
static bool head_matches(const char *head, const char *name)
{
    size_t n = strlen(head);
    if (strcasecmp(head, name) == 0)
        return true;
    if (n > 2 && (strcmp(head + n - 2, "/s") == 0 || strcmp(head + n - 2, "us") == 0))
        n -= 2;
    else if (n > 1 && head[n - 1] == '%')
        n--;
    return strlen(name) == n && strncasecmp(head, name, n) == 0;
}

int sctl_top_sort_by_name(struct sctl_top_ui *ui, const char *name)
{
    for (unsigned c = 0; c < views[ui->view].ncols; c++)
        if (head_matches(views[ui->view].cols[c].head, name)) {
            ui->sort[ui->view] = c;
            return 0;
        }
    return -ENOENT;
}

/* ---- keys ---- */

enum sctl_top_action sctl_top_key(struct sctl_top_ui *ui, int key)
{
    unsigned n = views[ui->view].ncols;
    if (key == 'q' || key == 'Q')
        return SCTL_TOP_QUIT;
    if (ui->help) {
        ui->help = false;
        return SCTL_TOP_REDRAW;
    }
    switch (key) {
    case 'c': case 'C': ui->view = SCTL_TOP_CORES; break;
    case 'g': case 'G': ui->view = SCTL_TOP_GUESTS; break;
    case 'u': case 'U': ui->view = SCTL_TOP_QUEUES; break;
    case '\t': ui->view = (ui->view + 1) % SCTL_TOP__VIEWS; break;
    case '<': case ',': case SCTL_KEY_LEFT: ui->sort[ui->view] = (ui->sort[ui->view] + n - 1) % n; break;
    case '>': case '.': case SCTL_KEY_RIGHT: ui->sort[ui->view] = (ui->sort[ui->view] + 1) % n; break;
    case 'r': case 'R': ui->reverse[ui->view] = !ui->reverse[ui->view]; break;
    case 'l': case 'L':
        ui->sort[ui->view] = load_col(ui->view);
        ui->reverse[ui->view] = false;
        break;
    case 'h': case 'H': case '?': ui->help = true; break;
    case '\f': break; /* ^L: draw it all again */
    case '+': case '-':
        ui->delay = key == '+' ? ui->delay * 2 : ui->delay / 2;
        if (ui->delay < 0.1)
            ui->delay = 0.1;
        if (ui->delay > 3600)
            ui->delay = 3600;
        return SCTL_TOP_SAMPLE;
    case ' ': return SCTL_TOP_SAMPLE;
    default: return SCTL_TOP_NONE;
    }
    return SCTL_TOP_REDRAW;
}

/* ---- cells ---- */

/* v with a k/M/G suffix (1024s for bytes), as precise as `width` allows. */
static void fmt_num(char *b, size_t len, double v, bool bytes, unsigned width)
{
    static const char units[] = " kMGTP";
    double base = bytes ? 1024.0 : 1000.0;
    unsigned u = 0;
    while (v >= base && u + 1 < sizeof(units) - 1) {
        v /= base;
        u++;
    }
    char unit[2] = { u ? (bytes ? (char)toupper(units[u]) : units[u]) : '\0', '\0' };
    if (u == 0 && v == (double)(long long)v) {
        snprintf(b, len, "%.0f", v);
        return;
    }
    snprintf(b, len, "%.1f%s", v, unit);
    if (strlen(b) > width || (u == 0 && v >= 100))
        snprintf(b, len, "%.0f%s", v, unit);
}

/* microseconds from nanoseconds; ms and s when too wide */
static void fmt_us(char *b, size_t len, uint64_t ns, unsigned width)
{
    if (!ns) {
        snprintf(b, len, "-");
        return;
    }
    double us = (double)ns / 1000.0;
    snprintf(b, len, us < 10 ? "%.1f" : "%.0f", us);
    if (strlen(b) > width)
        snprintf(b, len, "%.0fms", us / 1000.0);
    if (strlen(b) > width)
        snprintf(b, len, "%.0fs", us / 1e6);
}

static void fmt_per_req(char *b, size_t len, double v)
{
    if (v < 0)
        snprintf(b, len, "-");
    else
        snprintf(b, len, v < 10 ? "%.3f" : "%.1f", v);
}

static void cell(char *b, size_t len, const struct sctl_top_row *r, const struct col_def *c)
{
    switch (c->col) {
    case C_ID: snprintf(b, len, "%s", r->id); break;
    case C_CORE: snprintf(b, len, "%s", r->core[0] ? r->core : "-"); break;
    case C_CLASS: snprintf(b, len, "%s", r->cls); break;
    case C_DOMID: snprintf(b, len, "%lld", r->domid); break;
    case C_CPU:
        if (r->cpu < 0)
            snprintf(b, len, "-");
        else
            snprintf(b, len, "%lld", r->cpu);
        break;
    case C_QUEUES: snprintf(b, len, "%u", r->queues); break;
    case C_WEIGHT: snprintf(b, len, "%u", r->weight); break;
    case C_LOAD: snprintf(b, len, "%.1f", r->load); break;
    case C_IOPS: fmt_num(b, len, r->iops, false, c->width); break;
    case C_BPS: fmt_num(b, len, r->bps, true, c->width); break;
    case C_NPR: fmt_per_req(b, len, r->notify_per_req); break;
    case C_KPR: fmt_per_req(b, len, r->kick_per_req); break;
    case C_P50: fmt_us(b, len, r->p50_ns, c->width); break;
    case C_P99: fmt_us(b, len, r->p99_ns, c->width); break;
    case C_ERR: fmt_num(b, len, r->errors, false, c->width); break;
    case C_ROUNDS: fmt_num(b, len, r->rounds, false, c->width); break;
    case C_WAKE: fmt_num(b, len, r->wakeups, false, c->width); break;
    case C_WINDOW: snprintf(b, len, "%llu", (unsigned long long)(r->window_ns / 1000)); break;
    case C_THR: fmt_num(b, len, r->throttled, false, c->width); break;
    }
}

/* ---- lines ---- */

struct line {
    char s[SCTL_TOP_MAX_WIDTH + 1];
    size_t len, width;
};

static void line_start(struct line *l, unsigned width)
{
    l->len = 0;
    l->s[0] = '\0';
    l->width = width < SCTL_TOP_MAX_WIDTH ? width : SCTL_TOP_MAX_WIDTH;
}

/* Appends what fits; anything but printable ASCII (names come from the
 * daemon, and so from guests' xenstore) shows as '?'. */
static void line_add(struct line *l, const char *s, size_t n)
{
    for (size_t i = 0; i < n && s[i] && l->len < l->width; i++)
        l->s[l->len++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    l->s[l->len] = '\0';
}

static void line_addf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line_addf(struct line *l, const char *fmt, ...)
{
    char b[SCTL_TOP_MAX_WIDTH + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof(b), fmt, ap);
    va_end(ap);
    line_add(l, b, strlen(b));
}

/* A cell padded or cut to its column's width, then the separator. */
static void line_cell(struct line *l, const char *s, const struct col_def *c, bool last)
{
    char b[64];
    snprintf(b, sizeof(b), c->left ? "%-*.*s" : "%*.*s", (int)c->width, (int)c->width, s);
    /* the last column's padding would only trail */
    line_add(l, b, last && c->left ? strlen(s) : strlen(b));
    if (!last)
        line_add(l, " ", 1);
}

struct out {
    sctl_top_emit_fn *emit;
    void *arg;
    unsigned n;
};

static void put(struct out *o, struct line *l, bool heading)
{
    o->emit(o->arg, o->n++, l->s, heading);
}

static void put_text(struct out *o, unsigned width, const char *text)
{
    struct line l;
    line_start(&l, width);
    line_add(&l, text, strlen(text));
    put(o, &l, false);
}

static void render_help(struct out *o, const struct sctl_top_ui *ui, unsigned width,
                        unsigned height)
{
    char delay[96];
    snprintf(delay, sizeof(delay), "  + -       sample half as often, twice as often (now every %gs)",
             ui->delay);
    const char *text[] = {
        "sidecorectl top: keys (any key closes this help; q quits)",
        "",
        "  c         sidecores: busy %, requests, notifications, latency",
        "  g         guests, per device class (vbd, vif)",
        "  u         queues",
        "  Tab       the next view",
        "  < >       sort by the column to the left / right (also , . and arrows)",
        "  r         reverse the order       l  sort by load again",
        delay,
        "  space     sample now              ^L draw again",
        "  h ?       this help               q  quit",
        "",
        "BUSY%  a sidecore's time working (not polling empty rings or asleep)",
        "LOAD%  a guest's or queue's share of one sidecore's time",
        "NTF/RQ notifications sent to the guest per request (0 while polled)",
        "KCK/RQ kicks (event-channel notifications) from the guest per request",
        "P50us P99us  latency over the interval, from the queues' histograms",
        "THR/s  requests held back by a limit, per second",
        "Rates are over the last interval; sidecorectl top -b for plain text.",
    };
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]) && (!height || o->n < height); i++)
        put_text(o, width, text[i]);
}

unsigned sctl_top_render(struct sctl_top_model *m, const struct sctl_top_ui *ui,
                         const char *title, unsigned width, unsigned height,
                         sctl_top_emit_fn *emit, void *arg)
{
    struct out o = { emit, arg, 0 };
    enum sctl_top_view v = ui->view;
    const struct col_def *cols = views[v].cols;
    unsigned ncols = views[v].ncols, sc = ui->sort[v] < ncols ? ui->sort[v] : 0;
    struct line l;

    put_text(&o, width, title);
    if (height && o.n >= height)
        return o.n;
    if (ui->help) {
        render_help(&o, ui, width, height);
        return o.n;
    }
    /* the help line: where one is and what the keys do */
    line_start(&l, width);
    line_addf(&l, "view %s (c g u Tab)  sort %s%s (< > r)  h help  q quit", views[v].name,
              cols[sc].head, ui->reverse[v] ? " reversed" : "");
    put(&o, &l, false);
    if (height && o.n >= height)
        return o.n;
    line_start(&l, width);
    if (m) {
        char iops[16], bps[16], npr[16], kpr[16], p99[16];
        fmt_num(iops, sizeof(iops), m->total.iops, false, 6);
        fmt_num(bps, sizeof(bps), m->total.bps, true, 7);
        fmt_per_req(npr, sizeof(npr), m->total.notify_per_req);
        fmt_per_req(kpr, sizeof(kpr), m->total.kick_per_req);
        fmt_us(p99, sizeof(p99), m->total.p99_ns, 7);
        line_addf(&l, "total: %s req/s  %s B/s  ntf/rq %s  kck/rq %s  p99 %s%s", iops, bps, npr,
                  kpr, p99, m->total.p99_ns ? "us" : "");
    } else {
        line_addf(&l, "the first rates come after one interval (%gs)", ui->delay);
    }
    put(&o, &l, false);
    if (!m || (height && o.n >= height))
        return o.n;
    line_start(&l, width);
    put(&o, &l, false);
    if (height && o.n >= height)
        return o.n;

    line_start(&l, width);
    for (unsigned c = 0; c < ncols; c++)
        line_cell(&l, cols[c].head, &cols[c], c + 1 == ncols);
    put(&o, &l, true);

    unsigned n = m->nrows[v];
    struct sctl_top_row *rows = m->rows[v];
    sctl_top_sort(rows, n, v, sc, ui->reverse[v]);
    for (unsigned r = 0; r < n; r++) {
        if (height && o.n >= height)
            break;
        line_start(&l, width);
        if (height && o.n + 1 == height && r + 1 < n) {
            /* the last line says what did not fit rather than hiding it */
            line_addf(&l, "... %u more", n - r);
        } else {
            for (unsigned c = 0; c < ncols; c++) {
                char b[64];
                cell(b, sizeof(b), &rows[r], &cols[c]);
                line_cell(&l, b, &cols[c], c + 1 == ncols);
            }
        }
        put(&o, &l, false);
    }
    return o.n;
}
