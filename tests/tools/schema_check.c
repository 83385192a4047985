/*
 * schema_check.c - keeps a xenstore-schema/<class>.json true (schema_check.h).
 */
#include "schema_check.h"

#include <glob.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char *const formats[] = { "uint", "bool", "string", "path", "enum", "mac", "rate",
                                       NULL };

static bool exists(const char *dir, const char *rel)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "r");
    if (f)
        fclose(f);
    return f != NULL;
}

int schema_check_load(struct schema_check *c)
{
    if (exists(".", c->schema)) {
        snprintf(c->root, sizeof(c->root), ".");
    } else {
        const char *b = getenv("SC_BUILD");
        if (!b)
            return -1;
        snprintf(c->root, sizeof(c->root), "%s/..", b);
        if (!exists(c->root, c->schema))
            return -1;
    }
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", c->root, c->schema);
    json_error_t err;
    c->json = json_load_file(p, JSON_REJECT_DUPLICATES, &err);
    if (!c->json)
        fprintf(stderr, "# %s:%d: %s\n", p, err.line, err.text);
    return c->json ? 0 : -1;
}

void schema_check_unload(struct schema_check *c)
{
    json_decref(c->json);
    c->json = NULL;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    assert_int_equal(fseek(f, 0, SEEK_SET), 0);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool in_list(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* ---- the schema itself ---- */

static const char *str_of(json_t *entry, const char *field)
{
    return json_string_value(json_object_get(entry, field));
}

/* Every name in `names` (a JSON array) is a role of the schema. */
static void assert_roles(const struct schema_check *c, json_t *names, const char *dir,
                         const char *path, const char *what, bool nonempty)
{
    json_t *roles = json_object_get(c->json, "roles");
    if (!json_is_array(names) || (nonempty && json_array_size(names) == 0))
        fail_msg("%s/%s: %s is not a list of roles", dir, path, what);
    size_t i;
    json_t *r;
    json_array_foreach(names, i, r) {
        if (!json_is_string(r) || !json_object_get(roles, json_string_value(r)))
            fail_msg("%s/%s: %s names an unknown role", dir, path, what);
    }
}

static void check_entry(const struct schema_check *c, json_t *k)
{
    const char *dir = str_of(k, "dir"), *path = str_of(k, "path");
    assert_non_null(dir);
    assert_non_null(path);
    if (!json_object_get(json_object_get(c->json, "dirs"), dir))
        fail_msg("%s/%s: no such dir in \"dirs\"", dir, path);
    if (!*path || path[0] == '/' || path[strlen(path) - 1] == '/')
        fail_msg("\"%s\": a path is relative to its dir, without a trailing /", path);
    assert_roles(c, json_object_get(k, "writer"), dir, path, "writer", true);
    assert_roles(c, json_object_get(k, "reader"), dir, path, "reader", false);

    json_t *req = json_object_get(k, "required");
    if (!json_is_boolean(req))
        fail_msg("%s/%s: required is not true or false", dir, path);
    json_t *def = json_object_get(k, "default");
    if (def && (!json_is_string(def) || json_is_true(req)))
        fail_msg("%s/%s: a default is a string, for optional keys only", dir, path);

    const char *format = str_of(k, "format");
    if (!format || !in_list(formats, format))
        fail_msg("%s/%s: unknown format \"%s\"", dir, path, format ? format : "(none)");
    json_t *values = json_object_get(k, "values");
    if (!strcmp(format, "enum") && (!json_is_array(values) || json_array_size(values) == 0))
        fail_msg("%s/%s: an enum lists its values", dir, path);
    if (values && !json_is_array(values))
        fail_msg("%s/%s: values is not a list", dir, path);
    json_t *range = json_object_get(k, "range");
    if (range) {
        json_t *lo = json_array_get(range, 0), *hi = json_array_get(range, 1);
        if (json_array_size(range) != 2 || !json_is_integer(lo))
            fail_msg("%s/%s: a range is [low, high]", dir, path);
        if (json_is_integer(hi) && json_integer_value(hi) < json_integer_value(lo))
            fail_msg("%s/%s: range's high is below its low", dir, path);
        /* a bound may name another key of the schema */
        if (!json_is_integer(hi) && !json_is_string(hi))
            fail_msg("%s/%s: a range's high is a number or a key", dir, path);
    }
    const char *meaning = str_of(k, "meaning");
    if (!meaning || strlen(meaning) <= 10)
        fail_msg("%s/%s: no meaning", dir, path);
    json_t *when = json_object_get(k, "when");
    if (when && !json_is_string(when))
        fail_msg("%s/%s: when is not a string", dir, path);
}

void schema_check_entries(const struct schema_check *c)
{
    json_t *keys = json_object_get(c->json, "keys");
    assert_true(json_is_array(keys));
    assert_true(json_array_size(keys) >= c->min_entries);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        check_entry(c, k);
        size_t j;
        json_t *o;
        json_array_foreach(keys, j, o) {
            if (j > i && !strcmp(str_of(k, "dir"), str_of(o, "dir")) &&
                !strcmp(str_of(k, "path"), str_of(o, "path")))
                fail_msg("%s/%s described twice", str_of(k, "dir"), str_of(k, "path"));
        }
    }
}

static bool has_entry(const struct schema_check *c, const char *dir, const char *path)
{
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(c->json, "keys"), i, k) {
        if (!strcmp(str_of(k, "dir"), dir) && !strcmp(str_of(k, "path"), path))
            return true;
    }
    return false;
}

