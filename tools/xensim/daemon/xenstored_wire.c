/*
 * xenstored_wire.c - decodes requests and sends replies, one handler per
 * message type, following xenstored's argument rules (NUL-terminated
 * strings; a malformed request gets EINVAL, never a crash).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "xenstored_int.h"

struct req {
    struct xsd_conn *conn;
    const struct xsd_sockmsg *hdr;
    char *payload; /* hdr->len bytes, NUL after them */
    uint32_t len;
    struct xsd_tx *tx;
};

/* Number of NUL-terminated strings in the payload (as xs_count_strings). */
static uint32_t count_strings(const struct req *r)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->len; i++)
        n += r->payload[i] == '\0';
    return n;
}

/* The single argument: exactly one NUL, at the end. */
static const char *onearg(const struct req *r)
{
    if (!r->len || memchr(r->payload, '\0', r->len) != r->payload + r->len - 1)
        return NULL;
    return r->payload;
}

static const char *nth_string(const struct req *r, uint32_t n)
{
    const char *s = r->payload;
    while (n--)
        s += strlen(s) + 1;
    return s;
}

static void reply(const struct req *r, const void *data, uint32_t len)
{
    conn_send(r->conn, r->hdr->type, r->hdr->req_id, r->hdr->tx_id, data, len);
}

static void reply_str(const struct req *r, const char *s)
{
    reply(r, s, (uint32_t)strlen(s) + 1);
}

static int parse_domid(const char *s, domid_t *out)
{
    char *end;
    if (!s || !*s)
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    *out = (domid_t)v;
    return 0;
}

static struct xsd_view view_of(const struct req *r, struct xsd_events *evs)
{
    return (struct xsd_view){ .xsd = r->conn->xsd, .tx = r->tx, .actor = &r->conn->actor,
                              .events = evs };
}

/* After a change: fire now, or keep the events for the commit. */
static int finish_change(const struct req *r, struct xsd_events *evs, int err)
{
    if (err) {
        events_free(evs);
        return err;
    }
    if (r->tx) {
        err = events_append(&r->tx->events, evs);
        events_free(evs);
        if (err)
            return err;
    } else {
        store_fire(r->conn->xsd, evs);
    }
    reply_str(r, "OK");
    return 0;
}

static int canonical_arg(const struct req *r, const char *arg, bool special, char *out)
{
    if (!arg)
        return -EINVAL;
    return path_canonical(&r->conn->actor, arg, special, out, XENSTORE_ABS_PATH_MAX + 1);
}

static const struct xsd_node *get_arg_node(const struct req *r, const char *arg, int *err)
{
    char path[XENSTORE_ABS_PATH_MAX + 1];
    *err = canonical_arg(r, arg, false, path);
    if (*err)
        return NULL;
    struct xsd_view v = view_of(r, NULL);
    return store_get(&v, path, XSD_PERM_READ, err);
}

static int do_read(struct req *r)
{
    int err;
    const struct xsd_node *node = get_arg_node(r, onearg(r), &err);
    if (!node)
        return err;
    reply(r, node->value ? node->value : "", node->vlen);
    return 0;
}

/* The children list in wire form; caller frees. */
static char *children_blob(const struct xsd_node *node, size_t *len)
{
    *len = node_children_bytes(node);
    char *buf = malloc(*len + 1);
    if (!buf)
        return NULL;
    size_t off = 0;
    for (uint32_t i = 0; i < node->nchildren; i++) {
        size_t n = strlen(node->children[i]) + 1;
        memcpy(buf + off, node->children[i], n);
        off += n;
    }
    return buf;
}

static int do_directory(struct req *r)
{
    int err;
    const struct xsd_node *node = get_arg_node(r, onearg(r), &err);
    if (!node)
        return err;
    size_t len;
    char *blob = children_blob(node, &len);
    if (!blob)
        return -ENOMEM;
    if (len > XENSTORE_PAYLOAD_MAX) {
        free(blob);
        return -E2BIG; /* libxenstore then falls back to DIRECTORY_PART */
    }
    reply(r, blob, (uint32_t)len);
    free(blob);
    return 0;
}

