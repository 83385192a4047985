/*
 * sctl_place.c - `sidecorectl place`: a driver domain's vCPUs on physical
 * CPUs of their own, in Dom0, without sidecored.
 *
 *   sidecorectl place DOMAIN [--cpus N | --pcpus LIST] [--pool NAME]
 *                    [--sched NAME] [--vcpus LIST] [--dry-run] [--json]
 *   sidecorectl place DOMAIN --check [--sched NAME] [--vcpus LIST] [--json]
 *
 * The policy is place.h's, the hypervisor xen_place.h's (xensim with
 * $XENSIM_DIR, else libxenctrl).  place: exit 0 placed (or already so),
 * 1 refused or failed, 2 usage.  --check: one line per problem on stdout;
 * exit 0 good, 1 problems, 2 could not look (not Dom0, no such domain).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "place.h"
#include "sctl.h"
#include "xen.h"
#include "xen_place.h"

#define PFX "sidecorectl: place: "

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sidecorectl place DOMAIN [--cpus N | --pcpus LIST] [--pool NAME]\n"
            "                         [--sched NAME] [--vcpus LIST] [--dry-run] [--json]\n"
            "       sidecorectl place DOMAIN --check [--sched NAME] [--vcpus LIST] [--json]\n");
}

struct place_opts {
    struct sc_place_req r;
    const char *domain;
    bool check, dry_run, json;
    bool pool_given, cpus_given;
    bool sched_given;         /* else null, or credit2 where Xen has no null */
};