void schema_check_must_have(const struct schema_check *c)
{
    for (const char *const *m = c->must_have; m && *m; m++) {
        char dir[16];
        const char *sp = strchr(*m, ' ');
        assert_non_null(sp);
        snprintf(dir, sizeof(dir), "%.*s", (int)(sp - *m), *m);
        if (!has_entry(c, dir, sp + 1))
            fail_msg("%s lacks %s/%s", c->schema, dir, sp + 1);
    }
}

/* ---- keys in the sources ---- */

bool schema_check_described(const struct schema_check *c, const char *key)
{
    size_t i, kl = strlen(key);
    json_t *k;
    json_array_foreach(json_object_get(c->json, "keys"), i, k) {
        const char *p = str_of(k, "path");
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

/* Copies `len` bytes of a literal to out, every integer conversion as %u. */
static void normalize(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 3 < cap; i++) {
        if (s[i] == '%') {
            size_t j = i + 1;
            while (j < len && strchr("hlzjt", s[j]))
                j++;
            if (j < len && strchr("diuxo", s[j])) {
                memcpy(out + o, "%u", 2);
                o += 2;
                i = j;
                continue;
            }
        }
        out[o++] = s[i];
    }
    out[o] = '\0';
}

void schema_check_scan_text(const struct schema_check *c, const char *text, const char *what,
                            struct schema_scan *sc)
{
    char hyphenated[512];
    snprintf(hyphenated, sizeof(hyphenated), "\"((%s)(-[a-z0-9%%]+)+)\"",
             c->key_words ? c->key_words : "[a-z][a-z0-9%]*");
    const char *const patterns[] = {
        "\"%s/([a-z][a-z0-9%/-]*)\"",
        "(^|[^A-Za-z0-9_])(bp|fp|be|fe|dir|qdir|bdir|fdir|[a-z_]*_path|[a-z_]*_dir), "
        "\"([a-z][a-z0-9%/-]*)\"",
        hyphenated,
    };
    static const int group[] = { 1, 3, 1 };
    for (unsigned pi = 0; pi < sizeof(patterns) / sizeof(patterns[0]); pi++) {
        regex_t re;
        assert_int_equal(regcomp(&re, patterns[pi], REG_EXTENDED | REG_NEWLINE), 0);
        const char *s = text;
        regmatch_t m[4];
        while (regexec(&re, s, 4, m, s == text ? 0 : REG_NOTBOL) == 0) {
            int g = group[pi];
            char key[128];
            normalize(s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so), key, sizeof(key));
            s += m[0].rm_eo;
            if (strstr(key, "%s") || in_list(c->not_keys, key))
                continue;
            sc->found++;
            if (!schema_check_described(c, key)) {
                size_t used = strlen(sc->missing);
                snprintf(sc->missing + used, sizeof(sc->missing) - used, "\n#   %s: \"%s\"",
                         what, key);
            }
        }
        regfree(&re);
    }
}

static unsigned scan_file(const struct schema_check *c, const char *rel, struct schema_scan *sc)
{
    char p[4200];
    snprintf(p, sizeof(p), "%s/%s", c->root, rel);
    char *src = slurp(p);
    unsigned before = sc->found;
    schema_check_scan_text(c, src, rel, sc);
    free(src);
    return sc->found - before;
}

void schema_check_class_sources(const struct schema_check *c)
{
    struct schema_scan sc = { 0 };
    for (const char *const *g = c->class_sources; *g; g++) {
        char pat[4200];
        snprintf(pat, sizeof(pat), "%s/%s", c->root, *g);
        glob_t gl;
        if (glob(pat, 0, NULL, &gl) != 0)
            continue;
        for (size_t i = 0; i < gl.gl_pathc; i++) {
            const char *rel = gl.gl_pathv[i] + strlen(c->root) + 1;
            printf("# %s: %u key literals\n", rel, scan_file(c, rel, &sc));
        }
        globfree(&gl);
    }
    if (sc.missing[0])
        fail_msg("keys %s lacks:%s", c->schema, sc.missing);
    assert_true(sc.found >= c->min_class_keys);
}

void schema_check_bus_sources(const struct schema_check *c)
{
    struct schema_scan sc = { 0 };
    for (const char *const *f = c->bus_sources; *f; f++)
        scan_file(c, *f, &sc);
    if (sc.missing[0])
        fail_msg("keys %s lacks:%s", c->schema, sc.missing);
    assert_true(sc.found >= c->min_bus_keys);
}
