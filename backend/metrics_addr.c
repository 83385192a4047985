/*
 * metrics_addr.c - the metrics endpoint's address setting (metrics_addr.h).
 */
#include "metrics_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *out)
{
    if (!*s || strlen(s) > 5)
        return -EINVAL;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -EINVAL;
    unsigned long v = strtoul(s, NULL, 10);
    if (v > 65535)
        return -EINVAL;
    *out = (uint16_t)v;
    return 0;
}

static int parse(const char *s, struct sc_metrics_addr *a)
{
    if (strcmp(s, "off") == 0)
        return 0;
    if (strncmp(s, "unix:", 5) == 0) {
        const char *path = s + 5;
        if (!*path || strlen(path) >= sizeof(a->path))
            return -EINVAL;
        a->kind = SC_METRICS_UNIX;
        snprintf(a->path, sizeof(a->path), "%s", path);
        return 0;
    }
    const char *colon = strrchr(s, ':');
    if (!colon) { /* a port alone: loopback */
        a->kind = SC_METRICS_INET;
        snprintf(a->host, sizeof(a->host), "127.0.0.1");
        return parse_port(s, &a->port);
    }
    if (parse_port(colon + 1, &a->port) < 0)
        return -EINVAL;
    size_t hlen = (size_t)(colon - s);
    const char *host = s;
    bool v6 = hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']';
    if (v6) {
        host++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof(a->host))
        return -EINVAL;
    memcpy(a->host, host, hlen);
    a->host[hlen] = '\0';
    unsigned char buf[sizeof(struct in6_addr)];
    if (v6) {
        a->kind = SC_METRICS_INET6;
        return inet_pton(AF_INET6, a->host, buf) == 1 ? 0 : -EINVAL;
    }
    a->kind = SC_METRICS_INET;
    if (strcmp(a->host, "localhost") == 0)
        snprintf(a->host, sizeof(a->host), "127.0.0.1");
    /* inet_pton, not inet_aton: "1" or "0x7f.1" are not addresses here */
    return inet_pton(AF_INET, a->host, buf) == 1 ? 0 : -EINVAL;
}

int sc_metrics_addr_parse(const char *s, struct sc_metrics_addr *out)
{
    memset(out, 0, sizeof(*out));
    int rc = s ? parse(s, out) : -EINVAL;
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

char *sc_metrics_addr_format(const struct sc_metrics_addr *a, char *buf, size_t len)
{
    switch (a->kind) {
    case SC_METRICS_INET:
        snprintf(buf, len, "%s:%u", a->host, a->port);
        break;
    case SC_METRICS_INET6:
        snprintf(buf, len, "[%s]:%u", a->host, a->port);
        break;
    case SC_METRICS_UNIX:
        snprintf(buf, len, "unix:%s", a->path);
        break;
    default:
        snprintf(buf, len, "off");
        break;
    }
    return buf;
}