static int parse(int argc, char **argv, struct place_opts *o)
{
    static const struct option opts[] = {
        { "cpus", required_argument, NULL, 'c' },
        { "pcpus", required_argument, NULL, 'p' },
        { "pool", required_argument, NULL, 'P' },
        { "sched", required_argument, NULL, 's' },
        { "vcpus", required_argument, NULL, 'v' },
        { "check", no_argument, NULL, 'C' },
        { "dry-run", no_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    memset(o, 0, sizeof(*o));
    o->r.pool = "sidecores";
    o->r.sched = "null";
    /* getopt wants a program name first; argv holds only our arguments */
    char **av = calloc((size_t)argc + 2, sizeof(char *));
    if (!av)
        return 2;
    av[0] = "sidecorectl place";
    memcpy(av + 1, argv, (size_t)argc * sizeof(char *));
    optind = 0;
    int c, rc = -1;
    char *end;
    while (rc < 0 && (c = getopt_long(argc + 1, av, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': {
            unsigned long n = strtoul(optarg, &end, 10);
            if (!*optarg || *end || n == 0 || n > SC_PLACE_MAX_CPUS) {
                fprintf(stderr, PFX "--cpus: '%s' is not a number of CPUs (1..%u)\n", optarg,
                        SC_PLACE_MAX_CPUS);
                rc = 2;
            }
            o->r.ncpus = (unsigned)n;
            o->cpus_given = true;
            break;
        }
        case 'p':
            if (sc_cpus_parse(optarg, SC_PLACE_MAX_CPUS, &o->r.pcpus) < 0) {
                fprintf(stderr, PFX "--pcpus: '%s' is not a CPU list (e.g. 6-7 or 2,5)\n",
                        optarg);
                rc = 2;
            }
            o->r.have_pcpus = true;
            o->cpus_given = true;
            break;
        case 'v':
            if (sc_cpus_parse(optarg, SC_PLACE_MAX_VCPUS, &o->r.vcpus) < 0) {
                fprintf(stderr, PFX "--vcpus: '%s' is not a vCPU list (e.g. 0-1 or 1)\n",
                        optarg);
                rc = 2;
            }
            o->r.have_vcpus = true;
            break;
        case 'P':
            if (!*optarg || strlen(optarg) >= SC_PLACE_NAME_MAX) {
                fprintf(stderr, PFX "--pool: a name of 1..%u characters\n",
                        SC_PLACE_NAME_MAX - 1);
                rc = 2;
            }
            o->r.pool = optarg;
            o->pool_given = true;
            break;
        case 's':
            if (!*optarg || strlen(optarg) >= SC_PLACE_SCHED_MAX) {
                fprintf(stderr, PFX "--sched: a scheduler name (null, credit2...)\n");
                rc = 2;
            }
            o->r.sched = optarg;
            o->sched_given = true;
            break;
        case 'C': o->check = true; break;
        case 'n': o->dry_run = true; break;
        case 'j': o->json = true; break;
        case 'h': usage(stdout); rc = 0; break;
        default: usage(stderr); rc = 2; break;
        }
    }
    if (rc < 0 && optind == argc) {
        o->domain = av[optind];
    } else if (rc < 0) {
        usage(stderr);
        rc = 2;
    }
    if (rc < 0 && o->r.have_pcpus && o->r.ncpus) {
        fprintf(stderr, PFX "--cpus and --pcpus: give one\n");
        rc = 2;
    }
    if (rc < 0 && o->check && (o->cpus_given || o->pool_given || o->dry_run)) {
        fprintf(stderr, PFX "--check takes --sched, --vcpus and --json only\n");
        rc = 2;
    }
    free(av);
    return rc;
}

static int resolve_domain(struct sc_place_hv *h, const char *arg, unsigned *domid)
{
    unsigned long long v;
    if (sc_xs_parse_uint(arg, 0x7fef, &v) == 0) {
        *domid = (unsigned)v;
        return 0;
    }
    if (h->ops->find_domain(h, arg, domid) == 0)
        return 0;
    fprintf(stderr, PFX "no domain %s (give a domid or a running domain's name)\n", arg);
    return -ESRCH;
}

static json_t *vcpus_json(const struct sc_place_world *w)
{
    json_t *a = json_array();
    for (unsigned v = 0; v < w->nr_vcpus; v++) {
        json_t *o = json_pack("{s:i, s:i}", "vcpu", (int)v, "pcpu", w->vcpus[v].pcpu);
        json_object_set_new(o, "pinned", w->vcpus[v].pin >= 0 ? json_integer(w->vcpus[v].pin)
                                                             : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *pool_json(const struct sc_place_pool *p)
{
    if (!p)
        return json_null();
    char cpus[256];
    sc_cpus_str(&p->cpus, cpus, sizeof(cpus));
    return json_pack("{s:i, s:s, s:s, s:s}", "id", p->id, "name", p->name, "sched", p->sched,
                     "cpus", cpus);
}

static void print_json(json_t *o)
{
    if (o)
        json_dumpf(o, stdout, JSON_INDENT(2));
    printf("\n");
    json_decref(o);
}

/* "cpupool sidecores (id 1, null), pCPUs 6-7; vCPU 0 on 6 (pinned), ..." */
static void describe(const struct sc_place_world *w, char *buf, size_t len)
{
    const struct sc_place_dom *d = sc_place_dom(w, w->domid);
    const struct sc_place_pool *p = d ? sc_place_pool_by_id(w, d->pool) : NULL;
    char cpus[256];
    size_t off;
    if (p)
        sc_cpus_str(&p->cpus, cpus, sizeof(cpus));
    int n = snprintf(buf, len, "domain %u: cpupool %s (id %d, %s), pCPUs %s", w->domid,
                     p ? p->name : "?", d ? d->pool : -1, p ? p->sched : "?", p ? cpus : "?");
    off = n > 0 ? (size_t)n : 0;
    for (unsigned v = 0; v < w->nr_vcpus && off < len; v++) {
        n = snprintf(buf + off, len - off, "%s vCPU %u on %d%s", v ? "," : ";", v,
                     w->vcpus[v].pcpu, w->vcpus[v].pin >= 0 ? " (pinned)" : "");
        off += n > 0 ? (size_t)n : 0;
    }
}

static int run_check(struct sc_place_hv *h, const struct place_opts *o,
                     const struct sc_place_world *w)
{
    (void)h;
    struct sc_place_finding f[32];
    int n = sc_place_check(w, o->r.have_vcpus ? &o->r.vcpus : NULL,
                           o->sched_given ? o->r.sched : NULL, f, 32);
    if (n < 0) {
        fprintf(stderr, PFX "no domain %u\n", w->domid);
        return 2;
    }
    unsigned shown = n < 32 ? (unsigned)n : 32;
    if (o->json) {
        const struct sc_place_dom *d = sc_place_dom(w, w->domid);
        json_t *probs = json_array();
        for (unsigned i = 0; i < shown; i++)
            json_array_append_new(probs, json_pack("{s:s, s:s}", "problem",
                                                   sc_place_problem_name(f[i].problem),
                                                   "message", f[i].msg));
        print_json(json_pack("{s:i, s:b, s:o, s:o, s:o}", "domain", (int)w->domid, "ok", n == 0,
                             "pool", pool_json(sc_place_pool_by_id(w, d->pool)), "vcpus",
                             vcpus_json(w), "problems", probs));
    } else {
        for (unsigned i = 0; i < shown; i++)
            printf("%s\n", f[i].msg);
        char line[1024];
        describe(w, line, sizeof(line));
        fprintf(stderr, "sidecorectl: place --check: %s: %s\n", line,
                n ? "problems above" : "good");
    }
    return n ? 1 : 0;
}

static void step_done(const char *line, void *arg)
{
    const struct place_opts *o = arg;
    if (!o->json)
        printf("%s\n", line);
}

static int run_place(struct sc_place_hv *h, const struct place_opts *o,
                     struct sc_place_world *w)
{
    static struct sc_place_plan p;
    char why[512];
    struct sc_place_req r = o->r;
    r.domid = w->domid;
    /* Without --sched an existing pool keeps its scheduler */
    const struct sc_place_pool *existing = sc_place_pool_by_name(w, r.pool);
    if (!o->sched_given && existing)
        r.sched = existing->sched;
retry:
    if (sc_place_plan(w, &r, &p, why, sizeof(why)) < 0) {
        fprintf(stderr, PFX "domain %u: %s\n", w->domid, why);
        return 1;
    }
    json_t *steps = json_array();
    for (unsigned i = 0; i < p.nr_steps; i++) {
        char line[128];
        sc_place_step_str(w, &r, &p.steps[i], line, sizeof(line));
        json_array_append_new(steps, json_string(line));
        if (o->dry_run && !o->json)
            printf("would %s\n", line);
    }
    int rc = 0;
    if (!o->dry_run) {
        if (sc_place_hv_apply(h, w, &r, &p, step_done, (void *)o, why, sizeof(why)) < 0) {
            /* Xen builds without the null scheduler (Debian's 4.17 is one)
             * refuse the pool: without --sched, credit2 serves as well,
             * since the pool's CPUs are the domain's alone. */
            unsigned domid = w->domid;
            if (!o->sched_given && strcmp(r.sched, "null") == 0 &&
                sc_place_hv_read(h, domid, w) == 0 && !sc_place_pool_by_name(w, r.pool)) {
                fprintf(stderr, PFX "%s; this Xen has no null scheduler, it seems: a credit2 "
                        "pool of the domain's own instead\n", why);
                r.sched = "credit2";
                json_decref(steps);
                goto retry;
            }
            fprintf(stderr, PFX "domain %u: %s\n", w->domid, why);
            json_decref(steps);
            return 1;
        }
        /* what the hypervisor says now, checked as --check would */
        unsigned domid = w->domid;
        if (sc_place_hv_read(h, domid, w) < 0) {
            fprintf(stderr, PFX "domain %u: placed, but cannot read it back\n", domid);
            json_decref(steps);
            return 1;
        }
        struct sc_place_finding f[32];
        int n = sc_place_check(w, r.have_vcpus ? &r.vcpus : NULL,
                               o->sched_given ? r.sched : NULL, f, 32);
        for (int i = 0; i < n && i < 32; i++)
            fprintf(stderr, PFX "after placing: %s\n", f[i].msg);
        rc = n ? 1 : 0;
    }
    if (o->json) {
        const struct sc_place_dom *d = sc_place_dom(w, w->domid);
        print_json(json_pack("{s:i, s:b, s:b, s:o, s:o, s:o}", "domain", (int)w->domid,
                             "dry_run", o->dry_run, "ok", rc == 0, "steps", steps, "pool",
                             o->dry_run || !d ? json_null()
                                              : pool_json(sc_place_pool_by_id(w, d->pool)),
                             "vcpus", vcpus_json(w)));
    } else {
        json_decref(steps);
        if (!o->dry_run) {
            char line[1024];
            describe(w, line, sizeof(line));
            printf("%s%s\n", p.nr_steps ? "" : "already placed: ", line);
        } else if (!p.nr_steps) {
            printf("nothing to do: domain %u is placed\n", w->domid);
        }
    }
    return rc;
}

int sctl_cmd_place(const char *path, int argc, char **argv)
{
    (void)path;
    struct place_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0)
        return rc;
    int fail = o.check ? 2 : 1;
    char why[512];
    struct sc_place_hv *h = sc_place_hv_open(why, sizeof(why));
    if (!h) {
        fprintf(stderr, PFX "%s\n", why);
        return fail;
    }
    static struct sc_place_world w;
    unsigned domid;
    if (resolve_domain(h, o.domain, &domid) < 0) {
        rc = fail;
    } else if ((rc = sc_place_hv_read(h, domid, &w)) < 0) {
        fprintf(stderr, PFX "cannot read the cpupools and domain %u (%s): %s\n", domid,
                h->platform, strerror(-rc));
        rc = fail;
    } else if (!sc_place_dom(&w, domid)) {
        fprintf(stderr, PFX "no domain %u\n", domid);
        rc = fail;
    } else {
        rc = o.check ? run_check(h, &o, &w) : run_place(h, &o, &w);
    }
    sc_place_hv_close(h);
    return rc;
}
