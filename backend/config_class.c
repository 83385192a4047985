/*
 * config_class.c - the class modules' part of sidecored's settings
 * (config.h has the contract, config_int.h the calls config.c makes): the
 * modules and their blobs, `types`, `<class>.<key>` settings and the
 * deprecated aliases, their command-line options and --help lines.
 *
 * The command line's option table is built per load: the generic options,
 * then each module's `<class>.<key>` settings and aliases, so getopt_long
 * parses them all alike (both --vif.max-queues 4 and --vif.max-queues=4).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "devclass.h"


/* The modules' types a config may name. */
static int add_default_types(struct sc_config *c, const struct sc_class_module *m, char *err,
                             size_t errlen)
{
    for (const struct sc_class_type *t = m->types; t->name; t++) {
        if (!t->by_default)
            continue;
        if (c->ntypes == SC_CONFIG_MAX_TYPES || strlen(t->name) >= SC_CONFIG_TYPE_MAX) {
            sc_config_seterr(err, errlen, "class %s: too many default types, or '%s' too long", m->name,
                   t->name);
            return -EINVAL;
        }
        snprintf(c->types[c->ntypes++], SC_CONFIG_TYPE_MAX, "%s", t->name);
    }
    return 0;
}

int sc_config_class_init(struct sc_config *c, const struct sc_class_module *const *modules,
                         char *err, size_t errlen)
{
    for (size_t i = 0; modules && modules[i]; i++) {
        const struct sc_class_module *m = modules[i];
        if (i == SC_CONFIG_MAX_CLASSES || !m->name || !*m->name || strchr(m->name, '.') ||
            !m->types || !m->types[0].name || m->config_size > SC_CONFIG_CLASS_CFG_MAX ||
            sc_config_class(c, m->name)) {
            sc_config_seterr(err, errlen, "class module %zu (%s): more than %u, unnamed, "
                             "named twice, without types or with settings over %u bytes", i,
                             m->name ? m->name : "?", SC_CONFIG_MAX_CLASSES,
                             SC_CONFIG_CLASS_CFG_MAX);
            return -EINVAL;
        }
        c->modules[c->nmodules] = m;
        if (m->config_default)
            m->config_default(c->class_cfg[c->nmodules].bytes);
        c->nmodules++;
        int ret = add_default_types(c, m, err, errlen);
        if (ret < 0)
            return ret;
    }
    return 0;
}

void *sc_config_class(struct sc_config *c, const char *name)
{
    for (unsigned i = 0; i < c->nmodules; i++)
        if (strcmp(c->modules[i]->name, name) == 0)
            return c->class_cfg[i].bytes;
    return NULL;
}

/* The type `len` bytes at p names, among the modules' types; NULL if none. */
static const char *known_type(const struct sc_config *c, const char *p, size_t len)
{
    for (unsigned i = 0; i < c->nmodules; i++)
        for (const struct sc_class_type *t = c->modules[i]->types; t->name; t++)
            if (strlen(t->name) == len && strncmp(p, t->name, len) == 0)
                return t->name;
    return NULL;
}

/* "a, b, c": every name of a list, for messages. */
static void list_types(const struct sc_config *c, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < c->nmodules; i++) {
        for (const struct sc_class_type *t = c->modules[i]->types; t->name; t++) {
            int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", t->name);
            if (n < 0 || (size_t)n >= len - used)
                return;
            used += (size_t)n;
        }
    }
}

int sc_config_set_types(struct sc_config *c, const char *s, char *err, size_t errlen)
{
    char types[SC_CONFIG_MAX_TYPES][SC_CONFIG_TYPE_MAX];
    unsigned n = 0;
    const char *p = s;
    do {
        size_t len = strcspn(p, ",");
        const char *type = known_type(c, p, len);
        if (!type) {
            char known[256];
            list_types(c, known, sizeof(known));
            sc_config_seterr(err, errlen, "types: '%.*s' is not one of %s", (int)len, p,
                   *known ? known : "(no device class)");
            return -EINVAL;
        }
        for (unsigned i = 0; i < n; i++) {
            if (strcmp(types[i], type) == 0) {
                sc_config_seterr(err, errlen, "types: '%s' listed twice", type);
                return -EINVAL;
            }
        }
        if (n == SC_CONFIG_MAX_TYPES) {
            sc_config_seterr(err, errlen, "types: more than %u", SC_CONFIG_MAX_TYPES);
            return -EINVAL;
        }
        snprintf(types[n++], sizeof(types[0]), "%s", type);
        p += len;
    } while (*p++ == ',');
    memcpy(c->types, types, sizeof(types));
    c->ntypes = n;
    return 0;
}

