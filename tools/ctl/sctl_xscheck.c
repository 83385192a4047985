/*
 * sctl_xscheck.c - `sidecorectl check-xenstore`: a live xenstore against
 * xenstore-schema/ (sctl_schema.h).
 *
 *   sidecorectl check-xenstore [--backend-domid N] [--schema DIR] [--json]
 *
 * For every schema (the .json files of DIR) and each of its backend types, every device
 * under /local/domain/<N>/backend/<type>/<fe>/<devid> is walked, with its
 * frontend directory (the schema's "frontend" dir) and its error node, all
 * in one transaction so that a device changing state meanwhile is seen
 * whole.  Each key no entry describes, each value its entry's format,
 * values or range refuses, and each key the side's state requires but the
 * store lacks is a finding: one line "<path>: <what>; expected <what>".
 * Exit 0 clean, 1 findings, 2 the store or the schema cannot be read
 * (or a usage error).
 *
 * The store is xenstored's socket or /dev/xen/xenbus as libxenstore finds
 * them; with $XENSIM_DIR (and no $XENSTORED_PATH) xensim's socket of
 * $XENSIM_DOMID (default 0).  N defaults to our own domid: our xenstore
 * home's "domid", else $XENSIM_DOMID under xensim, else 0 in Dom0.
 */
#include <errno.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenstore.h>

#include "sctl.h"
#include "xen.h"
#include "sctl_schema.h"

#ifndef SC_SCHEMA_DIR
#define SC_SCHEMA_DIR "/usr/local/share/sidecore/xenstore-schema"
#endif

#define MAX_SCHEMAS 8
#define PATH_CAP 4096 /* above xenstore's 3072 */

struct xscheck {
    struct xs_handle *xs;
    xs_transaction_t t;
    bool json;
    json_t *findings;     /* with --json: the findings as objects */
    json_t *devices;      /* with --json: "<type>/<fe>/<devid>" */
    unsigned nfindings, ndevices;
    int read_error;       /* first errno of a read that failed (not ENOENT) */
    char read_error_path[PATH_CAP];
};

/* One device being checked. */
struct xsdev {
    const struct sctl_schema *s;
    const char *file;     /* "vbd.json", for messages */
    const char *type;
    unsigned be;
    char fe[16], devid[16];
    char bpath[PATH_CAP], fpath[PATH_CAP];
    unsigned state;       /* of the side being walked */
};

