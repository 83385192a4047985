/*
 * xenstored_conn.c - one client connection on a domain's socket.
 *
 * Non-blocking: input accumulates in inbuf and every complete message is
 * served; replies and events are queued and written as the socket allows
 * (EPOLLOUT only while something is queued).  A header announcing more than
 * XENSTORE_PAYLOAD_MAX bytes, a read error or a queue a client never drains
 * drops the connection; a dropped connection is freed after the dispatch
 * round, so pointers held during the round stay valid.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xenstored_int.h"

/* A client that leaves this much unread is considered stuck. */
#define XSD_OUT_LIMIT (16u << 20)
/* Reads per wake-up, so one chatty client cannot starve the others. */
#define XSD_READS_PER_WAKE 8

static void conn_update_epoll(struct xsd_conn *conn)
{
    bool want = conn->out_head != NULL;
    if (want == conn->want_out || conn->dead)
        return;
    struct epoll_event ev = { .events = EPOLLIN | (want ? EPOLLOUT : 0),
                              .data.ptr = &conn->ep };
    if (epoll_ctl(conn->xsd->epfd, EPOLL_CTL_MOD, conn->fd, &ev) == 0)
        conn->want_out = want;
    else
        XSD_LOG("dom%u conn %u: epoll_ctl: %s", conn->actor.domid, conn->id, strerror(errno));
}

int conn_accept(struct xsd_domain *dom)
{
    struct xsd *xsd = dom->xsd;
    for (;;) {
        int fd = accept4(dom->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            XSD_LOG("dom%u: accept: %s", dom->domid, strerror(errno));
            return -errno;
        }
        struct xsd_conn *conn = calloc(1, sizeof(*conn));
        if (!conn) {
            XSD_LOG("dom%u: out of memory for a connection", dom->domid);
            close(fd);
            return -ENOMEM;
        }
        conn->ep.kind = XSD_EP_CONN;
        conn->xsd = xsd;
        conn->dom = dom;
        conn->fd = fd;
        conn->id = ++xsd->next_conn_id;
        conn->actor.domid = dom->domid;
        conn->actor.privileged = dom->domid == 0;
        conn->actor.has_target = dom->has_target;
        conn->actor.target = dom->target;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conn->ep };
        if (epoll_ctl(xsd->epfd, EPOLL_CTL_ADD, fd, &ev)) {
            XSD_LOG("dom%u conn %u: epoll_ctl: %s", dom->domid, conn->id, strerror(errno));
            close(fd);
            free(conn);
            return -errno;
        }
        conn->next = xsd->conns;
        xsd->conns = conn;
    }
}

static void conn_flush(struct xsd_conn *conn)
{
    while (conn->out_head && !conn->dead) {
        struct xsd_outmsg *m = conn->out_head;
        ssize_t n = send(conn->fd, m->data + m->sent, m->len - m->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EPIPE || errno == ECONNRESET)
                conn_drop(conn, NULL);
            else
                conn_drop(conn, strerror(errno));
            return;
        }
        m->sent += (uint32_t)n;
        conn->out_bytes -= (size_t)n;
        if (m->sent == m->len) {
            conn->out_head = m->next;
            if (!conn->out_head)
                conn->out_tail = NULL;
            free(m);
        }
    }
    conn_update_epoll(conn);
}

static void conn_queue(struct xsd_conn *conn, const struct xsd_sockmsg *hdr, const void *a,
                       uint32_t alen, const void *b, uint32_t blen)
{
    if (conn->dead)
        return;
    uint32_t len = (uint32_t)sizeof(*hdr) + alen + blen;
    struct xsd_outmsg *m = malloc(sizeof(*m) + len);
    if (!m) {
        conn_drop(conn, "out of memory queueing a reply");
        return;
    }
    m->next = NULL;
    m->len = len;
    m->sent = 0;
    memcpy(m->data, hdr, sizeof(*hdr));
    if (alen)
        memcpy(m->data + sizeof(*hdr), a, alen);
    if (blen)
        memcpy(m->data + sizeof(*hdr) + alen, b, blen);
    if (conn->out_tail)
        conn->out_tail->next = m;
    else
        conn->out_head = m;
    conn->out_tail = m;
    conn->out_bytes += len;
    if (conn->out_bytes > XSD_OUT_LIMIT) {
        char why[96];
        snprintf(why, sizeof(why), "client does not read (%zu bytes queued)",
                 conn->out_bytes);
        conn_drop(conn, why);
        return;
    }
    conn_flush(conn);
}

static const char *errno_name(int err)
{
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (xsd_errors[i].errnum == err)
            return xsd_errors[i].errstring;
    return "EINVAL"; /* xenstored's fallback for untranslatable errors */
}

