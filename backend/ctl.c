/*
 * ctl.c - JSON-RPC 2.0 over a Unix socket, server and client (ctl.h has
 * the contract).
 *
 * The server is non-blocking throughout: a slow or stuck admin client must
 * never hold the thread serving the others (inline, that is the owner,
 * which also runs the device lifecycle).  Answers that the socket does not
 * take at once wait in a per-client buffer, flushed on EPOLLOUT.  Threaded,
 * the server's thread does the socket work and ctl_calls.c carries each
 * method to the owner.
 */
#include "ctl.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>

#include "ctl_calls.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

struct ctl_client {
    int fd;              /* -1: free slot */
    char *in;            /* SC_CTL_MAX_REQUEST bytes */
    size_t in_len;
    char *out;
    size_t out_len, out_cap, out_off;
    bool want_out;       /* EPOLLOUT registered */
    bool closing;        /* close once out is flushed */
    struct sc_ctl_peer peer;
};

struct sc_ctl {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int listen_fd;
    int epfd;
    const struct sc_ctl_method *methods;
    void *ctx;
    uid_t euid;                /* trusted, like root */
    bool has_admin;
    gid_t admin_gid;           /* its members are trusted (if has_admin) */
    char admin_name[64];       /* as given, for the refusal's message */
    struct ctl_client clients[SC_CTL_MAX_CLIENTS];
    _Atomic unsigned nclients;
    /* threaded mode */
    bool threaded;
    pthread_t thread;
    int stop_efd;              /* written by sc_ctl_close: the thread ends */
    struct ctl_calls calls;
};

#define LISTEN_TAG ((uint64_t)-1)
#define STOP_TAG   ((uint64_t)-2)

void sc_ctl_error_set(struct sc_ctl_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

static int make_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (!path || !*path || strlen(path) >= sizeof(sa->sun_path))
        return -ENAMETOOLONG;
    memcpy(sa->sun_path, path, strlen(path));
    return 0;
}

/* A live server answers connect(); a stale socket file refuses it. */
static bool socket_alive(const struct sockaddr_un *sa)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool alive = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
    close(fd);
    return alive;
}

static void mkdir_parent(const char *path)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return;
    *slash = '\0';
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        sc_log(SC_LOG_WARN, "ctl", "mkdir %s: %s", dir, strerror(errno));
}

bool sc_ctl_may_change(uid_t uid, gid_t gid, const gid_t *groups, size_t ngroups, uid_t euid,
                       const gid_t *admin_gid)
{
    if (uid == 0 || uid == euid)
        return true;
    if (!admin_gid)
        return false;
    if (gid == *admin_gid)
        return true;
    for (size_t i = 0; i < ngroups; i++)
        if (groups[i] == *admin_gid)
            return true;
    return false;
}

int sc_ctl_parse_group(const char *s, gid_t *gid)
{
    if (!s || !*s)
        return -EINVAL;
    if (strspn(s, "0123456789") == strlen(s)) {
        errno = 0;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || *end || v >= (gid_t)-1)
            return -EINVAL;
        *gid = (gid_t)v; /* a number need not be in the group database (as chown) */
        return 0;
    }
    struct group gr, *found = NULL;
    char buf[16384];
    int rc = getgrnam_r(s, &gr, buf, sizeof(buf), &found);
    if (rc)
        return -rc;
    if (!found)
        return -ENOENT;
    *gid = found->gr_gid;
    return 0;
}

/* The socket file's group and mode, set between bind and listen (a
 * connect() before listen is refused, so nobody gets in with the wrong
 * permissions).  0 or -errno (logged). */
