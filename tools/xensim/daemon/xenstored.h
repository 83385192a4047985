/*
 * xenstored.h - the xenstore daemon inside xensimd.
 *
 * Contract: speaks the wire protocol of <xen/io/xs_wire.h> over one Unix
 * stream socket per domain (<dir>/xs-<domid>.sock); every client of a
 * domain's socket acts as that domain, so the real libxenstore and
 * xenstore-utils (XENSTORED_PATH=<socket>) work unchanged.  Owns the tree,
 * permissions, watches, transactions and quotas.  Single-threaded: all calls
 * from xensimd's main loop.  Returns 0 or negative errno.
 */
#ifndef XENSIM_XENSTORED_H
#define XENSIM_XENSTORED_H

#include <stdint.h>
#include <xen/xen.h>

struct xsd;

struct xsd_limits {
    uint32_t max_value_bytes;   /* largest node value of an unprivileged domain (2048) */
    uint32_t max_nodes_per_dom; /* nodes an unprivileged domain may own (1000) */
    uint32_t max_watches_per_conn;      /* (128) */
    uint32_t max_transactions_per_conn; /* (10) */
};

/* Creates the store (with /, /local, /local/domain, /tool as xenstored does). */
struct xsd *xsd_create(const char *dir, const struct xsd_limits *limits);
void xsd_destroy(struct xsd *xsd);
/* An epoll fd, readable when xsd_dispatch() has work. */
int xsd_fd(struct xsd *xsd);
/* Accepts connections and serves every ready request; never blocks. */
void xsd_dispatch(struct xsd *xsd);

/* A domain starts existing: its socket is created, /local/domain/<domid>
 * (owned by it, readable by it) with `domid` and `name` keys is written by
 * dom0, and @introduceDomain fires.  For domid 0 only the socket. */
int xsd_domain_introduce(struct xsd *xsd, domid_t domid, const char *name);
/* A domain is gone: its socket and connections close, its watches and
 * transactions are dropped, @releaseDomain fires.  Its nodes stay (the
 * toolstack removes them, as with xl). */
int xsd_domain_release(struct xsd *xsd, domid_t domid);

/* Path of the socket a client of `domid` connects to (static buffer). */
const char *xsd_socket_path(struct xsd *xsd, domid_t domid);

#endif
