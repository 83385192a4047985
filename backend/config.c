/*
 * config.c - sidecored's settings (config.h has the contract).
 *
 * One table of settings serves the file and the command line, so a name
 * means the same in both and every value goes through the same checks.
 * The class modules' part (their settings, types and options) is in
 * config_class.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "balancer.h"
#include "config_int.h"
#include "numparse.h"
#include "devclass.h"
#include "membudget.h"
#include "sidecore.h"
#include "steal.h"

#define SRC_FILE 1
#define SRC_CLI  2

void sc_config_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int sc_config_default(struct sc_config *c, const struct sc_class_module *const *modules,
                      char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    c->mode = SC_MODE_POLL;
    c->cores = 1;
    c->poll_idle_us = SC_CORE_POLL_IDLE_DEFAULT / 1000;
    c->poll_adaptive = true;
    c->rebalance = true;
    c->rebalance_interval_ms = SC_BALANCER_INTERVAL_DEFAULT_NS / 1000000u;
    c->rebalance_spread_pct = 25;
    c->steal_backoff_pct = SC_STEAL_BACKOFF_PCT_DEFAULT;
    c->uring_entries = SC_CORE_URING_DEFAULT;
    c->mem_budget_pct = SC_MEMBUDGET_DEFAULT_PCT;
    c->platform = SC_XEN_AUTO;
    c->log_level = SC_LOG_INFO;
    c->ready_fd = -1;
    c->ctl_mode = 0660;
    return sc_config_class_init(c, modules, err, errlen);
}

/* Decimal digits with an optional k/M/G suffix (x `base`, base^2, base^3),
 * at most max.  0 or -EINVAL. */
