/*
 * sctl_table.c - sidecorectl's aligned tables, number formatting and
 * readers of the daemon's JSON (sctl.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sctl.h"
#include "stats.h"

/* ---- tables ---- */

void sctl_table_init(struct sctl_table *t, const char *spec)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->spec, sizeof(t->spec), "%s", spec);
    for (char *save = NULL, *tok = strtok_r(t->spec, " ", &save); tok && t->ncols < SCTL_MAX_COLS;
         tok = strtok_r(NULL, " ", &save)) {
        size_t len = strlen(tok);
        t->left[t->ncols] = tok[len - 1] == '<';
        if (t->left[t->ncols])
            tok[len - 1] = '\0';
        t->head[t->ncols++] = tok;
    }
}

void sctl_table_row(struct sctl_table *t, ...)
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
        char *copy = strdup(s ? s : "-");
        if (!copy) {
            perror("sidecorectl");
            exit(1);
        }
        t->cells[(size_t)t->nrows * t->ncols + c] = copy;
    }
    va_end(ap);
    t->nrows++;
}

void sctl_table_print(struct sctl_table *t)
{
    size_t width[SCTL_MAX_COLS];
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
#define FMT_LEN 32
static char fmt_bufs[NFMT][FMT_LEN];
static unsigned fmt_next;

static char *fmt_buf(void)
{
    return fmt_bufs[fmt_next++ % NFMT];
}

const char *sctl_fmt_u(uint64_t v)
{
    char *b = fmt_buf();
    snprintf(b, FMT_LEN, "%llu", (unsigned long long)v);
    return b;
}

const char *sctl_fmt_h(double v, bool bytes)
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
        snprintf(b, FMT_LEN, bytes ? "%.0fB" : "%.0f", v);
    else
        snprintf(b, FMT_LEN, bytes ? "%.1f%ciB" : "%.1f%c", v, units[u]);
    return b;
}

const char *sctl_fmt_f(double v, int prec)
{
    char *b = fmt_buf();
    snprintf(b, FMT_LEN, "%.*f", prec, v);
    return b;
}

const char *sctl_fmt_setting(uint64_t v, bool bytes)
{
    return v ? sctl_fmt_h((double)v, bytes) : "-";
}

const char *sctl_fmt_us(uint64_t ns)
{
    return ns ? sctl_fmt_f((double)ns / 1000.0, ns < 10000 ? 1 : 0) : "-";
}

/* ---- JSON ---- */

uint64_t sctl_jint(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v < 0 ? 0 : (uint64_t)v;
}

const char *sctl_jstr(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

json_t *sctl_find_same(json_t *arr, json_t *like, const char *key)
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

double sctl_rate(json_t *cur, json_t *prev, const char *key, double dt)
{
    if (!prev || dt <= 0)
        return 0;
    uint64_t a = sctl_jint(cur, key), b = sctl_jint(prev, key);
    return a >= b ? (double)(a - b) / dt : 0;
}

void sctl_hist_from_json(json_t *lat, struct sc_hist_snap *h)
{
    memset(h, 0, sizeof(*h));
    if (!lat)
        return;
    h->count = sctl_jint(lat, "count");
    h->sum_ns = sctl_jint(lat, "sum_ns");
    h->max_ns = sctl_jint(lat, "max_ns");
    json_t *b;
    size_t i;
    json_array_foreach(json_object_get(lat, "buckets"), i, b) {
        json_int_t idx = json_integer_value(json_array_get(b, 0));
        if (idx >= 0 && idx < (json_int_t)SC_HIST_BUCKETS)
            h->bucket[idx] = (uint64_t)json_integer_value(json_array_get(b, 1));
    }
}

int sctl_parse_value(const char *s, bool bytes, json_int_t *out)
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
