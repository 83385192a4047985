/*
 * xenstored_int.h - internal contract between the xenstored_*.c files.
 *
 *   xenstored.c        public API (xenstored.h): domains, sockets, dispatch
 *   xenstored_conn.c   one client connection: buffers, epoll, queueing, drop
 *   xenstored_wire.c   request decoding and replies (one handler per type)
 *   xenstored_store.c  tree operations on a view (main tree or a transaction)
 *   xenstored_tx.c     transactions: copy-on-access overlay, validate, commit
 *   xenstored_tree.c   nodes, the path-keyed hash table, perms and paths
 *   xenstored_watch.c  watches and event delivery
 *
 * Everything runs on xensimd's main thread; nothing here locks.  Functions
 * return 0 or a negative errno; pointer returners NULL (+ errno) unless
 * documented otherwise.
 */
#ifndef XENSIM_XENSTORED_INT_H
#define XENSIM_XENSTORED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <xen/xen.h>
#include <xen/io/xs_wire.h>

#include "xenstored.h"

#define XSD_LOG(fmt, ...) fprintf(stderr, "xenstored: " fmt "\n", ##__VA_ARGS__)

/* ---- permissions (xenstored_tree.c) ---- */
#define XSD_PERM_NONE  0u
#define XSD_PERM_READ  1u
#define XSD_PERM_WRITE 2u
#define XSD_PERM_BOTH  3u
#define XSD_PERM_OWNER 8u
/* xenstored's per-node limit of ACL entries set by an unprivileged domain */
#define XSD_MAX_PERMS_UNPRIV 5

struct xsd_perm {
    uint32_t id;
    uint32_t bits; /* XSD_PERM_* */
};

/* p[0]: owner and the default for everyone else; p[1..]: per-domain ACLs. */
struct xsd_perms {
    uint32_t n;
    struct xsd_perm *p;
};

/* Who performs an operation: a connection's domain, or dom0 internally. */
struct xsd_actor {
    domid_t domid;
    bool privileged;
    bool has_target;  /* SET_TARGET: owner-like rights on target's nodes */
    domid_t target;
};

int perms_parse(const char *strings, uint32_t count, struct xsd_perms *out);
/* Text form "n0\0r5\0"; returns bytes written or -E2BIG. */
int perms_format(const struct xsd_perms *perms, char *buf, size_t cap);
int perms_copy(struct xsd_perms *dst, const struct xsd_perms *src);
void perms_free(struct xsd_perms *perms);
/* XSD_PERM_* bits `actor` holds on a node with `perms`. */
uint32_t perms_for(const struct xsd_actor *actor, const struct xsd_perms *perms);

/* ---- paths (xenstored_tree.c) ---- */
/* Makes `in` absolute ("/local/domain/<id>/in" when relative) and checks it
 * as xenstored does.  `allow_special` admits "@introduceDomain" and
 * "@releaseDomain".  Returns 0 or -EINVAL. */
int path_canonical(const struct xsd_actor *actor, const char *in, bool allow_special,
                   char *out, size_t cap);
bool path_is_special(const char *path);
/* Parent of an absolute path other than "/" into out (cap >= strlen+1). */
void path_parent(const char *path, char *out);
const char *path_basename(const char *path);
/* child equals parent or lies below it. */
bool path_is_below(const char *child, const char *parent);
/* "/local/domain/<id>" */
void path_domain(domid_t domid, char *out, size_t cap);

/* ---- nodes and the hash table (xenstored_tree.c) ---- */
struct xsd_node {
    struct xsd_node *hnext;
    uint32_t hash;
    char *path;
    char *value;
    uint32_t vlen;
    struct xsd_perms perms;
    char **children; /* names, in creation order as xenstored keeps them */
    uint32_t nchildren, cap_children;
    uint64_t gen; /* bumped on every change of the node or its child list */
    /* Only in a transaction's overlay: */
    uint64_t seen_gen; /* main tree's gen at first access (0: absent) */
    bool exists;
    bool modified;
};

struct xsd_tree {
    struct xsd_node **buckets;
    size_t nbuckets;
    size_t count;
};