static int parse_num(const char *s, unsigned long long base, unsigned long long max,
                     unsigned long long *out)
{
    unsigned long long v;
    const char *p;
    if (sc_parse_decimal(s, &v, &p) < 0)
        return -EINVAL;
    unsigned long long mult = 1;
    if (*p && base > 1) {
        switch (*p) {
        case 'k': case 'K': mult = base; break;
        case 'm': case 'M': mult = base * base; break;
        case 'g': case 'G': mult = base * base * base; break;
        default: return -EINVAL;
        }
        p++;
    }
    if (*p)
        return -EINVAL;
    if (v && mult > ~0ull / v)
        return -EINVAL;
    v *= mult;
    if (v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int sc_config_parse_uint(const char *s, unsigned long long min, unsigned long long max,
                         unsigned long long *out)
{
    unsigned long long v;
    if (parse_num(s, 1, max, &v) < 0 || v < min)
        return -EINVAL;
    *out = v;
    return 0;
}

int sc_config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "1", "yes", "true", "on" };
    static const char *const no[] = { "0", "no", "false", "off" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* "2,3" or "0-3,6": distinct CPUs below CPU_SETSIZE, at most
 * SC_POOL_MAX_CORES of them. */
static int parse_cpus(const char *s, int *cpus, unsigned *n, char *err, size_t errlen)
{
    unsigned count = 0;
    const char *p = s;
    if (!*p) {
        sc_config_seterr(err, errlen, "cpus: empty list");
        return -EINVAL;
    }
    while (*p) {
        unsigned long long lo, hi;
        char num[24];
        size_t len = strcspn(p, "-,");
        if (len == 0 || len >= sizeof(num))
            goto bad;
        memcpy(num, p, len);
        num[len] = '\0';
        if (parse_num(num, 1, CPU_SETSIZE - 1, &lo) < 0)
            goto bad;
        p += len;
        hi = lo;
        if (*p == '-') {
            p++;
            len = strcspn(p, ",");
            if (len == 0 || len >= sizeof(num))
                goto bad;
            memcpy(num, p, len);
            num[len] = '\0';
            if (parse_num(num, 1, CPU_SETSIZE - 1, &hi) < 0 || hi < lo)
                goto bad;
            p += len;
        }
        for (unsigned long long cpu = lo; cpu <= hi; cpu++) {
            for (unsigned i = 0; i < count; i++) {
                if (cpus[i] == (int)cpu) {
                    sc_config_seterr(err, errlen, "cpus: CPU %llu listed twice", cpu);
                    return -EINVAL;
                }
            }
            if (count == SC_POOL_MAX_CORES) {
                sc_config_seterr(err, errlen, "cpus: more than %u CPUs", SC_POOL_MAX_CORES);
                return -EINVAL;
            }
            cpus[count++] = (int)cpu;
        }
        if (*p == ',') {
            p++;
            if (!*p)
                goto bad;
        }
    }
    *n = count;
    return 0;
bad:
    sc_config_seterr(err, errlen, "cpus: '%s' is not a CPU list (like 2,3 or 0-3)", s);
    return -EINVAL;
}

static struct sc_config_tenant *tenant_get(struct sc_config *c, domid_t domid)
{
    for (unsigned i = 0; i < c->ntenants; i++)
        if (c->tenants[i].domid == domid)
            return &c->tenants[i];
    if (c->ntenants == SC_CONFIG_MAX_TENANTS)
        return NULL;
    struct sc_config_tenant *t = &c->tenants[c->ntenants++];
    memset(t, 0, sizeof(*t));
    t->domid = domid;
    t->conf.weight = SC_SCHED_WEIGHT_DEFAULT;
    for (unsigned k = 0; k < SC_TCLASS__COUNT; k++)
        t->class_conf[k].weight = SC_SCHED_WEIGHT_DEFAULT;
    return t;
}

/* Nothing given yet: made for the setting being parsed. */
static bool tenant_unset(const struct sc_config_tenant *t)
{
    unsigned set = t->set;
    for (unsigned c = 0; c < SC_TCLASS__COUNT; c++)
        set |= t->class_set[c];
    return set == 0;
}

void sc_config_tenant_class(const struct sc_config_tenant *t, enum sc_tclass c,
                            struct sc_sched_tenant_conf *out)
{
    const struct sc_sched_tenant_conf *own = &t->class_conf[c];
    unsigned set = t->class_set[c];
    *out = t->conf;
    if (set & SC_TENANT_WEIGHT)
        out->weight = own->weight;
    if (set & SC_TENANT_RES_IOPS)
        out->reservation.iops = own->reservation.iops;
    if (set & SC_TENANT_RES_BPS)
        out->reservation.bps = own->reservation.bps;
    if (set & SC_TENANT_LIM_IOPS)
        out->limit.iops = own->limit.iops;
    if (set & SC_TENANT_LIM_BPS)
        out->limit.bps = own->limit.bps;
}

const struct sc_config_tenant *sc_config_find_tenant(const struct sc_config *c, domid_t domid)
{
    for (unsigned i = 0; i < c->ntenants; i++)
        if (c->tenants[i].domid == domid)
            return &c->tenants[i];
    return NULL;
}

static int parse_domid(const char *s, domid_t *out)
{
    unsigned long long v;
    if (parse_num(s, 1, DOMID_FIRST_RESERVED - 1, &v) < 0)
        return -EINVAL;
    *out = (domid_t)v;
    return 0;
}

/* core-capacity: auto (measured), off (no admission check) or
 * iops=N[,bps=N] (either or both; the other measured). */
static int parse_core_capacity(struct sc_config *c, const char *value, char *err, size_t errlen)
{
    struct sc_sched_rate cap = { 0 };
    bool off = strcmp(value, "off") == 0;
    if (!off && strcmp(value, "auto")) {
        char buf[128];
        if (snprintf(buf, sizeof(buf), "%s", value) >= (int)sizeof(buf))
            goto bad;
        char *save = NULL;
        for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
            unsigned long long v;
            bool iops = strncmp(f, "iops=", 5) == 0;
            if (!iops && strncmp(f, "bps=", 4))
                goto bad;
            if (parse_num(f + (iops ? 5 : 4), iops ? 1000 : 1024,
                          iops ? SC_SCHED_IOPS_MAX : SC_SCHED_BPS_MAX, &v) < 0 || !v)
                goto bad;
            *(iops ? &cap.iops : &cap.bps) = v;
        }
        if (!cap.iops && !cap.bps)
            goto bad;
    }
    c->core_capacity = cap;
    c->admission_off = off;
    return 0;
bad:
    sc_config_seterr(err, errlen, "core-capacity: '%s' is not auto, off or iops=N,bps=N (what "
                     "one sidecore serves per second; suffix k, M, G allowed)", value);
    return -EINVAL;
}

/* The rate a tenant field's bit names, in conf (the plain or a class's). */
static uint64_t *tenant_rate(struct sc_config_tenant *t, struct sc_sched_tenant_conf *conf,
                             unsigned bit)
{
    switch (bit) {
    case SC_TENANT_RES_IOPS: return &conf->reservation.iops;
    case SC_TENANT_RES_BPS: return &conf->reservation.bps;
    case SC_TENANT_LIM_IOPS: return &conf->limit.iops;
    case SC_TENANT_LIM_BPS: return &conf->limit.bps;
    case SC_TENANT_READ_IOPS: return &t->dirs.dir[SC_DIR_READ].iops;
    case SC_TENANT_READ_BPS: return &t->dirs.dir[SC_DIR_READ].bps;
    case SC_TENANT_WRITE_IOPS: return &t->dirs.dir[SC_DIR_WRITE].iops;
    default: return &t->dirs.dir[SC_DIR_WRITE].bps;
    }
}

#define TENANT_FIELDS "weight, res_iops, res_bps, lim_iops, lim_bps, read_iops, read_bps, " \
                      "write_iops, write_bps; vbd. or vif. in front for one class"

/* A tenant's fields, for the parser and --list-settings alike. */
static const struct tenant_field {
    const char *name, *alias;
    unsigned bit;
    bool iops;
} tenant_fields[] = {
    { "weight", "weight", SC_TENANT_WEIGHT, false },
    { "res_iops", "reservation_iops", SC_TENANT_RES_IOPS, true },
    { "res_bps", "reservation_bps", SC_TENANT_RES_BPS, false },
    { "lim_iops", "limit_iops", SC_TENANT_LIM_IOPS, true },
    { "lim_bps", "limit_bps", SC_TENANT_LIM_BPS, false },
    { "read_iops", "read_iops", SC_TENANT_READ_IOPS, true },
    { "read_bps", "read_bps", SC_TENANT_READ_BPS, false },
    { "write_iops", "write_iops", SC_TENANT_WRITE_IOPS, true },
    { "write_bps", "write_bps", SC_TENANT_WRITE_BPS, false },
};
#define NTENANT_FIELDS (sizeof(tenant_fields) / sizeof(tenant_fields[0]))

/* One field of a tenant: weight, res_iops, res_bps, lim_iops, lim_bps (or
 * the long names reservation_iops ... limit_bps), and its disks' read_iops,
 * read_bps, write_iops, write_bps; with "vbd." or "vif." in front, the
 * first five for that class only (the disks' ones take only "vbd."). */
static int tenant_set_field(struct sc_config_tenant *t, const char *field, const char *value,
                            char *err, size_t errlen)
{
    const char *dot = strchr(field, '.');
    enum sc_tclass tc = SC_TCLASS__COUNT; /* none: both */
    if (dot) {
        if (sc_tclass_parse(field, (size_t)(dot - field), &tc) < 0) {
            sc_config_seterr(err, errlen, "tenant %u: '%s': the class before the dot is vbd "
                             "or vif (like vif.weight)", t->domid, field);
            return -EINVAL;
        }
        field = dot + 1;
    }
    struct sc_sched_tenant_conf *conf = tc == SC_TCLASS__COUNT ? &t->conf : &t->class_conf[tc];
    unsigned *set = tc == SC_TCLASS__COUNT ? &t->set : &t->class_set[tc];
    const struct tenant_field *fields = tenant_fields;
    for (size_t i = 0; i < NTENANT_FIELDS; i++) {
        if (strcmp(field, fields[i].name) && strcmp(field, fields[i].alias))
            continue;
        unsigned long long v;
        unsigned bit = fields[i].bit;
        int ret;
        if (bit == SC_TENANT_WEIGHT) {
            ret = parse_num(value, 1, SC_SCHED_WEIGHT_MAX, &v);
            if (ret == 0 && v < SC_SCHED_WEIGHT_MIN)
                ret = -EINVAL;
            if (ret < 0) {
                sc_config_seterr(err, errlen, "tenant %u: weight '%s' is not in %u..%u", t->domid, value,
                       SC_SCHED_WEIGHT_MIN, SC_SCHED_WEIGHT_MAX);
                return -EINVAL;
            }
            conf->weight = (uint32_t)v;
        } else {
            unsigned long long max = fields[i].iops ? SC_SCHED_IOPS_MAX : SC_SCHED_BPS_MAX;
            /* k/M/G: thousands for requests, binary multiples for bytes */
            if (parse_num(value, fields[i].iops ? 1000 : 1024, max, &v) < 0) {
                sc_config_seterr(err, errlen, "tenant %u: %s '%s' is not a number in 0..%llu "
                       "(suffix k, M, G allowed)", t->domid, fields[i].name, value, max);
                return -EINVAL;
            }
            bool dir = bit >= SC_TENANT_READ_IOPS;
            if (dir && tc == SC_TCLASS_VIF) {
                sc_config_seterr(err, errlen, "tenant %u: vif.%s: read and write limits are "
                                 "for disks only (%s or vbd.%s)", t->domid, fields[i].name,
                                 fields[i].name, fields[i].name);
                return -EINVAL;
            }
            *tenant_rate(t, conf, bit) = v;
            if (dir) /* the disks' alone, whether prefixed or not */
                set = &t->set;
        }
        *set |= bit;
        return 0;
    }
    sc_config_seterr(err, errlen, "tenant %u: unknown setting '%s' (" TENANT_FIELDS ")",
                     t->domid, field);
    return -EINVAL;
}

/* A reservation above its limit can never be met (the scheduler refuses
 * it).  Checked on what each class gets, so vif.lim_iops may lift a plain
 * limit below a plain reservation; a class is named only when its own
 * settings take part. */
static int tenant_check(const struct sc_config_tenant *t, char *err, size_t errlen)
{
    for (unsigned c = 0; c < SC_TCLASS__COUNT; c++) {
        struct sc_sched_tenant_conf k;
        sc_config_tenant_class(t, (enum sc_tclass)c, &k);
        const char *cls = t->class_set[c] ? sc_tclass_name((enum sc_tclass)c) : "";
        const char *dot = *cls ? "." : "";
        if (k.limit.iops && k.reservation.iops > k.limit.iops) {
            sc_config_seterr(err, errlen, "tenant %u: %s%sres_iops %llu above %s%slim_iops %llu",
                             t->domid, cls, dot, (unsigned long long)k.reservation.iops, cls,
                             dot, (unsigned long long)k.limit.iops);
            return -EINVAL;
        }
        if (k.limit.bps && k.reservation.bps > k.limit.bps) {
            sc_config_seterr(err, errlen, "tenant %u: %s%sres_bps %llu above %s%slim_bps %llu",
                             t->domid, cls, dot, (unsigned long long)k.reservation.bps, cls,
                             dot, (unsigned long long)k.limit.bps);
            return -EINVAL;
        }
    }
    return 0;
}

int sc_config_parse_tenant_spec(struct sc_config *c, const char *spec, int source, char *err,
                                size_t errlen)
{
    (void)source;
    const char *colon = strchr(spec, ':');
    char dom[16];
    domid_t domid;
    size_t len = colon ? (size_t)(colon - spec) : 0;
    if (!colon || len == 0 || len >= sizeof(dom) || !colon[1]) {
        sc_config_seterr(err, errlen, "tenant '%s': expected DOMID:key=value,...", spec);
        return -EINVAL;
    }
    memcpy(dom, spec, len);
    dom[len] = '\0';
    if (parse_domid(dom, &domid) < 0) {
        sc_config_seterr(err, errlen, "tenant '%s': '%s' is not a domid (0..%u)", spec, dom,
               DOMID_FIRST_RESERVED - 1);
        return -EINVAL;
    }
    struct sc_config_tenant *found = tenant_get(c, domid);
    if (!found) {
        sc_config_seterr(err, errlen, "tenant %u: more than %u tenants", domid, SC_CONFIG_MAX_TENANTS);
        return -EINVAL;
    }
    struct sc_config_tenant t = *found;
    char *list = strdup(colon + 1);
    if (!list) {
        sc_config_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    int ret = 0;
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq || eq == item || !eq[1]) {
            sc_config_seterr(err, errlen, "tenant %u: '%s' is not key=value", domid, item);
            ret = -EINVAL;
            break;
        }
        *eq = '\0';
        ret = tenant_set_field(&t, item, eq + 1, err, errlen);
        if (ret < 0)
            break;
    }
    free(list);
    if (ret == 0)
        ret = tenant_check(&t, err, errlen);
    if (ret == 0) {
        t.line = c->line_now;
        *found = t;
    } else if (tenant_unset(found)) {
        c->ntenants--; /* it was created for this spec */
    }
    return ret;
}

