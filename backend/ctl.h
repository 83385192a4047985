/*
 * ctl.h - the control socket: JSON-RPC 2.0 over a Unix stream socket, one
 * request or response per line (newline-delimited JSON, jansson).
 *
 * Contract, server side: sc_ctl_open() binds the socket (refusing, with
 * -EADDRINUSE, when a live daemon already answers on it; a stale socket
 * file is replaced) and owns the listening fd, the clients and an epoll fd
 * over all of them.  Two ways to serve:
 * - inline: the owner thread polls sc_ctl_fd() and calls
 *   sc_ctl_dispatch(), which never blocks: it accepts, reads, answers each
 *   complete request line by calling the method, and writes what the
 *   socket takes (the rest when it becomes writable);
 * - threaded (sc_ctl_start): a thread of the server's own does all the
 *   socket work, so clients are served whatever the owner is doing; each
 *   method still runs on the owner thread (which polls sc_ctl_fd() and
 *   calls sc_ctl_dispatch()), within a deadline: past it, a view
 *   (SC_CTL_VIEW) called without params is answered from the owner's last
 *   sc_ctl_publish_views() (its object gets "snapshot_age_ms"), anything
 *   else gets SC_CTL_BUSY and is still carried out later.  At most SC_CTL_MAX_CLIENTS
 * clients (others are closed at once), requests up to SC_CTL_MAX_REQUEST
 * bytes (a longer one gets an error and the client is closed), and at most
 * SC_CTL_MAX_OUTPUT bytes of unsent answers per client (a client that does
 * not read is dropped).  Notifications (no "id") get no answer; batches are
 * refused.  Methods run on the owner thread.
 *
 * Local trust: the socket file gets the mode and group of its
 * sc_ctl_access (connecting needs write permission on it).  Whoever can
 * connect may call views (SC_CTL_VIEW); any other method changes state and
 * needs a trusted peer (sc_ctl_may_change, decided once per connection
 * from SO_PEERCRED and SO_PEERGROUPS at accept); others get
 * SC_CTL_FORBIDDEN with a message saying what it takes, and the refusal
 * is logged once per connection.
 *
 * Client side (sidecorectl, tests): sc_ctl_client_* make blocking calls
 * with a timeout.
 *
 * Returns: 0 or negative errno; pointer returners NULL + errno.
 */
#ifndef SC_CTL_H
#define SC_CTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#define SC_CTL_MAX_CLIENTS 16
#define SC_CTL_MAX_REQUEST (64 * 1024)
#define SC_CTL_MAX_OUTPUT  (16 * 1024 * 1024)

/* JSON-RPC 2.0 error codes (and ours, from -32000 down). */
#define SC_CTL_PARSE_ERROR      (-32700)
#define SC_CTL_INVALID_REQUEST  (-32600)
#define SC_CTL_METHOD_NOT_FOUND (-32601)
#define SC_CTL_INVALID_PARAMS   (-32602)
#define SC_CTL_INTERNAL_ERROR   (-32603)
#define SC_CTL_NOT_FOUND        (-32000) /* the device/guest named does not exist */
#define SC_CTL_UNSUPPORTED      (-32001) /* this daemon cannot do that */
#define SC_CTL_FAILED           (-32002) /* the operation failed; message says why */
#define SC_CTL_BUSY             (-32003) /* the owner thread did not answer in time */
#define SC_CTL_FORBIDDEN        (-32004) /* the caller may only call views */

#define SC_CTL_DEFAULT_MODE 0660 /* the socket file's mode */

struct sc_ctl_error {
    int code;
    char message[256];
};

/* Fills err (code and printf message); for methods. */
void sc_ctl_error_set(struct sc_ctl_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A method: `params` is the request's params (an object, an array or NULL;
 * borrowed).  Returns the result (a new reference, handed to the server),
 * or NULL after filling err. */
typedef json_t *sc_ctl_method_fn(void *ctx, json_t *params, struct sc_ctl_error *err);

/* A method that only reads: may be answered from a published snapshot. */
#define SC_CTL_VIEW 1u

struct sc_ctl_method {
    const char *name;
    sc_ctl_method_fn *fn;
    unsigned flags; /* SC_CTL_VIEW */
};

struct sc_ctl;

/* Who may connect and who may change state.  Groups are a name or a
 * decimal gid; NULL or "" for none. */
struct sc_ctl_access {
    const char *group;       /* the socket file's group [the daemon's] */
    unsigned mode;           /* the socket file's mode (0000..07777) */
    const char *admin_group; /* its members may call any method [none] */
};

