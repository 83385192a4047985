/*
 * tenant.h - who shares in the scheduler: a guest's disks and its network
 * interfaces are two tenants, not one (docs/design.md, "Per direction").
 *
 * Contract: a tenant key is a uint16 that the scheduler, the cores and the
 * pool (sched.h, sidecore.h, corepool.h) take where they used to take a
 * domid.  It is the domid for a guest's vbd queues and the domid with bit
 * 15 set for its vif queues: domids stop below DOMID_FIRST_RESERVED
 * (0x7FF0), so the bit is free, a vbd key is still the plain domid (the
 * scheduler's two-level directory and every log line stay as they were for
 * disks), and the key fits where a domid did.  Pure functions, any thread.
 */
#ifndef SC_TENANT_H
#define SC_TENANT_H

#include <stdint.h>
#include <string.h>
#include <xen/xen.h>

typedef uint16_t sc_tenant_t;

/* A guest's device classes, each a tenant of its own. */
enum sc_tclass {
    SC_TCLASS_VBD, /* its disks (and their per-direction limits, dirlimit.h) */
    SC_TCLASS_VIF, /* its network interfaces */
    SC_TCLASS__COUNT,
};

#define SC_TENANT_VIF_BIT 0x8000u

_Static_assert(DOMID_FIRST_RESERVED <= SC_TENANT_VIF_BIT, "a domid must leave bit 15 free");

static inline sc_tenant_t sc_tenant_key(domid_t domid, enum sc_tclass c)
{
    return (sc_tenant_t)(domid | (c == SC_TCLASS_VIF ? SC_TENANT_VIF_BIT : 0));
}

static inline domid_t sc_tenant_domid(sc_tenant_t t)
{
    return (domid_t)(t & ~SC_TENANT_VIF_BIT);
}

static inline enum sc_tclass sc_tenant_class(sc_tenant_t t)
{
    return t & SC_TENANT_VIF_BIT ? SC_TCLASS_VIF : SC_TCLASS_VBD;
}

/* "vbd", "vif": the settings' prefix (tenant.5.vif.weight) and the views'
 * class column. */
static inline const char *sc_tclass_name(enum sc_tclass c)
{
    return c == SC_TCLASS_VIF ? "vif" : c == SC_TCLASS_VBD ? "vbd" : "?";
}

/* The class named by s[0..len) ("vbd", "vif").  0 or -1. */
static inline int sc_tclass_parse(const char *s, size_t len, enum sc_tclass *out)
{
    for (int c = 0; c < SC_TCLASS__COUNT; c++) {
        const char *n = sc_tclass_name((enum sc_tclass)c);
        if (strlen(n) == len && strncmp(s, n, len) == 0) {
            *out = (enum sc_tclass)c;
            return 0;
        }
    }
    return -1;
}

#endif