/* "tenant.<domid>.<field>" */
static int set_tenant_key(struct sc_config *c, const char *key, const char *value, char *err,
                          size_t errlen)
{
    const char *dom = key + strlen("tenant.");
    const char *dot = strchr(dom, '.');
    char buf[16];
    size_t len = dot ? (size_t)(dot - dom) : 0;
    domid_t domid;
    if (!dot || len == 0 || len >= sizeof(buf) || !dot[1]) {
        sc_config_seterr(err, errlen, "'%s': expected tenant.<domid>.<setting> (or "
                         "tenant.<domid>.vbd.<setting>, .vif.)", key);
        return -EINVAL;
    }
    memcpy(buf, dom, len);
    buf[len] = '\0';
    if (parse_domid(buf, &domid) < 0) {
        sc_config_seterr(err, errlen, "'%s': '%s' is not a domid (0..%u)", key, buf,
               DOMID_FIRST_RESERVED - 1);
        return -EINVAL;
    }
    struct sc_config_tenant *t = tenant_get(c, domid);
    if (!t) {
        sc_config_seterr(err, errlen, "tenant %u: more than %u tenants", domid, SC_CONFIG_MAX_TENANTS);
        return -EINVAL;
    }
    bool fresh = tenant_unset(t);
    int ret = tenant_set_field(t, dot + 1, value, err, errlen);
    if (ret < 0 && fresh)
        c->ntenants--;
    else if (ret == 0)
        t->line = c->line_now;
    return ret;
}