/* "path\0offset\0" -> "<generation>\0" + as many children from byte offset
 * as fit, with a final empty string once the list is complete. */
static int do_directory_part(struct req *r)
{
    if (count_strings(r) != 2)
        return -EINVAL;
    int err;
    const struct xsd_node *node = get_arg_node(r, r->payload, &err);
    if (!node)
        return err;
    size_t off = strtoul(nth_string(r, 1), NULL, 10);
    char out[XENSTORE_PAYLOAD_MAX];
    int genlen = snprintf(out, sizeof(out), "%" PRIu64, node->gen) + 1;
    size_t len;
    char *blob = children_blob(node, &len);
    if (!blob)
        return -ENOMEM;
    size_t used = (size_t)genlen;
    if (off >= len) {
        out[used++] = '\0';
    } else {
        size_t max = XENSTORE_PAYLOAD_MAX - (size_t)genlen - 1, take = 0;
        if (off > 0 && blob[off - 1] != '\0') {
            free(blob);
            return -EINVAL; /* not at the start of a name */
        }
        while (off + take < len) {
            size_t n = strlen(blob + off + take) + 1;
            if (take + n > max)
                break;
            take += n;
        }
        memcpy(out + used, blob + off, take);
        used += take;
        if (off + take == len)
            out[used++] = '\0';
    }
    free(blob);
    reply(r, out, (uint32_t)used);
    return 0;
}

static int do_get_perms(struct req *r)
{
    const char *arg = onearg(r);
    char path[XENSTORE_ABS_PATH_MAX + 1];
    int err = canonical_arg(r, arg, true, path);
    if (err)
        return err;
    const struct xsd_perms *perms;
    if (path_is_special(path)) {
        perms = &r->conn->xsd->special[xsd_special_index(path)];
    } else {
        struct xsd_view v = view_of(r, NULL);
        const struct xsd_node *node = store_get(&v, path, XSD_PERM_READ, &err);
        if (!node)
            return err;
        perms = &node->perms;
    }
    char buf[XENSTORE_PAYLOAD_MAX];
    int len = perms_format(perms, buf, sizeof(buf));
    if (len < 0)
        return len;
    reply(r, buf, (uint32_t)len);
    return 0;
}

static int do_write(struct req *r)
{
    if (count_strings(r) < 1)
        return -EINVAL;
    char path[XENSTORE_ABS_PATH_MAX + 1];
    int err = canonical_arg(r, r->payload, false, path);
    if (err)
        return err;
    uint32_t off = (uint32_t)strlen(r->payload) + 1;
    struct xsd_events evs = { 0 };
    struct xsd_view v = view_of(r, &evs);
    return finish_change(r, &evs, store_write(&v, path, r->payload + off, r->len - off));
}

static int do_mkdir(struct req *r)
{
    char path[XENSTORE_ABS_PATH_MAX + 1];
    int err = canonical_arg(r, onearg(r), false, path);
    if (err)
        return err;
    struct xsd_events evs = { 0 };
    struct xsd_view v = view_of(r, &evs);
    return finish_change(r, &evs, store_mkdir(&v, path));
}

static int do_rm(struct req *r)
{
    char path[XENSTORE_ABS_PATH_MAX + 1];
    int err = canonical_arg(r, onearg(r), false, path);
    if (err)
        return err;
    struct xsd_events evs = { 0 };
    struct xsd_view v = view_of(r, &evs);
    return finish_change(r, &evs, store_rm(&v, path));
}

static int do_set_perms(struct req *r)
{
    uint32_t n = count_strings(r);
    if (n < 2)
        return -EINVAL;
    char path[XENSTORE_ABS_PATH_MAX + 1];
    int err = canonical_arg(r, r->payload, true, path);
    if (err)
        return err;
    struct xsd_perms perms;
    err = perms_parse(nth_string(r, 1), n - 1, &perms);
    if (err)
        return err;
    struct xsd_events evs = { 0 };
    struct xsd_view v = view_of(r, &evs);
    err = store_set_perms(&v, path, &perms);
    perms_free(&perms);
    return finish_change(r, &evs, err);
}

