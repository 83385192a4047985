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
    char p[4200], err[512];
    snprintf(p, sizeof(p), "%s/%s", c->root, c->schema);
    if (sctl_schema_load(&c->s, p, err, sizeof(err)) < 0) {
        fprintf(stderr, "# %s\n", err);
        return -1;
    }
    return 0;
}

void schema_check_unload(struct schema_check *c)
{
    sctl_schema_free(&c->s);
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

void schema_check_entries(const struct schema_check *c)
{
    assert_true(json_array_size(c->s.keys) >= c->min_entries);
    char msg[512];
    if (sctl_schema_check_all(&c->s, msg, sizeof(msg)) < 0)
        fail_msg("%s", msg);
}

static bool has_entry(const struct schema_check *c, const char *dir, const char *path)
{
    size_t i;
    json_t *k;
    json_array_foreach(c->s.keys, i, k) {
        if (!strcmp(sctl_schema_str(k, "dir"), dir) && !strcmp(sctl_schema_str(k, "path"), path))
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
    return sctl_schema_described(&c->s, key);
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