static int set_cores(struct sc_config *c, unsigned long long n, int source, char *err,
                     size_t errlen)
{
    if (c->ncpus) {
        if (c->cpus_source == source && c->ncpus != n) {
            sc_config_seterr(err, errlen, "cores = %llu contradicts cpus (%u CPUs)", n, c->ncpus);
            return -EINVAL;
        }
        if (c->cpus_source < source)
            c->ncpus = 0; /* a stronger source chose a count: drop the weaker pinning */
    }
    c->cores = (unsigned)n;
    c->cores_source = source;
    return 0;
}

static int set_cpus(struct sc_config *c, const char *value, int source, char *err,
                    size_t errlen)
{
    int cpus[SC_POOL_MAX_CORES];
    unsigned n;
    int ret = parse_cpus(value, cpus, &n, err, errlen);
    if (ret < 0)
        return ret;
    if (c->cores_source == source && c->cores != n) {
        sc_config_seterr(err, errlen, "cpus lists %u CPUs but cores = %u", n, c->cores);
        return -EINVAL;
    }
    memcpy(c->cpus, cpus, sizeof(cpus));
    c->ncpus = n;
    c->cores = n;
    c->cpus_source = source;
    return 0;
}

/* value is `yes` (*out true) or `no` (false).  0 or -EINVAL with a message. */
static int parse_choice(const char *key, const char *value, const char *yes, const char *no,
                        bool *out, char *err, size_t errlen)
{
    if (strcmp(value, yes) && strcmp(value, no)) {
        sc_config_seterr(err, errlen, "%s: '%s' is not %s or %s", key, value, yes, no);
        return -EINVAL;
    }
    *out = !strcmp(value, yes);
    return 0;
}

/* Every setting's option gets its own value (OPT_SETTING + its index:
 * sc_config_class_options). */
enum { OPT_CONFIG = 'C', OPT_READY = 'r', OPT_HELP = 'h', OPT_LIST = 'L', OPT_SETTING = 1000 };

