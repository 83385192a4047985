/*
 * metrics_http.c - the metrics endpoint's HTTP side (metrics_http.h).
 *
 * We make the listening socket ourselves and hand it to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET): one path for TCP and Unix sockets, a bind
 * error we can explain before the daemon goes further, and the port 0
 * gave read back with getsockname.
 */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <microhttpd.h>

#include "log.h"
#include "metrics_text.h"

struct sc_metrics_http {
    struct sc_metrics_addr addr;
    char where[SC_METRICS_WHERE_MAX];
    int fd;                   /* listening; libmicrohttpd's once started */
    struct MHD_Daemon *mhd;   /* NULL until started */
    sc_metrics_render_fn *render;
    void *ctx;
};

static const char *bind_hint(int err)
{
    switch (err) {
    case EADDRINUSE: return "another process listens there: stop it, or give --metrics "
                            "another address or port";
    case EACCES: return "ports below 1024 need root (CAP_NET_BIND_SERVICE), and a Unix "
                        "socket a directory we may write: choose another";
    case EADDRNOTAVAIL: return "the address is not one of this host's: use 127.0.0.1, "
                               "0.0.0.0 or an address of an interface";
    case ENOENT: return "the socket's directory does not exist: create it first";
    default: return "check the --metrics setting";
    }
}

/* A Unix socket file left by a daemon that died is replaced; one that a
 * live process answers on is not. */
static int unix_clear_stale(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (rc == 0)
        return -EADDRINUSE;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

static int listen_on(struct sc_metrics_http *m)
{
    const struct sc_metrics_addr *a = &m->addr;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
    } sa;
    memset(&sa, 0, sizeof(sa));
    socklen_t len;
    int family;
    if (a->kind == SC_METRICS_UNIX) {
        int rc = unix_clear_stale(a->path);
        if (rc < 0)
            return rc;
        family = AF_UNIX;
        sa.un.sun_family = AF_UNIX;
        snprintf(sa.un.sun_path, sizeof(sa.un.sun_path), "%s", a->path);
        len = sizeof(sa.un);
    } else if (a->kind == SC_METRICS_INET6) {
        family = AF_INET6;
        sa.in6.sin6_family = AF_INET6;
        sa.in6.sin6_port = htons(a->port);
        if (inet_pton(AF_INET6, a->host, &sa.in6.sin6_addr) != 1)
            return -EINVAL;
        len = sizeof(sa.in6);
    } else if (a->kind == SC_METRICS_INET) {
        family = AF_INET;
        sa.in.sin_family = AF_INET;
        sa.in.sin_port = htons(a->port);
        if (inet_pton(AF_INET, a->host, &sa.in.sin_addr) != 1)
            return -EINVAL;
        len = sizeof(sa.in);
    } else {
        return -EINVAL;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    /* a restarted daemon rebinds at once, past its predecessor's TIME_WAITs */
    if (family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, &sa.sa, len) < 0 ||
        (family == AF_UNIX && chmod(a->path, 0660) < 0) || listen(fd, 64) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    if (family != AF_UNIX && getsockname(fd, &sa.sa, &len) == 0)
        m->addr.port = ntohs(family == AF_INET ? sa.in.sin_port : sa.in6.sin6_port);
    m->fd = fd;
    return 0;
}

struct sc_metrics_http *sc_metrics_http_open(const struct sc_metrics_addr *a, char *err,
                                             size_t errlen)
{
    struct sc_metrics_http *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->addr = *a;
    m->fd = -1;
    char where[SC_METRICS_WHERE_MAX];
    sc_metrics_addr_format(a, where, sizeof(where));
    int rc = listen_on(m);
    if (rc < 0) {
        snprintf(err, errlen, "metrics: cannot listen on %s: %s (%s)", where, strerror(-rc),
                 rc == -EEXIST ? "a file that is not a socket is in the way: remove it or "
                                 "choose another path"
                               : bind_hint(-rc));
        free(m);
        errno = -rc;
        return NULL;
    }
    sc_metrics_addr_format(&m->addr, m->where, sizeof(m->where));
    return m;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    sc_log_rl(SC_LOG_WARN, "metrics", "%s", line);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
                             const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char *body = strdup(msg);
    return body ? reply(c, status, body, strlen(body), "text/plain; charset=utf-8") : MHD_NO;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    struct sc_metrics_http *m = cls;
    static int first_call;
    if (!*con_cls) { /* the headers: answer once the request is whole */
        *con_cls = &first_call;
        return MHD_YES;
    }
    if (*upload_size) { /* a body we do not read */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (strcmp(url, "/metrics") != 0)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "sidecored serves its metrics at /metrics\n");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
    int rc = m->render(m->ctx, out);
    if (fclose(out) != 0 && rc == 0)
        rc = -ENOMEM;
    if (rc < 0) {
        free(buf);
        char msg[128];
        snprintf(msg, sizeof(msg), "no metrics now: %s; try again\n", strerror(-rc));
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, msg);
    }
    return reply(c, MHD_HTTP_OK, buf, len, SC_METRICS_CONTENT_TYPE);
}

int sc_metrics_http_start(struct sc_metrics_http *m, sc_metrics_render_fn *render, void *ctx)
{
    if (m->mhd)
        return -EALREADY;
    m->render = render;
    m->ctx = ctx;
    /* the logger first: libmicrohttpd logs its options' problems as it reads them */
    m->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                              handle, m, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)m->fd,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)SC_METRICS_HTTP_CONNS,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SC_METRICS_HTTP_TIMEOUT_S,
                              MHD_OPTION_END);
    return m->mhd ? 0 : -EIO;
}

const char *sc_metrics_http_where(const struct sc_metrics_http *m)
{
    return m->where;
}

void sc_metrics_http_close(struct sc_metrics_http *m)
{
    if (!m)
        return;
    if (m->mhd)
        MHD_stop_daemon(m->mhd); /* closes the listening socket too */
    else if (m->fd >= 0)
        close(m->fd);
    if (m->addr.kind == SC_METRICS_UNIX)
        unlink(m->addr.path);
    free(m);
}
