/*
 * metrics_addr.h - where the metrics endpoint listens: the `metrics`
 * setting (--metrics / `metrics =`), parsed and printed.
 *
 * Contract: pure functions over the caller's buffers, any thread; they
 * never touch the system (no resolver: hosts are numeric), so the config
 * can check the setting without binding anything.  Forms:
 *   off                  no endpoint (the default)
 *   PORT                 127.0.0.1:PORT (loopback: metrics name every guest)
 *   IPV4:PORT            e.g. 0.0.0.0:9464, 192.0.2.1:9464
 *   [IPV6]:PORT          e.g. [::1]:9464, [::]:9464
 *   localhost:PORT       the same as 127.0.0.1:PORT
 *   unix:PATH            a Unix stream socket (curl --unix-socket PATH)
 * PORT is 0..65535; 0 takes a free port (the daemon logs which, and
 * `sidecorectl status` shows it).
 * Returns: 0 or -EINVAL.
 */
#ifndef SC_METRICS_ADDR_H
#define SC_METRICS_ADDR_H

#include <stddef.h>
#include <stdint.h>

#define SC_METRICS_HOST_MAX 64  /* a numeric host with its NUL */
#define SC_METRICS_PATH_MAX 108 /* sun_path */
#define SC_METRICS_WHERE_MAX (SC_METRICS_PATH_MAX + 8)

enum sc_metrics_kind {
    SC_METRICS_OFF,  /* no endpoint */
    SC_METRICS_INET, /* TCP on host:port (IPv4) */
    SC_METRICS_INET6,/* TCP on [host]:port */
    SC_METRICS_UNIX, /* a Unix stream socket at path */
};

struct sc_metrics_addr {
    enum sc_metrics_kind kind;
    char host[SC_METRICS_HOST_MAX]; /* numeric, without brackets */
    uint16_t port;
    char path[SC_METRICS_PATH_MAX];
};

/* Parses one of the forms above into *out.  0 or -EINVAL (*out then off). */
int sc_metrics_addr_parse(const char *s, struct sc_metrics_addr *out);
/* "off", "127.0.0.1:9464", "[::1]:9464" or "unix:/run/x.sock" into buf
 * (truncated to len).  Returns buf. */
char *sc_metrics_addr_format(const struct sc_metrics_addr *a, char *buf, size_t len);

#endif