static const struct option generic_opts[] = {
    { "config", required_argument, NULL, OPT_CONFIG },
    { "cores", required_argument, NULL, OPT_SETTING },
    { "cpus", required_argument, NULL, OPT_SETTING },
    { "mode", required_argument, NULL, OPT_SETTING },
    { "poll-idle-us", required_argument, NULL, OPT_SETTING },
    { "poll-window", required_argument, NULL, OPT_SETTING },
    { "cores-min", required_argument, NULL, OPT_SETTING },
    { "rebalance", required_argument, NULL, OPT_SETTING },
    { "rebalance-interval-ms", required_argument, NULL, OPT_SETTING },
    { "rebalance-spread", required_argument, NULL, OPT_SETTING },
    { "steal-backoff", required_argument, NULL, OPT_SETTING },
    { "core-capacity", required_argument, NULL, OPT_SETTING },
    { "uring-entries", required_argument, NULL, OPT_SETTING },
    { "mem-budget", required_argument, NULL, OPT_SETTING },
    { "guest-mem-max", required_argument, NULL, OPT_SETTING },
    { "types", required_argument, NULL, OPT_SETTING },
    { "ctl", required_argument, NULL, OPT_SETTING },
    { "ctl-group", required_argument, NULL, OPT_SETTING },
    { "ctl-mode", required_argument, NULL, OPT_SETTING },
    { "ctl-admin-group", required_argument, NULL, OPT_SETTING },
    { "metrics", required_argument, NULL, OPT_SETTING },
    { "platform", required_argument, NULL, OPT_SETTING },
    { "log-level", required_argument, NULL, OPT_SETTING },
    { "tenant", required_argument, NULL, OPT_SETTING },
    { "ready-fd", required_argument, NULL, OPT_READY },
    { "help", no_argument, NULL, OPT_HELP },
    /* hidden: the file's keys, one a line (tests/integration/manpages_test.sh) */
    { "list-settings", no_argument, NULL, OPT_LIST },
};
#define NGENERIC (sizeof(generic_opts) / sizeof(generic_opts[0]))

/* Whether key is one of the table's settings: sc_config_set parses no
 * other generic key, so the table is the whole list (--list-settings). */
static bool generic_setting(const char *key)
{
    for (size_t i = 0; i < NGENERIC; i++)
        if (generic_opts[i].val == OPT_SETTING && strcmp(generic_opts[i].name, key) == 0)
            return true;
    return false;
}