int tree_init(struct xsd_tree *t);
void tree_fini(struct xsd_tree *t); /* frees every node */
struct xsd_node *tree_lookup(const struct xsd_tree *t, const char *path);
void tree_insert(struct xsd_tree *t, struct xsd_node *node);
struct xsd_node *tree_unlink(struct xsd_tree *t, const char *path);

struct xsd_node *node_new(const char *path);
void node_free(struct xsd_node *node);
void node_clear(struct xsd_node *node); /* drops value, perms, children */
int node_set_value(struct xsd_node *node, const void *value, uint32_t len);
int node_add_child(struct xsd_node *node, const char *name);
void node_del_child(struct xsd_node *node, const char *name);
/* Bytes of the children list in wire form ("a\0b\0"). */
size_t node_children_bytes(const struct xsd_node *node);
/* Deep copy of value, perms and children (not path or gen). */
int node_copy_contents(struct xsd_node *dst, const struct xsd_node *src);
/* Moves value, perms and children from src to dst (dst's are freed). */
void node_move_contents(struct xsd_node *dst, struct xsd_node *src);

/* ---- events (xenstored_watch.c) ---- */
struct xsd_event {
    char *path;  /* absolute node path or special name */
    bool exact;  /* only watches on exactly this path (per deleted node) */
    uint32_t nperms;
    struct xsd_perms perms[3]; /* a watcher needs read in any of them */
};

struct xsd_events {
    struct xsd_event *ev;
    uint32_t n, cap;
};

/* Records an event; perms sets may be NULL. */
int events_add(struct xsd_events *evs, const char *path, bool exact,
               const struct xsd_perms *a, const struct xsd_perms *b,
               const struct xsd_perms *c);
int events_append(struct xsd_events *dst, struct xsd_events *src); /* moves */
void events_free(struct xsd_events *evs);

/* ---- the daemon (xenstored.c) ---- */
struct xsd_conn;
struct xsd_tx;

enum xsd_ep_kind { XSD_EP_LISTENER, XSD_EP_CONN };

struct xsd_ep {
    enum xsd_ep_kind kind;
};

struct xsd_domain {
    struct xsd_ep ep; /* first: epoll data points here */
    struct xsd_domain *next;
    struct xsd *xsd;
    domid_t domid;
    int listen_fd;
    bool has_target;
    domid_t target;
};

struct xsd {
    char dir[256];
    int epfd;
    struct xsd_limits lim;
    struct xsd_tree tree;
    uint64_t gen;                 /* last generation handed out */
    uint32_t *owned;              /* nodes owned, by domid */
    struct xsd_perms special[2];  /* @introduceDomain, @releaseDomain */
    struct xsd_domain *domains;
    struct xsd_conn *conns;
    struct xsd_conn *graveyard;   /* dropped, freed after dispatch */
    struct xsd_domain *dead_domains; /* released during dispatch */
    bool in_dispatch;
    uint32_t next_conn_id;
};

struct xsd_domain *xsd_find_domain(struct xsd *xsd, domid_t domid);
/* Wire INTRODUCE/RELEASE and the public calls share these. */
int xsd_introduce_socket(struct xsd *xsd, domid_t domid);
int xsd_release_domain(struct xsd *xsd, domid_t domid);
void xsd_set_target(struct xsd *xsd, domid_t domid, domid_t target);
/* Index into xsd->special for "@introduceDomain"/"@releaseDomain", or -1. */
int xsd_special_index(const char *name);
uint64_t xsd_next_gen(struct xsd *xsd);

/* ---- connections (xenstored_conn.c) ---- */
struct xsd_watch {
    struct xsd_watch *next;
    char *path;       /* absolute or special */
    char *token;
    bool relative;    /* events carry the path relative to the domain's home */
};

#define XSD_INBUF_SIZE (4 * (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX))

struct xsd_outmsg {
    struct xsd_outmsg *next;
    uint32_t len;  /* header + payload */
    uint32_t sent;
    char data[];
};