/* One connected client's credentials (SO_PEERCRED), read at accept. */
struct sc_ctl_peer {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    bool may_change;     /* sc_ctl_may_change said yes: any method, not only views */
    bool refusal_logged; /* a refusal of this connection was logged already */
};

/* The trust decision: may a peer with these credentials call methods
 * that change state?  Yes for uid 0, for the daemon's own euid, and for a
 * member of *admin_gid (primary gid or one of `groups`, the supplementary
 * ones) when admin_gid is not NULL.  Pure; any thread. */
bool sc_ctl_may_change(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, uid_t euid,
                       const gid_t *admin_gid);

/* A group given as a name or a decimal gid.  0, -ENOENT (no such group),
 * -EINVAL (empty), or -errno from the group database. */
int sc_ctl_parse_group(const char *s, gid_t *gid);

/* Listens on `path` (its directory is created if missing, mode 0755) with
 * the socket file's group and mode set before it listens (no client
 * connects in between), per `access` (NULL: mode SC_CTL_DEFAULT_MODE, the
 * daemon's group, no admin group).  `methods` ends with a {NULL} entry
 * and, like ctx, outlives the server.  NULL + errno: EADDRINUSE when
 * another daemon serves the path, ENOENT for a group that does not exist
 * (logged, naming it), ENAMETOOLONG, or the socket call's error. */
struct sc_ctl *sc_ctl_open_access(const char *path, const struct sc_ctl_method *methods,
                                  void *ctx, const struct sc_ctl_access *access);
/* sc_ctl_open_access with access NULL. */
struct sc_ctl *sc_ctl_open(const char *path, const struct sc_ctl_method *methods, void *ctx);
/* Closes every client and the socket, and removes the socket file. */
void sc_ctl_close(struct sc_ctl *ctl);
/* Serves the socket from a thread of its own from now on; methods wait
 * for the owner at most timeout_ms.  0 or -errno.  Owner thread. */
int sc_ctl_start(struct sc_ctl *ctl, int timeout_ms);
/* Readable when sc_ctl_dispatch() has work. */
int sc_ctl_fd(const struct sc_ctl *ctl);
/* Owner thread: handles what is ready now (inline: the sockets; threaded:
 * the method calls posted); never blocks.  0 or -errno (epoll failed). */
int sc_ctl_dispatch(struct sc_ctl *ctl);
/* Owner thread, threaded mode: runs every view without params and keeps
 * the results for answers past the deadline.  No-op inline. */
void sc_ctl_publish_views(struct sc_ctl *ctl);
/* Any thread, threaded mode (from sc_ctl_start until sc_ctl_close): a
 * deep copy (the caller's) of the last publication of the view called
 * `name`, and when it was published (CLOCK_MONOTONIC ns), without waiting
 * for the owner.  For readers beside the socket (the metrics endpoint).
 * NULL + errno: ENOENT (no such view), EAGAIN (not published yet, or not
 * threaded), ENOMEM. */
json_t *sc_ctl_view_copy(struct sc_ctl *ctl, const char *name, uint64_t *published_ns);
/* Clients connected now (for status and tests).  Any thread. */
unsigned sc_ctl_nclients(const struct sc_ctl *ctl);
/* What sc_ctl_dispatch does with one request line (no newline) from
 * `peer`: parse, check (a method that is not a view needs
 * peer->may_change), call the method; the reply (a new reference) or NULL
 * for a notification.  Owner thread.  Public for tests/fuzz/fuzz_ctl.c. */
json_t *sc_ctl_handle_request(struct sc_ctl *ctl, struct sc_ctl_peer *peer, const char *line,
                              size_t len);

/* ---- client ---- */

struct sc_ctl_client;

/* Connects to `path`.  NULL + errno (ENOENT or ECONNREFUSED: no daemon). */
struct sc_ctl_client *sc_ctl_client_open(const char *path, int timeout_ms);
void sc_ctl_client_close(struct sc_ctl_client *c);
/* Calls `method` with `params` (borrowed; NULL for none) and waits for the
 * answer.  0 with *result (a new reference); -EREMOTEIO when the daemon
 * answered with an error (*code and msg filled); -ETIMEDOUT; -EPROTO for a
 * malformed answer; -ECONNRESET or another -errno when the connection
 * broke (msg filled in every failure). */
int sc_ctl_client_call(struct sc_ctl_client *c, const char *method, json_t *params,
                       json_t **result, int *code, char *msg, size_t msglen);

#endif