int sc_config_set(struct sc_config *c, const char *key, const char *value, int source,
                  char *err, size_t errlen)
{
    unsigned long long v;
    if (strncmp(key, "tenant.", 7) == 0)
        return set_tenant_key(c, key, value, err, errlen);
    if (!generic_setting(key))
        goto class;
    if (strcmp(key, "tenant") == 0)
        return sc_config_parse_tenant_spec(c, value, source, err, errlen);
    if (strcmp(key, "cores") == 0) {
        if (parse_num(value, 1, SC_POOL_MAX_CORES, &v) < 0 || v == 0) {
            sc_config_seterr(err, errlen, "cores: '%s' is not a number in 1..%u", value,
                   SC_POOL_MAX_CORES);
            return -EINVAL;
        }
        return set_cores(c, v, source, err, errlen);
    }
    if (strcmp(key, "cpus") == 0)
        return set_cpus(c, value, source, err, errlen);
    if (strcmp(key, "mode") == 0) {
        if (sc_mode_parse(value, &c->mode) < 0) {
            sc_config_seterr(err, errlen, "mode: '%s' is not poll or event", value);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "poll-idle-us") == 0) {
        if (parse_num(value, 1, SC_CONFIG_POLL_IDLE_MAX_US, &v) < 0) {
            sc_config_seterr(err, errlen, "poll-idle-us: '%s' is not a number in 0..%llu", value,
                   SC_CONFIG_POLL_IDLE_MAX_US);
            return -EINVAL;
        }
        c->poll_idle_us = v;
        return 0;
    }
    if (strcmp(key, "cores-min") == 0) {
        if (parse_num(value, 1, SC_POOL_MAX_CORES, &v) < 0 || v == 0) {
            sc_config_seterr(err, errlen, "cores-min: '%s' is not a number in 1..%u", value,
                             SC_POOL_MAX_CORES);
            return -EINVAL;
        }
        c->cores_min = (unsigned)v;
        return 0;
    }
    if (strcmp(key, "poll-window") == 0)
        return parse_choice(key, value, "adaptive", "fixed", &c->poll_adaptive, err, errlen);
    if (strcmp(key, "rebalance") == 0)
        return parse_choice(key, value, "on", "off", &c->rebalance, err, errlen);
    if (strcmp(key, "rebalance-interval-ms") == 0) {
        if (parse_num(value, 1, 3600000, &v) < 0 || v < 10) {
            sc_config_seterr(err, errlen, "rebalance-interval-ms: '%s' is not a number in "
                             "10..3600000", value);
            return -EINVAL;
        }
        c->rebalance_interval_ms = v;
        return 0;
    }
    if (strcmp(key, "rebalance-spread") == 0) {
        if (parse_num(value, 1, 100, &v) < 0 || v == 0) {
            sc_config_seterr(err, errlen, "rebalance-spread: '%s' is not a percentage in 1..100",
                             value);
            return -EINVAL;
        }
        c->rebalance_spread_pct = (unsigned)v;
        return 0;
    }
    if (strcmp(key, "steal-backoff") == 0) {
        if (parse_num(value, 1, 100, &v) < 0) {
            sc_config_seterr(err, errlen, "steal-backoff: '%s' is not a percentage in 0..100 "
                             "(0: never back off)", value);
            return -EINVAL;
        }
        c->steal_backoff_pct = (unsigned)v;
        return 0;
    }
    if (strcmp(key, "core-capacity") == 0)
        return parse_core_capacity(c, value, err, errlen);
    if (strcmp(key, "uring-entries") == 0) {
        if (parse_num(value, 1, SC_CORE_URING_MAX, &v) < 0 || v == 0) {
            sc_config_seterr(err, errlen, "uring-entries: '%s' is not a number in 1..%u", value,
                   SC_CORE_URING_MAX);
            return -EINVAL;
        }
        c->uring_entries = (uint32_t)v;
        return 0;
    }
    if (strcmp(key, "mem-budget") == 0) {
        if (sc_membudget_parse(value, &c->mem_budget, &c->mem_budget_pct) < 0) {
            sc_config_seterr(err, errlen, "mem-budget: '%s' is not a size (512M, 2G), a share "
                             "of the host's memory (1%%..100%%) or unlimited", value);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "guest-mem-max") == 0) {
        if (sc_membudget_parse(value, &c->guest_mem_max, NULL) < 0) {
            sc_config_seterr(err, errlen, "guest-mem-max: '%s' is not a size (64M, 1G) or "
                             "unlimited", value);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "types") == 0)
        return sc_config_set_types(c, value, err, errlen);
    if (strcmp(key, "ctl") == 0) {
        if (!*value || strlen(value) >= sizeof(c->ctl_path) ||
            strlen(value) >= 108 /* sun_path */) {
            sc_config_seterr(err, errlen, "ctl: '%s' is not a usable socket path (1..107 bytes)", value);
            return -EINVAL;
        }
        snprintf(c->ctl_path, sizeof(c->ctl_path), "%s", value);
        return 0;
    }
    if (strcmp(key, "ctl-group") == 0 || strcmp(key, "ctl-admin-group") == 0) {
        /* checked against the group database when the socket is made (the
         * config touches nothing of the system) */
        char *dst = strcmp(key, "ctl-group") == 0 ? c->ctl_group : c->ctl_admin_group;
        if (!*value || strlen(value) >= SC_CONFIG_GROUP_MAX || strpbrk(value, ":, \t")) {
            sc_config_seterr(err, errlen, "%s: '%s' is not a group name or gid", key, value);
            return -EINVAL;
        }
        snprintf(dst, SC_CONFIG_GROUP_MAX, "%s", value);
        return 0;
    }
    if (strcmp(key, "metrics") == 0) {
        if (sc_metrics_addr_parse(value, &c->metrics) < 0) {
            sc_config_seterr(err, errlen, "metrics: '%s' is not off, PORT, ADDR:PORT "
                             "(127.0.0.1:9464, [::1]:9464) or unix:PATH", value);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "ctl-mode") == 0) {
        char *end;
        unsigned long m = strtoul(value, &end, 8);
        if (!isdigit((unsigned char)*value) || *end || m > 0777) {
            sc_config_seterr(err, errlen, "ctl-mode: '%s' is not an octal mode (0000..0777)",
                             value);
            return -EINVAL;
        }
        c->ctl_mode = (unsigned)m;
        return 0;
    }
    if (strcmp(key, "platform") == 0) {
        if (strcmp(value, "auto") == 0)
            c->platform = SC_XEN_AUTO;
        else if (strcmp(value, "xen") == 0)
            c->platform = SC_XEN_REAL;
        else if (strcmp(value, "sim") == 0 || strcmp(value, "xensim") == 0)
            c->platform = SC_XEN_SIM;
        else {
            sc_config_seterr(err, errlen, "platform: '%s' is not auto, xen or sim", value);
            return -EINVAL;
        }
        return 0;
    }
    if (strcmp(key, "log-level") == 0) {
        if (strcmp(value, "err") == 0 || strcmp(value, "error") == 0)
            c->log_level = SC_LOG_ERR;
        else if (strcmp(value, "warn") == 0 || strcmp(value, "warning") == 0)
            c->log_level = SC_LOG_WARN;
        else if (strcmp(value, "info") == 0)
            c->log_level = SC_LOG_INFO;
        else if (strcmp(value, "debug") == 0)
            c->log_level = SC_LOG_DEBUG;
        else {
            sc_config_seterr(err, errlen, "log-level: '%s' is not err, warn, info or debug", value);
            return -EINVAL;
        }
        return 0;
    }
    /* a table entry without a branch above: a bug, said as such */
    sc_config_seterr(err, errlen, "setting '%s' is not parsed", key);
    return -ENOENT;
class:;
    int ret = sc_config_set_class(c, key, value, err, errlen);
    if (ret <= 0)
        return ret;
    sc_config_seterr(err, errlen, "unknown setting '%s'", key);
    return -ENOENT;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

int sc_config_parse_file(struct sc_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        sc_config_seterr(err, errlen, "cannot read the config file %s: %s (fix --config)", path,
                         strerror(e));
        return -e;
    }
    char line[1024];
    char msg[SC_CONFIG_ERR_MAX];
    int lineno = 0, ret = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(f)) {
            sc_config_seterr(err, errlen, "%s:%d: line longer than %zu bytes", path, lineno,
                   sizeof(line) - 2);
            ret = -EINVAL;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            sc_config_seterr(err, errlen, "%s:%d: expected 'key = value', got '%s'", path, lineno, s);
            ret = -EINVAL;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (!*key || !*value) {
            sc_config_seterr(err, errlen, "%s:%d: %s", path, lineno,
                   *key ? "missing value" : "missing key");
            ret = -EINVAL;
            break;
        }
        if (strcmp(key, "config") == 0 || strcmp(key, "ready-fd") == 0) {
            sc_config_seterr(err, errlen, "%s:%d: '%s' is a command-line option only", path, lineno, key);
            ret = -EINVAL;
            break;
        }
        c->line_now = lineno;
        ret = sc_config_set(c, key, value, SRC_FILE, msg, sizeof(msg));
        if (ret < 0) {
            sc_config_seterr(err, errlen, "%s:%d: %s", path, lineno, msg);
            ret = -EINVAL;
            break;
        }
    }
    c->line_now = 0;
    if (ret == 0 && ferror(f)) {
        sc_config_seterr(err, errlen, "%s: read error", path);
        ret = -EIO;
    }
    fclose(f);
    for (unsigned i = 0; ret == 0 && i < c->ntenants; i++) {
        if (tenant_check(&c->tenants[i], msg, sizeof(msg)) < 0) {
            sc_config_seterr(err, errlen, "%s:%d: %s", path, c->tenants[i].line, msg);
            ret = -EINVAL;
        }
    }
    return ret;
}