static int set_file_access(const char *path, const struct sc_ctl_access *acc)
{
    unsigned mode = acc ? acc->mode : SC_CTL_DEFAULT_MODE;
    if (acc && acc->group && *acc->group) {
        gid_t gid;
        int rc = sc_ctl_parse_group(acc->group, &gid);
        if (rc < 0) {
            sc_log(SC_LOG_ERR, "ctl", "ctl-group '%s': %s: name an existing group or a gid",
                   acc->group, rc == -ENOENT ? "no such group" : strerror(-rc));
            return rc == -EINVAL ? -ENOENT : rc;
        }
        if (chown(path, (uid_t)-1, gid) < 0) {
            rc = -errno;
            sc_log(SC_LOG_ERR, "ctl", "%s: giving the socket to group '%s' (gid %u): %s", path,
                   acc->group, (unsigned)gid, strerror(errno));
            return rc;
        }
    }
    if (chmod(path, mode & 07777) < 0) {
        int rc = -errno;
        sc_log(SC_LOG_ERR, "ctl", "%s: chmod %04o: %s", path, mode, strerror(errno));
        return rc;
    }
    return 0;
}

struct sc_ctl *sc_ctl_open(const char *path, const struct sc_ctl_method *methods, void *ctx)
{
    return sc_ctl_open_access(path, methods, ctx, NULL);
}

struct sc_ctl *sc_ctl_open_access(const char *path, const struct sc_ctl_method *methods,
                                  void *ctx, const struct sc_ctl_access *access)
{
    struct sockaddr_un sa;
    int ret = make_addr(path, &sa);
    if (ret < 0 || !methods || (access && access->mode > 07777)) {
        errno = ret < 0 ? -ret : EINVAL;
        return NULL;
    }
    gid_t admin_gid = 0;
    if (access && access->admin_group && *access->admin_group) {
        ret = sc_ctl_parse_group(access->admin_group, &admin_gid);
        if (ret < 0) {
            sc_log(SC_LOG_ERR, "ctl", "ctl-admin-group '%s': %s: name an existing group or a gid",
                   access->admin_group, ret == -ENOENT ? "no such group" : strerror(-ret));
            errno = ret == -EINVAL ? ENOENT : -ret;
            return NULL;
        }
    }
    struct sc_ctl *ctl = calloc(1, sizeof(*ctl));
    if (!ctl)
        return NULL;
    snprintf(ctl->path, sizeof(ctl->path), "%s", path);
    ctl->methods = methods;
    ctl->ctx = ctx;
    ctl->euid = geteuid();
    if (access && access->admin_group && *access->admin_group) {
        ctl->has_admin = true;
        ctl->admin_gid = admin_gid;
        snprintf(ctl->admin_name, sizeof(ctl->admin_name), "%s", access->admin_group);
    }
    ctl->epfd = -1;
    ctl->stop_efd = -1;
    for (unsigned i = 0; i < SC_CTL_MAX_CLIENTS; i++)
        ctl->clients[i].fd = -1;
    ctl->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ctl->listen_fd < 0)
        goto fail;
    mkdir_parent(path);
    if (bind(ctl->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (errno != EADDRINUSE)
            goto fail;
        if (socket_alive(&sa)) {
            sc_log(SC_LOG_ERR, "ctl",
                   "%s: another sidecored is serving this socket: stop it, or give this one "
                   "another --ctl", path);
            errno = EADDRINUSE;
            goto fail;
        }
        /* Only a socket is ours to replace: a file there is someone's. */
        struct stat st;
        if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
            sc_log(SC_LOG_ERR, "ctl", "%s exists and is not a socket: remove it, or give --ctl "
                   "another path", path);
            errno = EEXIST;
            goto fail_quiet;
        }
        sc_log(SC_LOG_INFO, "ctl", "%s: replacing a stale socket", path);
        if (unlink(path) < 0 || bind(ctl->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            goto fail;
    }
    /* the socket file is ours from here: sc_ctl_close removes it */
    ret = set_file_access(path, access);
    if (ret < 0) {
        errno = -ret;
        goto fail_unlink_quiet;
    }
    if (listen(ctl->listen_fd, SC_CTL_MAX_CLIENTS) < 0)
        goto fail_unlink;
    ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ctl->epfd < 0)
        goto fail_unlink;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = LISTEN_TAG };
    if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->listen_fd, &ev) < 0)
        goto fail_unlink;
    return ctl;

fail_unlink_quiet: /* set_file_access logged why */
    ret = errno;
    unlink(path);
    close(ctl->listen_fd);
    free(ctl);
    errno = ret;
    return NULL;