void conn_send_error(struct xsd_conn *conn, const struct xsd_sockmsg *req, int err)
{
    const char *name = errno_name(err < 0 ? -err : err);
    struct xsd_sockmsg hdr = { .type = XS_ERROR, .req_id = req->req_id,
                               .tx_id = req->tx_id, .len = (uint32_t)strlen(name) + 1 };
    conn_queue(conn, &hdr, name, hdr.len, NULL, 0);
}

void conn_send(struct xsd_conn *conn, uint32_t type, uint32_t req_id, uint32_t tx_id,
               const void *data, uint32_t len)
{
    struct xsd_sockmsg hdr = { .type = type, .req_id = req_id, .tx_id = tx_id, .len = len };
    if (len > XENSTORE_PAYLOAD_MAX) {
        conn_send_error(conn, &hdr, E2BIG);
        return;
    }
    conn_queue(conn, &hdr, data, len, NULL, 0);
}

void conn_send_event(struct xsd_conn *conn, const char *path, const char *token)
{
    uint32_t plen = (uint32_t)strlen(path) + 1, tlen = (uint32_t)strlen(token) + 1;
    if (plen + tlen > XENSTORE_PAYLOAD_MAX)
        return; /* as xenstored: over-long events are not sent */
    struct xsd_sockmsg hdr = { .type = XS_WATCH_EVENT, .len = plen + tlen };
    conn_queue(conn, &hdr, path, plen, token, tlen);
}

/* Serves every complete message in inbuf. */
static void conn_process(struct xsd_conn *conn)
{
    static char payload[XENSTORE_PAYLOAD_MAX + 1];
    size_t off = 0;
    while (!conn->dead && conn->in_len - off >= sizeof(struct xsd_sockmsg)) {
        struct xsd_sockmsg hdr;
        memcpy(&hdr, conn->inbuf + off, sizeof(hdr));
        if (hdr.len > XENSTORE_PAYLOAD_MAX) {
            char why[80];
            snprintf(why, sizeof(why), "message of %u bytes exceeds the payload limit",
                     hdr.len);
            conn_drop(conn, why);
            return;
        }
        if (conn->in_len - off < sizeof(hdr) + hdr.len)
            break;
        memcpy(payload, conn->inbuf + off + sizeof(hdr), hdr.len);
        payload[hdr.len] = '\0';
        off += sizeof(hdr) + hdr.len;
        wire_process(conn, &hdr, payload);
    }
    if (conn->dead)
        return;
    memmove(conn->inbuf, conn->inbuf + off, conn->in_len - off);
    conn->in_len -= off;
}

static void conn_read(struct xsd_conn *conn)
{
    for (int i = 0; i < XSD_READS_PER_WAKE && !conn->dead; i++) {
        size_t room = sizeof(conn->inbuf) - conn->in_len;
        ssize_t n = read(conn->fd, conn->inbuf + conn->in_len, room);
        if (n == 0) {
            conn_drop(conn, NULL); /* the client closed */
            return;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_drop(conn, errno == ECONNRESET ? NULL : strerror(errno));
            return;
        }
        conn->in_len += (size_t)n;
        conn_process(conn);
        if ((size_t)n < room)
            return;
    }
}

void conn_handle(struct xsd_conn *conn, uint32_t epoll_events)
{
    if (conn->dead)
        return;
    if (epoll_events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        conn_read(conn);
    if (!conn->dead && (epoll_events & EPOLLOUT))
        conn_flush(conn);
}

void conn_drop(struct xsd_conn *conn, const char *why)
{
    if (conn->dead)
        return;
    struct xsd *xsd = conn->xsd;
    if (why)
        XSD_LOG("dom%u conn %u: %s; closing", conn->actor.domid, conn->id, why);
    conn->dead = true;
    epoll_ctl(xsd->epfd, EPOLL_CTL_DEL, conn->fd, NULL);
    close(conn->fd);
    conn->fd = -1;
    watch_clear(conn);
    while (conn->txs) {
        struct xsd_tx *tx = conn->txs;
        conn->txs = tx->next;
        tx_free(tx);
    }
    conn->ntxs = 0;
    while (conn->out_head) {
        struct xsd_outmsg *m = conn->out_head;
        conn->out_head = m->next;
        free(m);
    }
    conn->out_tail = NULL;
    conn->out_bytes = 0;
    for (struct xsd_conn **pp = &xsd->conns; *pp; pp = &(*pp)->next) {
        if (*pp == conn) {
            *pp = conn->next;
            break;
        }
    }
    conn->next = xsd->graveyard;
    xsd->graveyard = conn;
}

void conn_free(struct xsd_conn *conn)
{
    free(conn);
}