int sc_config_default_ctl_path(enum sc_xen_platform p, char *buf, size_t len)
{
    const char *dir = getenv("XENSIM_DIR");
    int n;
    if (p != SC_XEN_REAL && dir && *dir)
        n = snprintf(buf, len, "%s/%s", dir, SC_CONFIG_SIM_CTL_NAME);
    else
        n = snprintf(buf, len, "%s", SC_CONFIG_DEFAULT_CTL);
    if (n < 0 || (size_t)n >= len || n >= 108)
        return -ENAMETOOLONG;
    return 0;
}

void sc_config_usage(FILE *out, const struct sc_class_module *const *modules)
{
    fprintf(out,
            "usage: sidecored [options]\n"
            "  --config FILE          key = value settings (names as below, plus\n"
            "                         tenant.<domid>.[vbd.|vif.]<setting> = N); the\n"
            "                         command line wins\n"
            "  --cores N              poll-mode sidecores [1]\n"
            "  --cpus LIST            pin one sidecore per CPU (2,3 or 0-3) [no pinning]\n"
            "  --mode poll|event      sidecores, or a thread per queue (Linux model) [poll]\n"
            "  --poll-idle-us N       keep polling this long without work [200]\n"
            "  --poll-window adaptive|fixed  adapt the polling window (0..poll-idle-us)\n"
            "                         to the gaps between requests, or always poll-idle-us\n"
            "                         [adaptive]\n"
            "  --rebalance on|off     move queues between sidecores by load [on]\n"
            "  --cores-min N          sidecores active at start; the balancer adds more\n"
            "                         (up to --cores) when all are busy and parks them\n"
            "                         when idle [= --cores: a fixed count]\n"
            "  --rebalance-interval-ms N  the loads' measurement interval [1000]\n"
            "  --rebalance-spread PCT  loads this far apart (%% of a core) call for a move\n"
            "                         [25]\n"
            "  --steal-backoff PCT    a polling sidecore whose vCPU loses more than this\n"
            "                         to steal for 2 s sleeps when idle until it is\n"
            "                         below half of it for 2 s (0: never) [10]\n"
            "  --core-capacity auto|off|iops=N,bps=N  what one sidecore serves per\n"
            "                         second, for refusing reservations it cannot\n"
            "                         honour [auto: measured under load]\n"
            "  --uring-entries N      io_uring submission queue size per core [256]\n"
            "  --mem-budget SIZE|N%%|unlimited  memory all queues may reserve; a queue\n"
            "                         that does not fit is refused [25%% of MemTotal]\n"
            "  --guest-mem-max SIZE|unlimited  memory one guest's queues may reserve\n"
            "                         [unlimited]\n"
            "  --types LIST           backend directories to serve, of:");
    for (size_t i = 0; modules && modules[i]; i++)
        for (const struct sc_class_type *t = modules[i]->types; t->name; t++)
            fprintf(out, " %s%s", t->name, t->by_default ? "*" : "");
    fprintf(out,
            "\n"
            "                         [those marked *]\n"
            "  --ctl PATH             control socket [/run/sidecore/sidecored.sock,\n"
            "                         $XENSIM_DIR/sidecored.sock on xensim]\n"
            "  --ctl-group GROUP      the control socket's group (name or gid) [ours]\n"
            "  --ctl-mode OCTAL       the control socket's mode [0660]\n"
            "  --ctl-admin-group GROUP  its members may change state over the socket;\n"
            "                         others only read views [none: root and our user]\n"
            "  --metrics off|PORT|ADDR:PORT|unix:PATH  serve Prometheus metrics over\n"
            "                         HTTP at /metrics; PORT alone is on 127.0.0.1\n"
            "                         (docs/operations.md) [off]\n"
            "  --platform auto|xen|sim  [auto: xensim if $XENSIM_DIR is set]\n"
            "  --log-level err|warn|info|debug  [info]\n"
            "  --tenant DOMID:weight=W,res_iops=N,lim_iops=N,res_bps=N,lim_bps=N\n"
            "                         fair-share settings of a guest (repeatable), for\n"
            "                         its disks and its vifs, each its own copy;\n"
            "                         vbd.KEY=N or vif.KEY=N for one class (wins over\n"
            "                         KEY); its disks' read_iops, read_bps, write_iops,\n"
            "                         write_bps\n"
            "  --ready-fd N           write \"ready\\n\" to fd N once serving\n"
            "  --help\n");
    sc_config_class_usage(out, modules);
}