fail_unlink:
    ret = errno;
    unlink(path);
    errno = ret;
fail:
    ret = errno;
    if (ret != EADDRINUSE)
        sc_log(SC_LOG_ERR, "ctl", "cannot create the control socket %s: %s (create its "
               "directory, or give --ctl another path)", path, strerror(ret));
    errno = ret;
fail_quiet:
    ret = errno;
    if (ctl->listen_fd >= 0)
        close(ctl->listen_fd);
    if (ctl->epfd >= 0)
        close(ctl->epfd);
    free(ctl);
    errno = ret;
    return NULL;
}

static void client_drop(struct sc_ctl *ctl, struct ctl_client *c)
{
    if (c->fd < 0)
        return;
    epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    ctl->nclients--;
}

void sc_ctl_close(struct sc_ctl *ctl)
{
    if (!ctl)
        return;
    if (ctl->threaded) {
        uint64_t one = 1;
        while (write(ctl->stop_efd, &one, sizeof(one)) < 0 && errno == EINTR)
            ;
        pthread_join(ctl->thread, NULL);
        ctl_calls_destroy(&ctl->calls);
    }
    if (ctl->stop_efd >= 0)
        close(ctl->stop_efd);
    for (unsigned i = 0; i < SC_CTL_MAX_CLIENTS; i++)
        client_drop(ctl, &ctl->clients[i]);
    close(ctl->listen_fd);
    close(ctl->epfd);
    unlink(ctl->path);
    free(ctl);
}

int sc_ctl_fd(const struct sc_ctl *ctl)
{
    return ctl->threaded ? ctl->calls.efd : ctl->epfd;
}

unsigned sc_ctl_nclients(const struct sc_ctl *ctl)
{
    return atomic_load_explicit(&((struct sc_ctl *)ctl)->nclients, memory_order_relaxed);
}

static void client_want_out(struct sc_ctl *ctl, struct ctl_client *c, bool want)
{
    if (c->want_out == want)
        return;
    struct epoll_event ev = {
        .events = EPOLLIN | (want ? EPOLLOUT : 0),
        .data.u64 = (uint64_t)(c - ctl->clients),
    };
    if (epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->want_out = want;
}

/* Writes what the socket takes.  -errno when the client is gone. */
static int client_flush(struct sc_ctl *ctl, struct ctl_client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                client_want_out(ctl, c, true);
                return 0;
            }
            return -errno;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = c->out_len = 0;
    client_want_out(ctl, c, false);
    return 0;
}

static int client_queue(struct ctl_client *c, const char *buf, size_t len)
{
    if (c->out_len + len > SC_CTL_MAX_OUTPUT)
        return -ENOBUFS;
    if (c->out_len + len > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *n = realloc(c->out, cap);
        if (!n)
            return -ENOMEM;
        c->out = n;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, buf, len);
    c->out_len += len;
    return 0;
}

static int client_send_json(struct ctl_client *c, json_t *msg)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    if (!text)
        return -ENOMEM;
    size_t len = strlen(text);
    int ret = client_queue(c, text, len);
    if (ret == 0)
        ret = client_queue(c, "\n", 1);
    free(text);
    return ret;
}

static json_t *error_reply(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
                     "error", "code", code, "message", message);
}

/* A method that is not a view, called by a peer that may only call views:
 * the answer says what it takes; the first refusal of a connection is
 * logged (a client looping on it does not flood the log). */
