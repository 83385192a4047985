/*
 * fe_keys.c - the frontend's keys for device classes (fe_keys.h).
 */
#include "fe_keys.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int sc_fe_key_fail(struct sc_device *dev, int rc, const char *dir, const char *key)
{
    const char *what = rc == -EINVAL   ? "malformed or out of range"
                       : rc == -ENOENT ? "missing"
                                       : "reading";
    sc_xenbus_device_fail(dev, rc, "%s %s/%s", what, dir, key);
    return rc;
}

static int read_uint(struct sc_device *dev, const char *dir, const char *key,
                     unsigned long long max, unsigned long long *out)
{
    return sc_xs_read_uint(sc_xenbus_xs(dev->bus), XBT_NULL, max, out, "%s/%s", dir, key);
}

int sc_fe_read_uint(struct sc_device *dev, const char *dir, const char *key,
                    unsigned long long max, unsigned long long *out)
{
    int rc = read_uint(dev, dir, key, max, out);
    return rc < 0 ? sc_fe_key_fail(dev, rc, dir, key) : 0;
}

int sc_fe_read_uint_opt(struct sc_device *dev, const char *dir, const char *key,
                        unsigned long long max, unsigned long long def,
                        unsigned long long *out)
{
    int rc = read_uint(dev, dir, key, max, out);
    if (rc == -ENOENT) {
        *out = def;
        return 1;
    }
    return rc < 0 ? sc_fe_key_fail(dev, rc, dir, key) : 0;
}

int sc_fe_read_bool(struct sc_device *dev, const char *dir, const char *key, bool def,
                    bool *out)
{
    unsigned long long v;
    int rc = sc_fe_read_uint_opt(dev, dir, key, 1, def, &v);
    if (rc >= 0)
        *out = v == 1;
    return rc;
}

bool sc_fe_read_bool_warn(struct sc_device *dev, const char *dir, const char *key, bool def)
{
    unsigned long long v;
    int rc = read_uint(dev, dir, key, 1, &v);
    if (rc == 0)
        return v == 1;
    if (rc != -ENOENT)
        sc_log(SC_LOG_WARN, dev->name, "%s/%s: %s, taken as %d", dir, key,
               rc == -EINVAL ? "not 0 or 1" : strerror(-rc), def);
    return def;
}

int sc_fe_num_queues(struct sc_device *dev, unsigned max, unsigned *nqueues)
{
    const char *key = "multi-queue-num-queues";
    unsigned long long v;
    int rc = sc_fe_read_uint_opt(dev, dev->frontend_path, key, UINT32_MAX, 1, &v);
    if (rc < 0)
        return rc;
    if (v == 0 || v > max) {
        sc_xenbus_device_fail(dev, -ENOSYS, "%s/%s: guest requested %llu queues, the maximum is %u",
                              dev->frontend_path, key, v, max);
        return -ENOSYS;
    }
    *nqueues = (unsigned)v;
    return 0;
}

int sc_fe_queue_dir(const struct sc_device *dev, unsigned n, unsigned i, char *buf, size_t len)
{
    int w = n == 1 ? snprintf(buf, len, "%s", dev->frontend_path)
                   : snprintf(buf, len, "%s/queue-%u", dev->frontend_path, i);
    return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}
