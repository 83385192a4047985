/*
 * sctl_schema.c - a xenstore-schema/<class>.json in memory (sctl_schema.h).
 */
#include "sctl_schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const formats[] = { "uint", "bool", "string", "path", "enum", "mac", "rate",
                                       NULL };

static bool in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

const char *sctl_schema_str(json_t *entry, const char *field)
{
    return json_string_value(json_object_get(entry, field));
}

int sctl_schema_load(struct sctl_schema *s, const char *file, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    json_error_t jerr;
    s->json = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (!s->json) {
        snprintf(err, errlen, "%s:%d: %s", file, jerr.line, jerr.text);
        return jerr.line <= 0 && strstr(jerr.text, "unable to open") ? -ENOENT : -EINVAL;
    }
    s->keys = json_object_get(s->json, "keys");
    s->device = sctl_schema_str(s->json, "device");
    if (!json_is_array(s->keys) || !s->device || !json_is_array(json_object_get(s->json, "types")) ||
        !json_is_object(json_object_get(s->json, "dirs"))) {
        snprintf(err, errlen, "%s: not a xenstore schema (device, types, dirs, keys)", file);
        sctl_schema_free(s);
        return -EINVAL;
    }
    return 0;
}

void sctl_schema_free(struct sctl_schema *s)
{
    json_decref(s->json);
    memset(s, 0, sizeof(*s));
}

/* ---- an entry's own consistency ---- */