/* snprintf into a path buffer; xenstore's own limit keeps paths shorter. */
static void pathf(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

static void finding(struct xscheck *x, const char *path, const char *problem,
                    const char *value, const char *expected)
{
    x->nfindings++;
    if (x->json) {
        json_t *f = json_pack("{s:s, s:s, s:s}", "path", path, "problem", problem, "expected",
                              expected);
        if (f && value)
            json_object_set_new(f, "value", json_string(value));
        if (f)
            json_array_append_new(x->findings, f);
        return;
    }
    if (value)
        printf("%s: %s \"%s\"; expected %s\n", path, problem, value, expected);
    else
        printf("%s: %s; expected %s\n", path, problem, expected);
}

static void read_failed(struct xscheck *x, const char *path, int err)
{
    if (err == ENOENT || x->read_error)
        return;
    x->read_error = err ? err : EIO;
    pathf(x->read_error_path, sizeof(x->read_error_path), "%s", path);
}

/* The node's value (malloc'd), NULL when absent (or unreadable: noted). */
static char *xread(struct xscheck *x, const char *path)
{
    unsigned len;
    char *v = xs_read(x->xs, x->t, path, &len);
    if (!v)
        read_failed(x, path, errno);
    return v;
}

/* A XenbusState from dir/state; `fallback` when absent or malformed (the
 * key's own entry reports that). */
static unsigned read_state(struct xscheck *x, const char *dir, unsigned fallback)
{
    char p[PATH_CAP + 8];
    pathf(p, sizeof(p), "%s/state", dir);
    char *v = xread(x, p), *end;
    unsigned long s = v ? strtoul(v, &end, 10) : 0;
    unsigned st = v && *v && !*end && s <= 8 ? (unsigned)s : fallback;
    free(v);
    return st;
}

static void check_value(struct xscheck *x, const struct xsdev *d, json_t *k, const char *path)
{
    char *v = xread(x, path);
    if (!v)
        return;
    char *high = NULL, expected[256];
    const char *hname = json_string_value(json_array_get(json_object_get(k, "range"), 1));
    /* A bound naming a key names the backend's offer, and holds for the
     * answer to it: while the side is Initialised or Connected.  A closed
     * frontend's choice may answer an earlier backend's offer. */
    if (hname && (d->state == 3 || d->state == 4)) {
        char hp[PATH_CAP + 64];
        pathf(hp, sizeof(hp), "%s/%s", d->bpath, hname);
        high = xread(x, hp);
    }
    if (sctl_schema_value_check(k, v, high, expected, sizeof(expected)) < 0)
        finding(x, path, "bad value", v, expected);
    free(high);
    free(v);
}

/* Every node under abs (rel: its path within the entry's dir, "" at the
 * top) against the entries of `dir`. */
static void walk(struct xscheck *x, const struct xsdev *d, const char *dir, const char *abs,
                 const char *rel)
{
    unsigned n;
    char **names = xs_directory(x->xs, x->t, abs, &n);
    if (!names) {
        read_failed(x, abs, errno);
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        char cabs[PATH_CAP], crel[PATH_CAP];
        pathf(cabs, sizeof(cabs), "%s/%s", abs, names[i]);
        pathf(crel, sizeof(crel), "%s%s%s", rel, *rel ? "/" : "", names[i]);
        unsigned sub = 0;
        char **subs = xs_directory(x->xs, x->t, cabs, &sub);
        free(subs);
        json_t *k = sctl_schema_find(d->s, dir, crel);
        bool parent = sctl_schema_is_parent(d->s, dir, crel);
        if (k)
            check_value(x, d, k, cabs);
        if ((k && sub > 0) || (parent && sub > 0)) {
            walk(x, d, dir, cabs, crel);
        } else if (!k && !parent) {
            char expected[128];
            snprintf(expected, sizeof(expected), "only the %s keys of %s", dir, d->file);
            finding(x, cabs, sub ? "unknown directory" : "unknown key", NULL, expected);
        }
    }
    free(names);
}

/* The keys of `dir` that its side's state requires, each present. */
static void check_required(struct xscheck *x, const struct xsdev *d, const char *dir,
                           const char *abs, unsigned state)
{
    size_t i;
    json_t *k;
    json_array_foreach(d->s->keys, i, k) {
        const char *kd = sctl_schema_str(k, "dir"), *p = sctl_schema_str(k, "path");
        if (strcmp(kd, dir) != 0 || strchr(p, '%') || strchr(p, '<') ||
            !sctl_schema_required_in(k, state))
            continue;
        char path[PATH_CAP + 128];
        pathf(path, sizeof(path), "%s/%s", abs, p);
        char *v = xread(x, path);
        if (v) {
            free(v);
            continue;
        }
        char expected[160];
        snprintf(expected, sizeof(expected), "present in state %u (%s), as %s says", state,
                 sctl_schema_state_name(state), d->file);
        finding(x, path, "missing", NULL, expected);
    }
}

/* The schema's template for a dir ("/local/domain/<frontend-id>/device/vbd/<devid>")
 * with this device's values. */
static void expand(const struct xsdev *d, const char *tmpl, char *out, size_t cap)
{
    size_t o = 0;
    char be[16];
    snprintf(be, sizeof(be), "%u", d->be);
    const struct { const char *name, *val; } vars[] = {
        { "<backend-id>", be }, { "<frontend-id>", d->fe }, { "<devid>", d->devid },
        { "<type>", d->type },
    };
    while (*tmpl && o + 1 < cap) {
        bool done = false;
        for (size_t v = 0; v < sizeof(vars) / sizeof(vars[0]) && !done; v++) {
            size_t l = strlen(vars[v].name);
            if (!strncmp(tmpl, vars[v].name, l)) {
                o += (size_t)snprintf(out + o, cap - o, "%s", vars[v].val);
                tmpl += l;
                done = true;
            }
        }
        if (!done)
            out[o++] = *tmpl++;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static void check_device(struct xscheck *x, struct xsdev *d)
{
    json_t *dirs = json_object_get(d->s->json, "dirs");
    expand(d, json_string_value(json_object_get(dirs, "frontend")), d->fpath, sizeof(d->fpath));
    x->ndevices++;
    if (x->json) {
        char id[64];
        snprintf(id, sizeof(id), "%s/%s/%s", d->type, d->fe, d->devid);
        json_array_append_new(x->devices, json_string(id));
    }

    d->state = read_state(x, d->bpath, 1);
    walk(x, d, "backend", d->bpath, "");
    check_required(x, d, "backend", d->bpath, d->state);

    unsigned nf;
    char **fkeys = xs_directory(x->xs, x->t, d->fpath, &nf);
    if (!fkeys) {
        if (errno == ENOENT)
            finding(x, d->fpath, "missing", NULL, "the frontend directory of a backend device");
        else
            read_failed(x, d->fpath, errno);
    } else {
        free(fkeys);
        d->state = read_state(x, d->fpath, 1);
        walk(x, d, "frontend", d->fpath, "");
        check_required(x, d, "frontend", d->fpath, d->state);
    }

    /* the error node: "home" paths are matched in their template form */
    char home[PATH_CAP], err_abs[PATH_CAP], err_rel[PATH_CAP];
    expand(d, json_string_value(json_object_get(dirs, "home")), home, sizeof(home));
    pathf(err_abs, sizeof(err_abs), "%s/error/backend/%s/%s/%s", home, d->type, d->fe,
             d->devid);
    pathf(err_rel, sizeof(err_rel), "error/backend/<type>/<frontend-id>/<devid>");
    unsigned ne;
    char **errs = xs_directory(x->xs, x->t, err_abs, &ne);
    if (errs) {
        free(errs);
        d->state = 0;
        walk(x, d, "home", err_abs, err_rel);
    } else {
        read_failed(x, err_abs, errno);
    }
}

/* Every device of one backend type. */
static void check_type(struct xscheck *x, const struct sctl_schema *s, const char *file,
                       const char *type, unsigned be)
{
    char base[PATH_CAP];
    pathf(base, sizeof(base), "/local/domain/%u/backend/%s", be, type);
    unsigned nfe;
    char **fes = xs_directory(x->xs, x->t, base, &nfe);
    if (!fes) {
        read_failed(x, base, errno);
        return;
    }
    for (unsigned i = 0; i < nfe; i++) {
        char fdir[PATH_CAP];
        pathf(fdir, sizeof(fdir), "%s/%s", base, fes[i]);
        unsigned ndev;
        char **devs = xs_directory(x->xs, x->t, fdir, &ndev);
        if (!devs) {
            read_failed(x, fdir, errno);
            continue;
        }
        for (unsigned j = 0; j < ndev; j++) {
            struct xsdev d = { .s = s, .file = file, .type = type, .be = be };
            snprintf(d.fe, sizeof(d.fe), "%.15s", fes[i]);
            snprintf(d.devid, sizeof(d.devid), "%.15s", devs[j]);
            pathf(d.bpath, sizeof(d.bpath), "%s/%s", fdir, devs[j]);
            check_device(x, &d);
        }
        free(devs);
    }
    free(fes);
}

/* ---- set-up: schemas, store, our domid ---- */

static bool dir_has_schema(const char *dir)
{
    char p[PATH_MAX];
    pathf(p, sizeof(p), "%s/vbd.json", dir);
    return access(p, R_OK) == 0;
}

/* --schema, else the installed copy, else the tree the binary was built in
 * (<tree>/build/bin/sidecorectl -> <tree>/xenstore-schema). */
static int schema_dir(const char *given, char *out, size_t cap)
{
    if (given) {
        pathf(out, cap, "%s", given);
        return 0;
    }
    if (dir_has_schema(SC_SCHEMA_DIR)) {
        pathf(out, cap, "%s", SC_SCHEMA_DIR);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            pathf(out, cap, "%s/../../xenstore-schema", exe);
            if (dir_has_schema(out))
                return 0;
        }
    }
    return -ENOENT;
}

static int load_schemas(const char *dir, struct sctl_schema *s, const char **files, unsigned *n)
{
    char pat[PATH_MAX];
    pathf(pat, sizeof(pat), "%s/*.json", dir);
    glob_t gl;
    if (glob(pat, 0, NULL, &gl) != 0) {
        fprintf(stderr, "sidecorectl: check-xenstore: no schema (*.json) in %s\n", dir);
        return -ENOENT;
    }
    *n = 0;
    int rc = 0;
    for (size_t i = 0; i < gl.gl_pathc && *n < MAX_SCHEMAS && rc == 0; i++) {
        char err[PATH_MAX + 128];
        rc = sctl_schema_load(&s[*n], gl.gl_pathv[i], err, sizeof(err));
        if (rc == 0 && sctl_schema_check_all(&s[*n], err, sizeof(err)) < 0) {
            sctl_schema_free(&s[*n]);
            rc = -EINVAL;
        }
        if (rc < 0) {
            fprintf(stderr, "sidecorectl: check-xenstore: %s: %s\n", gl.gl_pathv[i], err);
            break;
        }
        const char *base = strrchr(gl.gl_pathv[i], '/');
        files[*n] = strdup(base ? base + 1 : gl.gl_pathv[i]);
        if (!files[*n])
            rc = -ENOMEM;
        (*n)++;
    }
    globfree(&gl);
    return rc;
}

static struct xs_handle *open_store(void)
{
    const char *sim = getenv("XENSIM_DIR");
    if (sim && *sim && !getenv("XENSTORED_PATH")) {
        const char *dom = getenv("XENSIM_DOMID");
        char p[PATH_MAX];
        pathf(p, sizeof(p), "%s/xs-%s.sock", sim, dom && *dom ? dom : "0");
        if (setenv("XENSTORED_PATH", p, 1) < 0)
            return NULL;
    }
    return xs_open(getenv("XENSTORED_PATH") ? XS_OPEN_SOCKETONLY : 0);
}

static bool parse_domid(const char *s, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > 32751)
        return false;
    *out = (unsigned)v;
    return true;
}

/* As sidecored learns it: our home's "domid" (a driver domain has it),
 * xensim's domain, or 0 in Dom0, which may lack the key. */
static int own_domid(struct xs_handle *xs, unsigned *out)
{
    unsigned len;
    char *v = xs_read(xs, XBT_NULL, "domid", &len);
    bool ok = v && parse_domid(v, out);
    free(v);
    if (ok)
        return 0;
    const char *sim = getenv("XENSIM_DIR"), *dom = getenv("XENSIM_DOMID");
    if (sim && *sim) {
        if (!dom || !*dom) {
            *out = 0;
            return 0;
        }
        return parse_domid(dom, out) ? 0 : -EINVAL;
    }
    if (sc_xen_in_dom0()) {
        *out = 0;
        return 0;
    }
    return -ENOENT;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: sidecorectl check-xenstore [--backend-domid N] [--schema DIR] [--json]\n");
}

int sctl_cmd_check_xenstore(const char *path, int argc, char **argv)
{
    (void)path;
    static const struct option opts[] = {
        { "backend-domid", required_argument, NULL, 'b' },
        { "schema", required_argument, NULL, 's' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct xscheck x = { .t = XBT_NULL };
    const char *given = NULL;
    unsigned be = 0;
    bool have_be = false;
    int c;
    /* getopt wants a program name first; argv holds only our arguments */
    char **av = calloc((size_t)argc + 2, sizeof(char *));
    if (!av)
        return 2;
    av[0] = "sidecorectl check-xenstore";
    memcpy(av + 1, argv, (size_t)argc * sizeof(char *));
    optind = 0;
    while ((c = getopt_long(argc + 1, av, "+", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (!parse_domid(optarg, &be)) {
                fprintf(stderr, "sidecorectl: check-xenstore: bad --backend-domid '%s'\n",
                        optarg);
                free(av);
                return 2;
            }
            have_be = true;
            break;
        case 's': given = optarg; break;
        case 'j': x.json = true; break;
        case 'h': free(av); usage(stdout); return 0;
        default: free(av); usage(stderr); return 2;
        }
    }
    free(av);
    if (optind != argc + 1) {
        usage(stderr);
        return 2;
    }

    char dir[PATH_MAX];
    if (schema_dir(given, dir, sizeof(dir)) < 0) {
        fprintf(stderr, "sidecorectl: check-xenstore: no schema in %s nor beside the build; "
                        "use --schema DIR\n", SC_SCHEMA_DIR);
        return 2;
    }
    struct sctl_schema schemas[MAX_SCHEMAS];
    const char *files[MAX_SCHEMAS] = { 0 };
    unsigned ns = 0;
    int rc = load_schemas(dir, schemas, files, &ns);
    if (rc < 0) {
        for (unsigned i = 0; i < ns; i++) {
            sctl_schema_free(&schemas[i]);
            free((void *)files[i]);
        }
        return 2;
    }

    rc = 2;
    x.xs = open_store();
    if (!x.xs) {
        fprintf(stderr, "sidecorectl: check-xenstore: cannot open xenstore (%s): %s\n",
                getenv("XENSTORED_PATH") ? getenv("XENSTORED_PATH") : "libxenstore's default",
                strerror(errno));
        goto out;
    }
    if (!have_be && own_domid(x.xs, &be) < 0) {
        fprintf(stderr, "sidecorectl: check-xenstore: cannot tell our domid (no \"domid\" in "
                        "our xenstore home); use --backend-domid N\n");
        goto out;
    }
    /* the root must answer: a store that does not is no clean store */
    unsigned nroot;
    char **root = xs_directory(x.xs, XBT_NULL, "/local/domain", &nroot);
    if (!root) {
        fprintf(stderr, "sidecorectl: check-xenstore: cannot read /local/domain: %s\n",
                strerror(errno));
        goto out;
    }
    free(root);
    x.t = xs_transaction_start(x.xs);
    if (x.json) {
        x.findings = json_array();
        x.devices = json_array();
    }
    for (unsigned i = 0; i < ns; i++) {
        size_t ti;
        json_t *type;
        json_array_foreach(json_object_get(schemas[i].json, "types"), ti, type)
            check_type(&x, &schemas[i], files[i], json_string_value(type), be);
    }
    if (x.t != XBT_NULL)
        xs_transaction_end(x.xs, x.t, true);
    if (x.read_error) {
        fprintf(stderr, "sidecorectl: check-xenstore: cannot read %s: %s\n",
                x.read_error_path, strerror(x.read_error));
    } else {
        rc = x.nfindings ? 1 : 0;
    }
    if (x.json) {
        json_t *o = json_pack("{s:i, s:s, s:o, s:o, s:b}", "backend_domid", (int)be,
                              "schema", dir, "devices", x.devices, "findings", x.findings,
                              "clean", rc == 0);
        x.devices = x.findings = NULL;
        if (o)
            json_dumpf(o, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(o);
    } else {
        fprintf(stderr, "sidecorectl: check-xenstore: backend domain %u: %u device%s, "
                        "%u finding%s\n", be, x.ndevices, x.ndevices == 1 ? "" : "s",
                x.nfindings, x.nfindings == 1 ? "" : "s");
    }
out:
    if (x.xs)
        xs_close(x.xs);
    json_decref(x.findings);
    json_decref(x.devices);
    for (unsigned i = 0; i < ns; i++) {
        sctl_schema_free(&schemas[i]);
        free((void *)files[i]);
    }
    return rc;
}