static json_t *forbidden_reply(struct sc_ctl *ctl, struct sc_ctl_peer *peer, json_t *id,
                               const char *method)
{
    char who[48] = "root";
    if (ctl->euid != 0)
        snprintf(who, sizeof(who), "root or as uid %u (the daemon's)", (unsigned)ctl->euid);
    char msg[256];
    if (ctl->has_admin)
        snprintf(msg, sizeof(msg),
                 "method '%.48s' changes state: run as %s or as a member of the "
                 "ctl-admin-group '%.48s' (uid %u may only call views)",
                 method, who, ctl->admin_name, (unsigned)peer->uid);
    else
        snprintf(msg, sizeof(msg),
                 "method '%.48s' changes state: run as %s, or as a member of a group "
                 "given to sidecored --ctl-admin-group (uid %u may only call views)",
                 method, who, (unsigned)peer->uid);
    if (!peer->refusal_logged) {
        peer->refusal_logged = true;
        sc_log(SC_LOG_WARN, "ctl", "refused '%.48s' to pid %d uid %u gid %u: views only%s",
               method, (int)peer->pid, (unsigned)peer->uid, (unsigned)peer->gid,
               ctl->has_admin ? " (not in the ctl-admin-group)" : " (no ctl-admin-group)");
    }
    return id ? error_reply(id, SC_CTL_FORBIDDEN, msg) : NULL;
}

/* One request line -> the reply to send, or NULL for a notification. */
json_t *sc_ctl_handle_request(struct sc_ctl *ctl, struct sc_ctl_peer *peer, const char *line,
                              size_t len)
{
    json_error_t jerr;
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req) {
        char msg[200];
        snprintf(msg, sizeof(msg), "parse error: %s", jerr.text);
        return error_reply(NULL, SC_CTL_PARSE_ERROR, msg);
    }
    json_t *reply = NULL;
    json_t *id = json_object_get(req, "id");
    if (!json_is_object(req)) {
        reply = error_reply(NULL, SC_CTL_INVALID_REQUEST,
                            json_is_array(req) ? "batches are not supported"
                                               : "a request is a JSON object");
        goto out;
    }
    if (id && !json_is_string(id) && !json_is_integer(id) && !json_is_null(id)) {
        reply = error_reply(NULL, SC_CTL_INVALID_REQUEST, "id must be a string or an integer");
        goto out;
    }
    const char *version = json_string_value(json_object_get(req, "jsonrpc"));
    const char *method = json_string_value(json_object_get(req, "method"));
    json_t *params = json_object_get(req, "params");
    if (!version || strcmp(version, "2.0") != 0) {
        reply = error_reply(id, SC_CTL_INVALID_REQUEST, "jsonrpc must be \"2.0\"");
        goto out;
    }
    if (!method) {
        reply = error_reply(id, SC_CTL_INVALID_REQUEST, "method must be a string");
        goto out;
    }
    if (params && !json_is_object(params) && !json_is_array(params)) {
        reply = error_reply(id, SC_CTL_INVALID_REQUEST, "params must be an object or array");
        goto out;
    }
    const struct sc_ctl_method *m = ctl->methods;
    while (m->name && strcmp(m->name, method) != 0)
        m++;
    if (!m->name) {
        char msg[200];
        snprintf(msg, sizeof(msg), "no method '%.100s'", method);
        reply = error_reply(id, SC_CTL_METHOD_NOT_FOUND, msg);
        goto out;
    }
    if (!(m->flags & SC_CTL_VIEW) && !peer->may_change) {
        reply = forbidden_reply(ctl, peer, id, m->name);
        goto out;
    }
    struct sc_ctl_error err = { .code = SC_CTL_INTERNAL_ERROR, .message = "internal error" };
    json_t *result = ctl->threaded
                         ? ctl_calls_run(&ctl->calls, ctl->methods, m, ctl->ctx, params, &err)
                         : m->fn(ctl->ctx, params, &err);
    if (!id) { /* a notification: done, nothing to say */
        json_decref(result);
        goto out;
    }
    if (result)
        reply = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result);
    else
        reply = error_reply(id, err.code, err.message);
out:
    json_decref(req);
    return reply;
}