static int do_watch(struct req *r)
{
    if (count_strings(r) != 2)
        return -EINVAL;
    const char *path = r->payload, *token = nth_string(r, 1);
    int err = watch_add(r->conn, path, token);
    if (err)
        return err;
    reply_str(r, "OK");
    /* xenstored fires once up front; libxenstore relies on it. */
    struct xsd_watch *w = r->conn->watches;
    while (w && w->next)
        w = w->next;
    if (w && !r->conn->dead)
        conn_send_event(r->conn, watch_event_path(r->conn, w, w->path), w->token);
    return 0;
}

static int do_unwatch(struct req *r)
{
    if (count_strings(r) != 2)
        return -EINVAL;
    int err = watch_remove(r->conn, r->payload, nth_string(r, 1));
    if (err)
        return err;
    reply_str(r, "OK");
    return 0;
}

static int do_transaction_start(struct req *r)
{
    struct xsd_conn *conn = r->conn;
    if (r->tx)
        return -EBUSY;
    if (!conn->actor.privileged && conn->ntxs >= conn->xsd->lim.max_transactions_per_conn)
        return -ENOSPC;
    uint32_t id;
    do {
        id = ++conn->next_txid;
    } while (id == 0);
    struct xsd_tx *tx = tx_new(id, conn->actor.domid);
    if (!tx)
        return -ENOMEM;
    tx->next = conn->txs;
    conn->txs = tx;
    conn->ntxs++;
    char buf[16];
    snprintf(buf, sizeof(buf), "%u", id);
    reply_str(r, buf);
    return 0;
}

static int do_transaction_end(struct req *r)
{
    struct xsd_conn *conn = r->conn;
    const char *arg = onearg(r);
    if (!r->tx)
        return -ENOENT;
    if (!arg || (strcmp(arg, "T") != 0 && strcmp(arg, "F") != 0))
        return -EINVAL;
    for (struct xsd_tx **pp = &conn->txs; *pp; pp = &(*pp)->next) {
        if (*pp == r->tx) {
            *pp = r->tx->next;
            break;
        }
    }
    conn->ntxs--;
    int err = 0;
    struct xsd_events evs = { 0 };
    if (arg[0] == 'T')
        err = tx_commit(conn->xsd, r->tx, conn->xsd->lim.max_nodes_per_dom,
                        conn->actor.privileged, &evs);
    tx_free(r->tx);
    r->tx = NULL;
    if (err) {
        events_free(&evs);
        return err;
    }
    store_fire(conn->xsd, &evs);
    reply_str(r, "OK");
    return 0;
}

static int do_introduce(struct req *r)
{
    domid_t domid;
    if (count_strings(r) < 3 || parse_domid(r->payload, &domid))
        return -EINVAL;
    int err = xsd_introduce_socket(r->conn->xsd, domid);
    if (err)
        return err;
    reply_str(r, "OK");
    return 0;
}

static int do_release(struct req *r)
{
    domid_t domid;
    if (parse_domid(onearg(r), &domid) || domid == 0)
        return -EINVAL;
    int err = xsd_release_domain(r->conn->xsd, domid);
    if (err)
        return err;
    reply_str(r, "OK");
    return 0;
}

static int do_get_domain_path(struct req *r)
{
    domid_t domid;
    if (parse_domid(onearg(r), &domid))
        return -EINVAL;
    char path[32];
    path_domain(domid, path, sizeof(path));
    reply_str(r, path);
    return 0;
}

static int do_is_domain_introduced(struct req *r)
{
    domid_t domid;
    if (parse_domid(onearg(r), &domid))
        return -EINVAL;
    reply_str(r, xsd_find_domain(r->conn->xsd, domid) ? "T" : "F");
    return 0;
}

static int do_resume(struct req *r)
{
    domid_t domid;
    if (parse_domid(onearg(r), &domid))
        return -EINVAL;
    if (!xsd_find_domain(r->conn->xsd, domid))
        return -ENOENT;
    reply_str(r, "OK");
    return 0;
}

