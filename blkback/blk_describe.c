/*
 * blk_describe.c - the vbd device as sidecorectl shows it: the "class"
 * object of the devices view (blk_device_describe) and its one-line
 * summary.  Control thread only (blk_dev.h).
 */
#include <errno.h>
#include <stdio.h>

#include "blk_dev.h"

static void fmt_size(uint64_t bytes, char *buf, size_t len)
{
    static const char units[] = "KMGTPE";
    double v = (double)bytes;
    int u = -1;
    while (v >= 1024.0 && u < (int)sizeof(units) - 2) {
        v /= 1024.0;
        u++;
    }
    if (u < 0)
        snprintf(buf, len, "%lluB", (unsigned long long)bytes);
    else
        snprintf(buf, len, "%.1f%ciB", v, units[u]);
}

static json_t *describe_store(const struct blk_dev *bd)
{
    const struct blk_config *cfg = &bd->bc->cfg;
    return json_pack("{s:I, s:I, s:i, s:i, s:b, s:{s:b, s:b, s:b, s:i, s:i, s:i}}",
                     "size_bytes", (json_int_t)bd->info.size_bytes,
                     "sectors", (json_int_t)disk_sectors(bd),
                     "sector_size", (int)bd->info.logical_sector,
                     "physical_sector_size", (int)bd->info.physical_sector,
                     "null_store", bd->info.is_null,
                     "offered", "flush", offer_flush(bd), "discard", offer_discard(bd),
                     "persistent", offer_persistent(bd),
                     "max_indirect_segments", (int)cfg->max_indirect_segments,
                     "max_queues", (int)cfg->max_queues,
                     "max_ring_page_order", (int)cfg->max_ring_page_order);
}

static json_t *describe_connection(const struct blk_dev *bd)
{
    struct blk_limits lim;
    limits_of(bd, &lim);
    return json_pack("{s:i, s:i, s:s, s:b, s:i}", "queues", (int)bd->nvqs,
                     "ring_page_order", bd->ring_order == UINT32_MAX ? -1 : (int)bd->ring_order,
                     "abi", blk_abi_str(bd->abi), "persistent", bd->persistent,
                     "max_indirect_segments", (int)lim.max_indirect_segments);
}

/* "64.0MiB rw, x86_64-abi, order 4, persistent, indirect 256" */
static void summary(const struct blk_dev *bd, char *buf, size_t len)
{
    char size[32] = "no store";
    if (bd->store)
        fmt_size(bd->info.size_bytes, size, sizeof(size));
    int n = snprintf(buf, len, "%s %s%s", size, bd->read_only ? "ro" : "rw",
                     bd->cdrom ? " cdrom" : "");
    if (n < 0 || (size_t)n >= len || !bd->vqs)
        return;
    struct blk_limits lim;
    limits_of(bd, &lim);
    char order[24] = "legacy ring";
    if (bd->ring_order != UINT32_MAX)
        snprintf(order, sizeof(order), "order %u", bd->ring_order);
    char ind[24] = "";
    if (lim.max_indirect_segments)
        snprintf(ind, sizeof(ind), ", indirect %u", lim.max_indirect_segments);
    snprintf(buf + n, len - (size_t)n, ", %s, %s%s%s", blk_abi_str(bd->abi), order,
             bd->persistent ? ", persistent" : "", ind);
}

json_t *blk_device_describe(struct sc_device *dev)
{
    if (!blk_device_is_vbd(dev)) {
        errno = EINVAL;
        return NULL;
    }
    const struct blk_dev *bd = dev->priv;
    errno = 0;
    if (!bd)
        return NULL; /* not probed (yet) */
    char line[160];
    summary(bd, line, sizeof(line));
    json_t *o = json_pack("{s:s, s:s?, s:s, s:b, s:b, s:b, s:o*, s:o*}", "summary", line,
                          "params", bd->params, "mode", bd->read_only ? "r" : "w",
                          "cdrom", bd->cdrom, "removable", bd->removable,
                          "discard_enable", bd->discard_enable,
                          "store", bd->store ? describe_store(bd) : NULL,
                          "connection", bd->vqs ? describe_connection(bd) : NULL);
    if (!o)
        errno = ENOMEM;
    return o;
}