/* Answers every complete line in c->in.  -errno to drop the client. */
static int client_process(struct sc_ctl *ctl, struct ctl_client *c)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(c->in + start, '\n', c->in_len - start);
        if (!nl)
            break;
        size_t len = (size_t)(nl - (c->in + start));
        const char *line = c->in + start;
        start += len + 1;
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
            len--;
        if (len == 0)
            continue;
        json_t *reply = sc_ctl_handle_request(ctl, &c->peer, line, len);
        if (reply) {
            int ret = client_send_json(c, reply);
            json_decref(reply);
            if (ret < 0)
                return ret;
        }
    }
    memmove(c->in, c->in + start, c->in_len - start);
    c->in_len -= start;
    if (c->in_len == SC_CTL_MAX_REQUEST) {
        char msg[100];
        snprintf(msg, sizeof(msg), "request larger than %d bytes", SC_CTL_MAX_REQUEST);
        json_t *reply = error_reply(NULL, SC_CTL_INVALID_REQUEST, msg);
        if (reply)
            client_send_json(c, reply);
        json_decref(reply);
        c->in_len = 0;
        c->closing = true;
    }
    return 0;
}

static void client_read(struct sc_ctl *ctl, struct ctl_client *c)
{
    while (!c->closing) {
        ssize_t n = recv(c->fd, c->in + c->in_len, SC_CTL_MAX_REQUEST - c->in_len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                goto drop;
            break;
        }
        if (n == 0) {
            c->closing = true; /* the peer finished sending; answer what it asked */
            break;
        }
        c->in_len += (size_t)n;
        if (client_process(ctl, c) < 0)
            goto drop;
    }
    if (client_flush(ctl, c) < 0)
        goto drop;
    if (c->closing && c->out_len == 0)
        goto drop;
    return;
drop:
    client_drop(ctl, c);
}

/* The peer's credentials and the trust decision, once per connection
 * (SO_PEERCRED: as they were at connect()).  Unreadable credentials get
 * views only. */
static void peer_read(const struct sc_ctl *ctl, int fd, struct sc_ctl_peer *p)
{
    memset(p, 0, sizeof(*p));
    p->uid = (uid_t)-1;
    p->gid = (gid_t)-1;
    struct ucred cr;
    socklen_t len = sizeof(cr);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) {
        sc_log_rl(SC_LOG_WARN, "ctl", "SO_PEERCRED: %s (the client gets views only)",
                  strerror(errno));
        return;
    }
    p->pid = cr.pid;
    p->uid = cr.uid;
    p->gid = cr.gid;
    gid_t small[64], *groups = small;
    size_t n = 0;
#ifdef SO_PEERGROUPS
    /* Only when they matter: the uid alone may already decide. */
    if (ctl->has_admin && !sc_ctl_may_change(cr.uid, cr.gid, NULL, 0, ctl->euid, NULL)) {
        socklen_t glen = sizeof(small);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, small, &glen) == 0) {
            n = glen / sizeof(gid_t);
        } else if (errno == ERANGE && (groups = malloc(glen))) {
            if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
                n = glen / sizeof(gid_t);
        } else {
            groups = small; /* old kernel or no memory: the primary group only */
        }
    }
#endif
    p->may_change = sc_ctl_may_change(cr.uid, cr.gid, groups, n, ctl->euid,
                                      ctl->has_admin ? &ctl->admin_gid : NULL);
    if (groups != small)
        free(groups);
}

static void accept_clients(struct sc_ctl *ctl)
{
    for (;;) {
        int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                sc_log_rl(SC_LOG_WARN, "ctl", "accept: %s", strerror(errno));
            return;
        }
        struct ctl_client *c = NULL;
        for (unsigned i = 0; i < SC_CTL_MAX_CLIENTS && !c; i++)
            if (ctl->clients[i].fd < 0)
                c = &ctl->clients[i];
        if (!c) {
            static const char busy[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":"
                                       "-32002,\"message\":\"too many clients\"}}\n";
            ssize_t n = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            (void)n;
            close(fd);
            sc_log_rl(SC_LOG_WARN, "ctl", "refused a client: %d connected already",
                      SC_CTL_MAX_CLIENTS);
            continue;
        }
        c->in = malloc(SC_CTL_MAX_REQUEST);
        struct epoll_event ev = { .events = EPOLLIN, .data.u64 = (uint64_t)(c - ctl->clients) };
        if (!c->in || epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c->in);
            c->in = NULL;
            close(fd);
            continue;
        }
        peer_read(ctl, fd, &c->peer);
        c->fd = fd;
        ctl->nclients++;
    }
}