void sc_config_list_settings(FILE *out, const struct sc_class_module *const *modules)
{
    for (size_t i = 0; i < NGENERIC; i++)
        if (generic_opts[i].val == OPT_SETTING)
            fprintf(out, "%s\n", generic_opts[i].name);
    for (size_t i = 0; i < NTENANT_FIELDS; i++) {
        fprintf(out, "tenant.DOMID.%s\n", tenant_fields[i].name);
        if (strcmp(tenant_fields[i].alias, tenant_fields[i].name))
            fprintf(out, "tenant.DOMID.%s\n", tenant_fields[i].alias);
    }
    sc_config_class_list(out, modules);
}

static int load_argv(struct sc_config *c, const struct option *opts, int argc,
                     char *const argv[], char *err, size_t errlen)
{
    char msg[SC_CONFIG_ERR_MAX];
    const char *file = NULL;
    int opt, ret;

    /* First pass: only --config and --help, so the file goes under the
     * command line whatever the order of the arguments. */
    opterr = 0;
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (opt == OPT_CONFIG)
            file = optarg;
        else if (opt == OPT_HELP || opt == OPT_LIST) {
            const struct sc_class_module *modules[SC_CONFIG_MAX_CLASSES + 1] = { NULL };
            memcpy(modules, c->modules, c->nmodules * sizeof(modules[0]));
            if (opt == OPT_HELP)
                sc_config_usage(stdout, modules);
            else
                sc_config_list_settings(stdout, modules);
            return 1;
        }
    }
    if (file) {
        if (strlen(file) >= sizeof(c->config_path)) {
            sc_config_seterr(err, errlen, "--config: path too long");
            return -EINVAL;
        }
        snprintf(c->config_path, sizeof(c->config_path), "%s", file);
        ret = sc_config_parse_file(c, file, err, errlen);
        if (ret < 0)
            return -EINVAL;
    }
    optind = 0;
    while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const char *arg = argv[optind - 1];
        if (opt >= OPT_SETTING) {
            const char *name = opts[opt - OPT_SETTING].name;
            ret = sc_config_set(c, name, optarg ? optarg : "yes", SRC_CLI, msg, sizeof(msg));
            if (ret < 0) {
                sc_config_seterr(err, errlen, "--%s", msg);
                return -EINVAL;
            }
            continue;
        }
        switch (opt) {
        case OPT_CONFIG:
        case OPT_HELP:
        case OPT_LIST:
            break;
        case OPT_READY: {
            unsigned long long v;
            if (parse_num(optarg, 1, 1 << 20, &v) < 0) {
                sc_config_seterr(err, errlen, "--ready-fd: '%s' is not a file descriptor", optarg);
                return -EINVAL;
            }
            c->ready_fd = (int)v;
            break;
        }
        case ':':
            sc_config_seterr(err, errlen, "option '%s' needs a value", arg);
            return -EINVAL;
        default:
            sc_config_unknown_option(c, arg, err, errlen);
            return -EINVAL;
        }
    }
    if (optind < argc) {
        sc_config_seterr(err, errlen, "unexpected argument '%s'", argv[optind]);
        return -EINVAL;
    }
    return 0;
}

int sc_config_load(struct sc_config *c, const struct sc_class_module *const *modules, int argc,
                   char *const argv[], char *err, size_t errlen)
{
    int ret = sc_config_default(c, modules, err, errlen);
    if (ret < 0)
        return ret;
    c->argc = argc;
    c->argv = argv;
    struct option *opts = sc_config_class_options(c, generic_opts, NGENERIC, OPT_SETTING);
    if (!opts) {
        sc_config_seterr(err, errlen, "out of memory");
        return -ENOMEM;
    }
    ret = load_argv(c, opts, argc, argv, err, errlen);
    optind = 0;
    free(opts);
    if (ret != 0)
        return ret;
    if (!c->ctl_path[0] &&
        sc_config_default_ctl_path(c->platform, c->ctl_path, sizeof(c->ctl_path)) < 0) {
        sc_config_seterr(err, errlen, "the default control socket path is too long; use --ctl");
        return -EINVAL;
    }
    for (unsigned i = 0; i < c->nmodules; i++) {
        const struct sc_class_module *m = c->modules[i];
        char msg[SC_CONFIG_ERR_MAX] = "";
        if (m->config_finalize &&
            (ret = m->config_finalize(c->class_cfg[i].bytes, c, msg, sizeof(msg))) < 0) {
            sc_config_seterr(err, errlen, "%s: %s", m->name, *msg ? msg : strerror(-ret));
            return -EINVAL;
        }
    }
    return 0;
}

int sc_config_reload(const struct sc_config *old, struct sc_config *out, char *err,
                     size_t errlen)
{
    const struct sc_class_module *modules[SC_CONFIG_MAX_CLASSES + 1] = { NULL };
    memcpy(modules, old->modules, old->nmodules * sizeof(modules[0]));
    if (!old->argv) {
        sc_config_seterr(err, errlen, "not loaded from a command line");
        return -EINVAL;
    }
    int ret = sc_config_load(out, modules, old->argc, old->argv, err, errlen);
    return ret == 1 ? -EINVAL : ret;
}