/* ---- the class modules' settings ---- */

/* A class setting named `key` as the user wrote it: "<class>.<key>" or an
 * alias.  Fills the module's index, its key and whether the value is
 * negated.  0; -ENOENT with a message for a dotted key whose class or
 * setting does not exist; 1 for a key that is neither (not a class's). */
static int class_lookup(const struct sc_config *c, const char *key, unsigned *mi,
                        const char **subkey, bool *negate, char *err, size_t errlen)
{
    *negate = false;
    for (unsigned i = 0; i < c->nmodules; i++) {
        const struct sc_class_alias *a = c->modules[i]->aliases;
        for (; a && a->name; a++) {
            if (strcmp(a->name, key) == 0) {
                *mi = i;
                *subkey = a->key;
                *negate = a->negate;
                return 0;
            }
        }
    }
    const char *dot = strchr(key, '.');
    if (!dot)
        return 1;
    size_t len = (size_t)(dot - key);
    for (unsigned i = 0; i < c->nmodules; i++) {
        const struct sc_class_module *m = c->modules[i];
        if (strlen(m->name) != len || strncmp(m->name, key, len) != 0)
            continue;
        const struct sc_class_setting *st = m->settings;
        for (; st && st->key; st++) {
            if (strcmp(st->key, dot + 1) == 0) {
                *mi = i;
                *subkey = st->key;
                return 0;
            }
        }
        char names[256] = "";
        size_t used = 0;
        for (st = m->settings; st && st->key; st++) {
            int n = snprintf(names + used, sizeof(names) - used, "%s%s", used ? ", " : "",
                             st->key);
            if (n < 0 || (size_t)n >= sizeof(names) - used)
                break;
            used += (size_t)n;
        }
        sc_config_seterr(err, errlen, "unknown setting '%s': class %s has %s%s", key, m->name,
               used ? "only " : "no settings", names);
        return -ENOENT;
    }
    char names[128] = "";
    size_t used = 0;
    for (unsigned i = 0; i < c->nmodules; i++) {
        int n = snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "",
                         c->modules[i]->name);
        if (n < 0 || (size_t)n >= sizeof(names) - used)
            break;
        used += (size_t)n;
    }
    sc_config_seterr(err, errlen, "unknown setting '%s': no device class '%.*s' (classes: %s)", key,
           (int)len, key, used ? names : "none");
    return -ENOENT;
}

int sc_config_set_class(struct sc_config *c, const char *key, const char *value, char *err,
                        size_t errlen)
{
    unsigned mi;
    const char *subkey;
    bool negate;
    int ret = class_lookup(c, key, &mi, &subkey, &negate, err, errlen);
    if (ret != 0)
        return ret;
    const struct sc_class_module *m = c->modules[mi];
    if (negate) {
        bool b;
        if (sc_config_parse_bool(value, &b) < 0) {
            sc_config_seterr(err, errlen, "%s: '%s' is not yes or no", key, value);
            return -EINVAL;
        }
        value = b ? "no" : "yes";
    }
    if (!m->config_set) {
        sc_config_seterr(err, errlen, "%s: class %s takes no settings", key, m->name);
        return -ENOENT;
    }
    char msg[SC_CONFIG_ERR_MAX] = "";
    ret = m->config_set(c->class_cfg[mi].bytes, subkey, value, msg, sizeof(msg));
    if (ret < 0)
        sc_config_seterr(err, errlen, "%s: %s", key, *msg ? msg : strerror(-ret));
    return ret < 0 ? ret : 0;
}

/* "  --opt ARG              help", the help on a line of its own after a
 * long option. */