static int serve_sockets(struct sc_ctl *ctl, int timeout_ms);

int sc_ctl_dispatch(struct sc_ctl *ctl)
{
    if (ctl->threaded) {
        ctl_calls_dispatch(&ctl->calls, ctl->ctx);
        return 0;
    }
    return serve_sockets(ctl, 0);
}

void sc_ctl_publish_views(struct sc_ctl *ctl)
{
    if (ctl->threaded)
        ctl_calls_publish(&ctl->calls, ctl->methods, ctl->ctx);
}

json_t *sc_ctl_view_copy(struct sc_ctl *ctl, const char *name, uint64_t *published_ns)
{
    unsigned i;
    for (i = 0; ctl->methods[i].name; i++)
        if (strcmp(ctl->methods[i].name, name) == 0 && (ctl->methods[i].flags & SC_CTL_VIEW))
            break;
    if (!ctl->methods[i].name) {
        errno = ENOENT;
        return NULL;
    }
    if (!ctl->threaded) {
        errno = EAGAIN;
        return NULL;
    }
    json_t *copy = ctl_calls_view_copy(&ctl->calls, i, published_ns);
    if (!copy)
        errno = *published_ns ? ENOMEM : EAGAIN;
    return copy;
}

static void *server_main(void *arg)
{
    struct sc_ctl *ctl = arg;
    pthread_setname_np(pthread_self(), "ctl");
    for (;;) {
        int rc = serve_sockets(ctl, -1);
        if (rc == 1)
            return NULL;
        if (rc < 0) {
            sc_log_rl(SC_LOG_ERR, "ctl", "epoll: %s", strerror(-rc));
            usleep(10000);
        }
    }
}

int sc_ctl_start(struct sc_ctl *ctl, int timeout_ms)
{
    if (ctl->threaded)
        return -EALREADY;
    unsigned n = 0;
    while (ctl->methods[n].name)
        n++;
    int rc = ctl_calls_init(&ctl->calls, n, timeout_ms);
    if (rc < 0)
        return rc;
    ctl->stop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = STOP_TAG };
    if (ctl->stop_efd < 0 || epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->stop_efd, &ev) < 0) {
        rc = -errno;
        ctl_calls_destroy(&ctl->calls);
        return rc;
    }
    ctl->threaded = true; /* before the thread: sc_ctl_handle_request reads it */
    rc = pthread_create(&ctl->thread, NULL, server_main, ctl);
    if (rc) {
        ctl->threaded = false;
        ctl_calls_destroy(&ctl->calls);
        return -rc;
    }
    return 0;
}

/* 0, 1 when asked to stop, or -errno. */
static int serve_sockets(struct sc_ctl *ctl, int timeout_ms)
{
    struct epoll_event evs[SC_CTL_MAX_CLIENTS + 2];
    int n = epoll_wait(ctl->epfd, evs, SC_CTL_MAX_CLIENTS + 2, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u64 == STOP_TAG)
            return 1;
        if (evs[i].data.u64 == LISTEN_TAG) {
            accept_clients(ctl);
            continue;
        }
        struct ctl_client *c = &ctl->clients[evs[i].data.u64];
        if (c->fd < 0)
            continue;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            client_read(ctl, c);
        else if (evs[i].events & EPOLLOUT) {
            if (client_flush(ctl, c) < 0 || (c->closing && c->out_len == 0))
                client_drop(ctl, c);
        }
    }
    return 0;
}

/* ---- client ---- */

struct sc_ctl_client {
    int fd;
    int timeout_ms;
    uint64_t next_id;
    char *buf;
    size_t len, cap;
};

struct sc_ctl_client *sc_ctl_client_open(const char *path, int timeout_ms)
{
    struct sockaddr_un sa;
    int ret = make_addr(path, &sa);
    if (ret < 0) {
        errno = -ret;
        return NULL;
    }
    struct sc_ctl_client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->timeout_ms = timeout_ms;
    c->next_id = 1;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        errno = e;
        return NULL;
    }
    return c;
}

