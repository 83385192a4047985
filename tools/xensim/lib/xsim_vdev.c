/*
 * xsim_vdev.c - virtual device names to device ids, as libxl computes them
 * (xensim plays the toolstack, and its tools take names as xl users write them).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xensim.h"

/* Digits only, no sign or blanks, at most max. */
static int parse_decimal(const char *s, unsigned long max, unsigned long *out)
{
    if (!s || *s < '0' || *s > '9')
        return -EINVAL;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

int xsim_vdev_to_devid(const char *vdev, uint32_t *devid)
{
    unsigned long v;
    if (parse_decimal(vdev, INT32_MAX, &v) == 0) {
        *devid = (uint32_t)v;
        return 0;
    }
    if (!vdev || strncmp(vdev, "xvd", 3) != 0)
        return -EINVAL;
    const char *p = vdev + 3;
    unsigned long disk = 0;
    int letters = 0;
    /* Bijective base 26, as Linux names them: a..z, aa..zz. */
    while (*p >= 'a' && *p <= 'z') {
        disk = disk * 26 + (unsigned long)(*p - 'a' + 1);
        letters++;
        p++;
    }
    if (letters == 0 || letters > 3)
        return -EINVAL;
    disk -= 1;
    unsigned long part = 0;
    if (*p && parse_decimal(p, 255, &part) < 0)
        return -EINVAL;
    if (disk < 16 && part < 16)
        *devid = (uint32_t)(202ul << 8 | disk << 4 | part);
    else if (disk < (1ul << 20))
        *devid = (uint32_t)(1ul << 28 | disk << 8 | part);
    else
        return -EINVAL;
    return 0;
}