struct xsd_conn {
    struct xsd_ep ep; /* first: epoll data points here */
    struct xsd_conn *next;
    struct xsd *xsd;
    struct xsd_domain *dom;
    struct xsd_actor actor;
    uint32_t id;
    int fd;
    bool dead;
    bool want_out; /* EPOLLOUT registered */
    bool logged_bad_type; /* log a client's unknown types once */
    size_t in_len;
    char inbuf[XSD_INBUF_SIZE];
    struct xsd_outmsg *out_head, *out_tail;
    size_t out_bytes;
    struct xsd_watch *watches;
    uint32_t nwatches;
    struct xsd_tx *txs;
    uint32_t ntxs;
    uint32_t next_txid;
};

int conn_accept(struct xsd_domain *dom);
void conn_handle(struct xsd_conn *conn, uint32_t epoll_events);
/* Queues a message (req_id/tx_id echoed); too long a reply becomes E2BIG. */
void conn_send(struct xsd_conn *conn, uint32_t type, uint32_t req_id, uint32_t tx_id,
               const void *data, uint32_t len);
void conn_send_error(struct xsd_conn *conn, const struct xsd_sockmsg *req, int err);
void conn_send_event(struct xsd_conn *conn, const char *path, const char *token);
/* Closes the socket, drops watches and transactions; freed later. */
void conn_drop(struct xsd_conn *conn, const char *why);
void conn_free(struct xsd_conn *conn);

/* ---- wire (xenstored_wire.c) ---- */
/* Serves one complete request; payload has len bytes plus a NUL after. */
void wire_process(struct xsd_conn *conn, const struct xsd_sockmsg *hdr, char *payload);

/* ---- store operations (xenstored_store.c) ---- */
struct xsd_view {
    struct xsd *xsd;
    struct xsd_tx *tx;              /* NULL: the main tree */
    const struct xsd_actor *actor;
    struct xsd_events *events;      /* changes made, for watches */
};

/* Lookup for reading: node, or NULL with *err (-ENOENT/-EACCES) */
const struct xsd_node *store_get(struct xsd_view *v, const char *path, uint32_t perm,
                                 int *err);
int store_write(struct xsd_view *v, const char *path, const void *value, uint32_t len);
int store_mkdir(struct xsd_view *v, const char *path);
int store_rm(struct xsd_view *v, const char *path);
int store_set_perms(struct xsd_view *v, const char *path, const struct xsd_perms *perms);
/* Runs one op on the main tree and fires its watches. */
void store_fire(struct xsd *xsd, struct xsd_events *evs);

/* ---- transactions (xenstored_tx.c) ---- */
struct xsd_tx {
    struct xsd_tx *next;
    uint32_t id;
    domid_t domid;
    struct xsd_tree overlay; /* every node the transaction touched */
    int64_t own_delta;       /* nodes gained by domid inside the transaction */
    struct xsd_events events;
};

struct xsd_tx *tx_new(uint32_t id, domid_t domid);
void tx_free(struct xsd_tx *tx);
/* The overlay entry for path, copied from the main tree on first access. */
struct xsd_node *tx_entry(struct xsd *xsd, struct xsd_tx *tx, const char *path);
/* Validates against the main tree and applies; the transaction's events are
 * moved into *evs.  -EAGAIN on conflict, -ENOSPC over quota. */
int tx_commit(struct xsd *xsd, struct xsd_tx *tx, uint32_t max_nodes, bool privileged,
              struct xsd_events *evs);

/* ---- watches (xenstored_watch.c) ---- */
int watch_add(struct xsd_conn *conn, const char *path, const char *token);
int watch_remove(struct xsd_conn *conn, const char *path, const char *token);
void watch_clear(struct xsd_conn *conn);
/* Delivers every event to the permitted watchers of every connection. */
void watch_fire(struct xsd *xsd, const struct xsd_events *evs);
void watch_fire_special(struct xsd *xsd, const char *name);
/* The path a watch reports for `abs` (relative watches strip the home). */
const char *watch_event_path(const struct xsd_conn *conn, const struct xsd_watch *w,
                             const char *abs);

#endif
