/*
 * xen_sched.c - Xen's schedulers and cpupools by name (xen_sched.h).
 */
#define __XEN_TOOLS__ 1
#include "xen_sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>
#include <xenstore.h>

static const struct {
    uint32_t id;
    const char *name;
} scheds[] = {
    { XEN_SCHEDULER_CREDIT, "credit" },     { XEN_SCHEDULER_CREDIT2, "credit2" },
    { XEN_SCHEDULER_ARINC653, "arinc653" }, { XEN_SCHEDULER_RTDS, "rtds" },
    { XEN_SCHEDULER_NULL, "null" },
};

const char *sc_xen_sched_name(uint32_t sched_id)
{
    for (size_t i = 0; i < sizeof(scheds) / sizeof(scheds[0]); i++)
        if (scheds[i].id == sched_id)
            return scheds[i].name;
    return "?";
}

int sc_xen_sched_id(const char *name)
{
    for (size_t i = 0; name && i < sizeof(scheds) / sizeof(scheds[0]); i++)
        if (strcmp(scheds[i].name, name) == 0)
            return (int)scheds[i].id;
    return -1;
}

void sc_xen_pool_name(struct xs_handle *xs, uint32_t id, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/local/pool/%u/name", id);
    unsigned n = 0;
    char *v = xs ? xs_read(xs, XBT_NULL, path, &n) : NULL;
    if (v && n)
        snprintf(buf, len, "%.*s", (int)n, v);
    else if (id == 0)
        snprintf(buf, len, "Pool-0");
    else
        snprintf(buf, len, "Pool-%u", id);
    free(v);
}