static int do_set_target(struct req *r)
{
    domid_t domid, target;
    if (count_strings(r) != 2 || parse_domid(r->payload, &domid) ||
        parse_domid(nth_string(r, 1), &target))
        return -EINVAL;
    if (!xsd_find_domain(r->conn->xsd, domid))
        return -ENOENT;
    xsd_set_target(r->conn->xsd, domid, target);
    reply_str(r, "OK");
    return 0;
}

static int do_reset_watches(struct req *r)
{
    struct xsd_conn *conn = r->conn;
    watch_clear(conn);
    while (conn->txs) {
        struct xsd_tx *tx = conn->txs;
        conn->txs = tx->next;
        tx_free(tx);
    }
    conn->ntxs = 0;
    r->tx = NULL;
    reply_str(r, "OK");
    return 0;
}

/* Only "print <text>" (logs the text); xenstored's other commands are
 * about its own internals. */
static int do_control(struct req *r)
{
    if (count_strings(r) >= 2 && strcmp(r->payload, "print") == 0) {
        XSD_LOG("dom%u: control print: %s", r->conn->actor.domid, nth_string(r, 1));
        reply_str(r, "OK");
        return 0;
    }
    return -ENOSYS;
}

#define F_NOTID (1u << 0) /* ignores the transaction id */
#define F_PRIV  (1u << 1) /* privileged domain only */

static const struct {
    int (*fn)(struct req *r);
    unsigned flags;
} handlers[XS_TYPE_COUNT] = {
    [XS_CONTROL] = { do_control, F_PRIV },
    [XS_DIRECTORY] = { do_directory, 0 },
    [XS_READ] = { do_read, 0 },
    [XS_GET_PERMS] = { do_get_perms, 0 },
    [XS_WATCH] = { do_watch, F_NOTID },
    [XS_UNWATCH] = { do_unwatch, F_NOTID },
    [XS_TRANSACTION_START] = { do_transaction_start, 0 },
    [XS_TRANSACTION_END] = { do_transaction_end, 0 },
    [XS_INTRODUCE] = { do_introduce, F_PRIV },
    [XS_RELEASE] = { do_release, F_PRIV },
    [XS_GET_DOMAIN_PATH] = { do_get_domain_path, 0 },
    [XS_WRITE] = { do_write, 0 },
    [XS_MKDIR] = { do_mkdir, 0 },
    [XS_RM] = { do_rm, 0 },
    [XS_SET_PERMS] = { do_set_perms, 0 },
    [XS_IS_DOMAIN_INTRODUCED] = { do_is_domain_introduced, F_PRIV },
    [XS_RESUME] = { do_resume, F_PRIV },
    [XS_SET_TARGET] = { do_set_target, F_PRIV },
    [XS_RESET_WATCHES] = { do_reset_watches, 0 },
    [XS_DIRECTORY_PART] = { do_directory_part, 0 },
};

void wire_process(struct xsd_conn *conn, const struct xsd_sockmsg *hdr, char *payload)
{
    struct req r = { .conn = conn, .hdr = hdr, .payload = payload, .len = hdr->len };
    int err;
    if (hdr->type >= XS_TYPE_COUNT || !handlers[hdr->type].fn) {
        /* xenstored answers unknown types with ENOSYS */
        if (!conn->logged_bad_type)
            XSD_LOG("dom%u conn %u: unknown message type %u (logged once)",
                    conn->actor.domid, conn->id, hdr->type);
        conn->logged_bad_type = true;
        conn_send_error(conn, hdr, ENOSYS);
        return;
    }
    if ((handlers[hdr->type].flags & F_PRIV) && !conn->actor.privileged) {
        conn_send_error(conn, hdr, EACCES);
        return;
    }
    if (!(handlers[hdr->type].flags & F_NOTID) && hdr->tx_id) {
        for (r.tx = conn->txs; r.tx && r.tx->id != hdr->tx_id; r.tx = r.tx->next)
            ;
        if (!r.tx) {
            conn_send_error(conn, hdr, ENOENT);
            return;
        }
    }
    err = handlers[hdr->type].fn(&r);
    if (err)
        conn_send_error(conn, hdr, -err);
}