void sc_ctl_client_close(struct sc_ctl_client *c)
{
    if (!c)
        return;
    close(c->fd);
    free(c->buf);
    free(c);
}


/* One line from the daemon into a new json, or -errno. */
static int client_read_line(struct sc_ctl_client *c, json_t **out, char *msg, size_t msglen)
{
    uint64_t deadline = sc_clock_ms() + (uint64_t)(c->timeout_ms > 0 ? c->timeout_ms : 0);
    for (;;) {
        char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl) {
            size_t len = (size_t)(nl - c->buf);
            json_error_t jerr;
            *out = json_loadb(c->buf, len, 0, &jerr);
            memmove(c->buf, nl + 1, c->len - len - 1);
            c->len -= len + 1;
            if (!*out) {
                snprintf(msg, msglen, "malformed answer from the daemon: %s", jerr.text);
                return -EPROTO;
            }
            return 0;
        }
        if (c->len == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            if (cap > SC_CTL_MAX_OUTPUT + 1) {
                snprintf(msg, msglen, "answer larger than %d bytes", SC_CTL_MAX_OUTPUT);
                return -EPROTO;
            }
            char *n = realloc(c->buf, cap);
            if (!n) {
                snprintf(msg, msglen, "out of memory");
                return -ENOMEM;
            }
            c->buf = n;
            c->cap = cap;
        }
        int wait = -1;
        if (c->timeout_ms > 0) {
            uint64_t now = sc_clock_ms();
            if (now >= deadline) {
                snprintf(msg, msglen, "no answer from the daemon within %d ms", c->timeout_ms);
                return -ETIMEDOUT;
            }
            wait = (int)(deadline - now);
        }
        struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
        int r = poll(&pfd, 1, wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            continue; /* the deadline check above reports it */
        ssize_t n = r < 0 ? -1 : recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n == 0 ? ECONNRESET : errno;
            snprintf(msg, msglen, "connection to the daemon lost: %s", strerror(e));
            return -e;
        }
        c->len += (size_t)n;
    }
}

int sc_ctl_client_call(struct sc_ctl_client *c, const char *method, json_t *params,
                       json_t **result, int *code, char *msg, size_t msglen)
{
    uint64_t id = c->next_id++;
    json_t *req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", (json_int_t)id,
                            "method", method);
    if (!req || (params && json_object_set(req, "params", params) < 0)) {
        json_decref(req);
        snprintf(msg, msglen, "out of memory");
        return -ENOMEM;
    }
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text) {
        snprintf(msg, msglen, "out of memory");
        return -ENOMEM;
    }
    size_t len = strlen(text), off = 0;
    char *line = realloc(text, len + 2); /* the request and its newline */
    if (!line) {
        free(text);
        snprintf(msg, msglen, "out of memory");
        return -ENOMEM;
    }
    text = line;
    text[len++] = '\n';
    int ret = 0;
    while (off < len) {
        ssize_t n = send(c->fd, text + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            ret = -errno;
            snprintf(msg, msglen, "cannot send to the daemon: %s", strerror(errno));
            break;
        }
        off += (size_t)n;
    }
    free(text);
    if (ret < 0)
        return ret;

    json_t *reply = NULL;
    ret = client_read_line(c, &reply, msg, msglen);
    if (ret < 0)
        return ret;
    json_t *rid = json_object_get(reply, "id");
    json_t *err = json_object_get(reply, "error");
    json_t *res = json_object_get(reply, "result");
    if (err) {
        if (code)
            *code = (int)json_integer_value(json_object_get(err, "code"));
        const char *m = json_string_value(json_object_get(err, "message"));
        snprintf(msg, msglen, "%s", m ? m : "error without a message");
        json_decref(reply);
        return -EREMOTEIO;
    }
    if (!res || !json_is_integer(rid) || (uint64_t)json_integer_value(rid) != id) {
        snprintf(msg, msglen, "malformed answer from the daemon");
        json_decref(reply);
        return -EPROTO;
    }
    *result = json_incref(res);
    json_decref(reply);
    return 0;
}
