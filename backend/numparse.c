/*
 * numparse.c - a decimal number (numparse.h).
 */
#include "numparse.h"

#include <ctype.h>
#include <errno.h>

int sc_parse_decimal(const char *s, unsigned long long *out, const char **end)
{
    if (!s || !isdigit((unsigned char)s[0]))
        return -EINVAL;
    unsigned long long v = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (~0ull - 9) / 10)
            return -EINVAL;
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    *out = v;
    *end = p;
    return 0;
}