static int problem(char *msg, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int problem(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Every name in `names` (a JSON array) is a role of the schema. */
static bool roles_ok(const struct sctl_schema *s, json_t *names, bool nonempty)
{
    json_t *roles = json_object_get(s->json, "roles");
    if (!json_is_array(names) || (nonempty && json_array_size(names) == 0))
        return false;
    size_t i;
    json_t *r;
    json_array_foreach(names, i, r) {
        if (!json_is_string(r) || !json_object_get(roles, json_string_value(r)))
            return false;
    }
    return true;
}

int sctl_schema_entry_check(const struct sctl_schema *s, json_t *k, char *msg, size_t len)
{
    const char *dir = sctl_schema_str(k, "dir"), *path = sctl_schema_str(k, "path");
    if (!dir || !path)
        return problem(msg, len, "an entry without dir or path");
    if (!json_object_get(json_object_get(s->json, "dirs"), dir))
        return problem(msg, len, "%s/%s: no such dir in \"dirs\"", dir, path);
    if (!*path || path[0] == '/' || path[strlen(path) - 1] == '/')
        return problem(msg, len, "\"%s\": a path is relative to its dir, without a trailing /",
                       path);
    if (!roles_ok(s, json_object_get(k, "writer"), true))
        return problem(msg, len, "%s/%s: writer is not a list of roles", dir, path);
    if (!roles_ok(s, json_object_get(k, "reader"), false))
        return problem(msg, len, "%s/%s: reader is not a list of roles", dir, path);

    json_t *req = json_object_get(k, "required");
    if (!json_is_boolean(req))
        return problem(msg, len, "%s/%s: required is not true or false", dir, path);
    json_t *def = json_object_get(k, "default");
    if (def && (!json_is_string(def) || json_is_true(req)))
        return problem(msg, len, "%s/%s: a default is a string, for optional keys only", dir,
                       path);
    json_t *from = json_object_get(k, "required_from");
    if (from && (!json_is_true(req) || !json_is_integer(from) || json_integer_value(from) < 1 ||
                 json_integer_value(from) > 8))
        return problem(msg, len, "%s/%s: required_from is a XenbusState (1..8), on required keys "
                       "only", dir, path);

    const char *format = sctl_schema_str(k, "format");
    if (!format || !in_list(formats, format))
        return problem(msg, len, "%s/%s: unknown format \"%s\"", dir, path,
                       format ? format : "(none)");
    json_t *values = json_object_get(k, "values");
    if (!strcmp(format, "enum") && (!json_is_array(values) || json_array_size(values) == 0))
        return problem(msg, len, "%s/%s: an enum lists its values", dir, path);
    if (values && !json_is_array(values))
        return problem(msg, len, "%s/%s: values is not a list", dir, path);
    json_t *range = json_object_get(k, "range");
    if (range) {
        json_t *lo = json_array_get(range, 0), *hi = json_array_get(range, 1);
        if (json_array_size(range) != 2 || !json_is_integer(lo))
            return problem(msg, len, "%s/%s: a range is [low, high]", dir, path);
        if (json_is_integer(hi) && json_integer_value(hi) < json_integer_value(lo))
            return problem(msg, len, "%s/%s: range's high is below its low", dir, path);
        /* a bound may name another key of the schema */
        if (!json_is_integer(hi) && !json_is_string(hi))
            return problem(msg, len, "%s/%s: a range's high is a number or a key", dir, path);
    }
    const char *meaning = sctl_schema_str(k, "meaning");
    if (!meaning || strlen(meaning) <= 10)
        return problem(msg, len, "%s/%s: no meaning", dir, path);
    json_t *when = json_object_get(k, "when");
    if (when && !json_is_string(when))
        return problem(msg, len, "%s/%s: when is not a string", dir, path);
    return 0;
}

int sctl_schema_check_all(const struct sctl_schema *s, char *msg, size_t len)
{
    size_t i, j;
    json_t *k, *o;
    json_array_foreach(s->keys, i, k) {
        int rc = sctl_schema_entry_check(s, k, msg, len);
        if (rc < 0)
            return rc;
        json_array_foreach(s->keys, j, o) {
            if (j > i && !strcmp(sctl_schema_str(k, "dir"), sctl_schema_str(o, "dir")) &&
                !strcmp(sctl_schema_str(k, "path"), sctl_schema_str(o, "path")))
                return problem(msg, len, "%s/%s described twice", sctl_schema_str(k, "dir"),
                               sctl_schema_str(k, "path"));
        }
    }
    return 0;
}

/* ---- matching live paths ---- */

/* How much of `rel` the schema path `pat` matches: the length matched when
 * pat is used up, -1 on a mismatch.  "%u" takes one or more digits. */
static long match_prefix(const char *pat, const char *rel)
{
    const char *r = rel;
    while (*pat) {
        if (pat[0] == '%' && pat[1] == 'u') {
            if (*r < '0' || *r > '9')
                return -1;
            while (*r >= '0' && *r <= '9')
                r++;
            pat += 2;
        } else if (*pat++ != *r++) {
            return -1;
        }
    }
    return r - rel;
}

json_t *sctl_schema_find(const struct sctl_schema *s, const char *dir, const char *rel)
{
    size_t i;
    json_t *k;
    json_array_foreach(s->keys, i, k) {
        const char *d = sctl_schema_str(k, "dir"), *p = sctl_schema_str(k, "path");
        if (!d || !p || strcmp(d, dir) != 0)
            continue;
        long n = match_prefix(p, rel);
        if (n >= 0 && rel[n] == '\0')
            return k;
    }
    return NULL;
}

bool sctl_schema_is_parent(const struct sctl_schema *s, const char *dir, const char *rel)
{
    size_t i, rl = strlen(rel);
    json_t *k;
    json_array_foreach(s->keys, i, k) {
        const char *d = sctl_schema_str(k, "dir"), *p = sctl_schema_str(k, "path");
        if (!d || !p || strcmp(d, dir) != 0)
            continue;
        /* rel + "/" must match a prefix of the pattern ending at a '/' */
        char want[512];
        if (rl + 2 > sizeof(want))
            continue;
        memcpy(want, rel, rl);
        want[rl] = '/';
        want[rl + 1] = '\0';
        for (const char *slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
            char head[512];
            size_t hl = (size_t)(slash - p) + 1;
            if (hl >= sizeof(head))
                break;
            memcpy(head, p, hl);
            head[hl] = '\0';
            long n = match_prefix(head, want);
            if (n >= 0 && want[n] == '\0')
                return true;
        }
    }
    return false;
}

bool sctl_schema_described(const struct sctl_schema *s, const char *key)
{
    size_t i, kl = strlen(key);
    json_t *k;
    json_array_foreach(s->keys, i, k) {
        const char *p = sctl_schema_str(k, "path");
        if (!p)
            continue;
        size_t pl = strlen(p);
        if (!strcmp(p, key))
            return true;
        if (pl > kl && p[pl - kl - 1] == '/' && !strcmp(p + pl - kl, key))
            return true;
        if (pl > kl && !strncmp(p, key, kl) && p[kl] == '/')
            return true;
    }
    return false;
}

/* ---- values ---- */

/* A decimal number without sign or blanks, as xenbus keys are written. */
static bool parse_dec(const char *v, unsigned long long *out)
{
    if (*v < '0' || *v > '9')
        return false;
    unsigned long long n = 0;
    for (; *v; v++) {
        if (*v < '0' || *v > '9' || n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (unsigned)(*v - '0');
    }
    *out = n;
    return true;
}

static bool is_mac(const char *v)
{
    static const char hex[] = "0123456789abcdefABCDEF";
    if (strlen(v) != 17)
        return false;
    for (int i = 0; i < 17; i++) {
        bool sep = i % 3 == 2;
        if (sep ? v[i] != ':' : !strchr(hex, v[i]) || !v[i])
            return false;
    }
    return true;
}

static bool is_rate(const char *v)
{
    const char *comma = strchr(v, ',');
    char a[32];
    unsigned long long x;
    if (!comma || (size_t)(comma - v) >= sizeof(a))
        return false;
    memcpy(a, v, (size_t)(comma - v));
    a[comma - v] = '\0';
    return parse_dec(a, &x) && parse_dec(comma + 1, &x);
}

/* "one of a, b, c" from an entry's values. */
static void list_values(json_t *values, char *out, size_t len)
{
    size_t i, used = (size_t)snprintf(out, len, "one of ");
    json_t *v;
    json_array_foreach(values, i, v) {
        if (used >= len)
            return;
        if (json_is_string(v))
            used += (size_t)snprintf(out + used, len - used, "%s\"%s\"", i ? ", " : "",
                                     json_string_value(v));
        else
            used += (size_t)snprintf(out + used, len - used, "%s%lld", i ? ", " : "",
                                     (long long)json_integer_value(v));
    }
}

static bool in_values(json_t *values, const char *v, unsigned long long n, bool numeric)
{
    size_t i;
    json_t *x;
    json_array_foreach(values, i, x) {
        if (json_is_string(x) && !strcmp(json_string_value(x), v))
            return true;
        if (numeric && json_is_integer(x) && (unsigned long long)json_integer_value(x) == n)
            return true;
    }
    return false;
}

int sctl_schema_value_check(json_t *k, const char *value, const char *high,
                            char *expected, size_t len)
{
    const char *format = sctl_schema_str(k, "format");
    json_t *values = json_object_get(k, "values");
    unsigned long long n = 0;
    if (!format)
        format = "string";
    if (!strcmp(format, "enum")) {
        if (in_values(values, value, 0, false))
            return 0;
        list_values(values, expected, len);
        return -EINVAL;
    }
    if (!strcmp(format, "uint") || !strcmp(format, "bool")) {
        bool is_bool = !strcmp(format, "bool");
        if (!parse_dec(value, &n) || (is_bool && n > 1)) {
            snprintf(expected, len, "%s", is_bool ? "0 or 1" : "an unsigned decimal number");
            return -EINVAL;
        }
        if (values && !in_values(values, value, n, true)) {
            list_values(values, expected, len);
            return -EINVAL;
        }
        json_t *range = json_object_get(k, "range");
        if (!range)
            return 0;
        json_t *lo = json_array_get(range, 0), *hi = json_array_get(range, 1);
        unsigned long long l = (unsigned long long)json_integer_value(lo), h = UINT64_MAX;
        char hname[160];
        if (json_is_integer(hi)) {
            h = (unsigned long long)json_integer_value(hi);
            snprintf(hname, sizeof(hname), "%llu", h);
        } else {
            snprintf(hname, sizeof(hname), "%s", json_string_value(hi));
            unsigned long long hv;
            if (high && parse_dec(high, &hv)) {
                h = hv;
                snprintf(hname, sizeof(hname), "%s (%llu)", json_string_value(hi), hv);
            }
        }
        if (n < l || n > h) {
            snprintf(expected, len, "a number in [%llu, %s]", l, hname);
            return -EINVAL;
        }
        return 0;
    }
    if (!strcmp(format, "path") && value[0] != '/') {
        snprintf(expected, len, "an absolute path");
        return -EINVAL;
    }
    if (!strcmp(format, "mac") && !is_mac(value)) {
        snprintf(expected, len, "a MAC address xx:xx:xx:xx:xx:xx (hex)");
        return -EINVAL;
    }
    if (!strcmp(format, "rate") && !is_rate(value)) {
        snprintf(expected, len, "<bytes>,<usecs> (decimal)");
        return -EINVAL;
    }
    if (!strcmp(format, "string") && values && !in_values(values, value, 0, false)) {
        list_values(values, expected, len);
        return -EINVAL;
    }
    return 0;
}

bool sctl_schema_required_in(json_t *k, unsigned state)
{
    if (!json_is_true(json_object_get(k, "required")))
        return false;
    json_t *from = json_object_get(k, "required_from");
    unsigned f = json_is_integer(from) ? (unsigned)json_integer_value(from) : 1;
    if (state == 5 || state == 6)
        return f <= 2;
    return state >= f;
}

const char *sctl_schema_state_name(unsigned state)
{
    static const char *const names[] = { "Unknown",   "Initialising", "InitWait",
                                         "Initialised", "Connected",  "Closing",
                                         "Closed",    "Reconfiguring", "Reconfigured" };
    return state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}