static void usage_line(FILE *out, const char *opt, const char *help)
{
    if (strlen(opt) > 20)
        fprintf(out, "  --%s\n%25s%s\n", opt, "", help);
    else
        fprintf(out, "  --%-20s %s\n", opt, help);
}

void sc_config_class_usage(FILE *out, const struct sc_class_module *const *modules)
{
    for (size_t i = 0; modules && modules[i]; i++) {
        const struct sc_class_module *m = modules[i];
        if (!m->settings || !m->settings[0].key)
            continue;
        fprintf(out, "%s device class settings (`%s.<key> = VALUE` in the file):\n", m->name,
                m->name);
        for (const struct sc_class_setting *st = m->settings; st->key; st++) {
            char opt[64];
            snprintf(opt, sizeof(opt), "%s.%s %s", m->name, st->key, st->arg ? st->arg : "VALUE");
            usage_line(out, opt, st->help ? st->help : "");
        }
        for (const struct sc_class_alias *a = m->aliases; a && a->name; a++) {
            char opt[64];
            char help[96];
            snprintf(opt, sizeof(opt), "%s%s", a->name, a->negate ? "" : " VALUE");
            snprintf(help, sizeof(help), "deprecated: --%s.%s%s", m->name, a->key,
                     a->negate ? " no" : "");
            usage_line(out, opt, help);
        }
    }
}

void sc_config_class_list(FILE *out, const struct sc_class_module *const *modules)
{
    for (size_t i = 0; modules && modules[i]; i++) {
        const struct sc_class_module *m = modules[i];
        for (const struct sc_class_setting *st = m->settings; st && st->key; st++)
            fprintf(out, "%s.%s\n", m->name, st->key);
        for (const struct sc_class_alias *a = m->aliases; a && a->name; a++)
            fprintf(out, "%s\n", a->name);
    }
}

struct option *sc_config_class_options(const struct sc_config *c, const struct option *generic,
                                       size_t ngeneric, int setting_val)
{
    size_t n = ngeneric, names = 0;
    for (unsigned i = 0; i < c->nmodules; i++) {
        const struct sc_class_module *m = c->modules[i];
        for (const struct sc_class_setting *st = m->settings; st && st->key; st++) {
            n++;
            names += strlen(m->name) + 1 + strlen(st->key) + 1;
        }
        for (const struct sc_class_alias *a = m->aliases; a && a->name; a++)
            n++;
    }
    struct option *opts = calloc(1, (n + 1) * sizeof(*opts) + names);
    if (!opts)
        return NULL;
    char *name = (char *)(opts + n + 1);
    memcpy(opts, generic, ngeneric * sizeof(*generic));
    size_t k = ngeneric;
    for (unsigned i = 0; i < c->nmodules; i++) {
        const struct sc_class_module *m = c->modules[i];
        for (const struct sc_class_setting *st = m->settings; st && st->key; st++) {
            int len = sprintf(name, "%s.%s", m->name, st->key);
            opts[k++] = (struct option){ name, required_argument, NULL, setting_val };
            name += len + 1;
        }
        for (const struct sc_class_alias *a = m->aliases; a && a->name; a++)
            opts[k++] = (struct option){ a->name, a->negate ? no_argument : required_argument,
                                         NULL, setting_val };
    }
    /* distinct values make getopt_long refuse an ambiguous abbreviation
     * (--vif.max) instead of taking the first match */
    for (size_t i = 0; i < n; i++)
        if (opts[i].val == setting_val)
            opts[i].val = setting_val + (int)i;
    return opts;
}

void sc_config_unknown_option(const struct sc_config *c, const char *arg, char *err,
                              size_t errlen)
{
    char name[128], msg[SC_CONFIG_ERR_MAX] = "";
    unsigned mi;
    const char *subkey;
    bool negate;
    if (strncmp(arg, "--", 2) == 0 && strchr(arg, '.')) {
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg + 2, "="), arg + 2);
        if (class_lookup(c, name, &mi, &subkey, &negate, msg, sizeof(msg)) < 0) {
            sc_config_seterr(err, errlen, "unknown option '%s': %s", arg, msg);
            return;
        }
    }
    sc_config_seterr(err, errlen, "unknown option '%s'", arg);
}

