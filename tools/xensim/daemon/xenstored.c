/*
 * xenstored.c - the public face of xensim's xenstored (xenstored.h):
 * creation, the per-domain sockets, domain introduce/release and the
 * dispatch round.  The protocol lives in xenstored_wire.c, the tree in
 * xenstored_store.c / xenstored_tree.c (map: xenstored_int.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "xenstored_int.h"

static const char *const special_names[2] = { "@introduceDomain", "@releaseDomain" };

int xsd_special_index(const char *name)
{
    for (int i = 0; i < 2; i++)
        if (strcmp(name, special_names[i]) == 0)
            return i;
    return -1;
}

uint64_t xsd_next_gen(struct xsd *xsd)
{
    return ++xsd->gen;
}

const char *xsd_socket_path(struct xsd *xsd, domid_t domid)
{
    static char path[sizeof(((struct xsd *)0)->dir) + 16];
    snprintf(path, sizeof(path), "%s/xs-%u.sock", xsd->dir, domid);
    return path;
}

struct xsd_domain *xsd_find_domain(struct xsd *xsd, domid_t domid)
{
    for (struct xsd_domain *d = xsd->domains; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

static int listen_socket(struct xsd *xsd, domid_t domid)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    const char *path = xsd_socket_path(xsd, domid);
    if (strlen(path) >= sizeof(addr.sun_path) - 1)
        return -ENAMETOOLONG;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 128)) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int xsd_introduce_socket(struct xsd *xsd, domid_t domid)
{
    if (domid >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    if (xsd_find_domain(xsd, domid))
        return 0;
    struct xsd_domain *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->ep.kind = XSD_EP_LISTENER;
    d->xsd = xsd;
    d->domid = domid;
    d->listen_fd = listen_socket(xsd, domid);
    if (d->listen_fd < 0) {
        int err = d->listen_fd;
        XSD_LOG("dom%u: socket %s: %s", domid, xsd_socket_path(xsd, domid), strerror(-err));
        free(d);
        return err;
    }
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &d->ep };
    if (epoll_ctl(xsd->epfd, EPOLL_CTL_ADD, d->listen_fd, &ev)) {
        int err = -errno;
        close(d->listen_fd);
        unlink(xsd_socket_path(xsd, domid));
        free(d);
        return err;
    }
    d->next = xsd->domains;
    xsd->domains = d;
    if (domid != 0)
        watch_fire_special(xsd, "@introduceDomain");
    return 0;
}

static void free_graveyard(struct xsd *xsd)
{
    while (xsd->graveyard) {
        struct xsd_conn *c = xsd->graveyard;
        xsd->graveyard = c->next;
        conn_free(c);
    }
}

static void close_domain(struct xsd *xsd, struct xsd_domain *d)
{
    struct xsd_conn *next;
    for (struct xsd_conn *c = xsd->conns; c; c = next) {
        next = c->next;
        if (c->dom == d)
            conn_drop(c, NULL);
    }
    epoll_ctl(xsd->epfd, EPOLL_CTL_DEL, d->listen_fd, NULL);
    close(d->listen_fd);
    unlink(xsd_socket_path(xsd, d->domid));
}

int xsd_release_domain(struct xsd *xsd, domid_t domid)
{
    if (domid == 0 || domid >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    for (struct xsd_domain **pp = &xsd->domains; *pp; pp = &(*pp)->next) {
        struct xsd_domain *d = *pp;
        if (d->domid != domid)
            continue;
        *pp = d->next;
        close_domain(xsd, d);
        /* A listener event may still be pending in this dispatch round:
         * free the domain only when the round is over. */
        if (xsd->in_dispatch) {
            d->next = xsd->dead_domains;
            xsd->dead_domains = d;
        } else {
            free(d);
            free_graveyard(xsd);
        }
        watch_fire_special(xsd, "@releaseDomain");
        return 0;
    }
    return -ENOENT;
}

void xsd_set_target(struct xsd *xsd, domid_t domid, domid_t target)
{
    struct xsd_domain *d = xsd_find_domain(xsd, domid);
    if (!d)
        return;
    d->has_target = true;
    d->target = target;
    for (struct xsd_conn *c = xsd->conns; c; c = c->next) {
        if (c->dom == d) {
            c->actor.has_target = true;
            c->actor.target = target;
        }
    }
}

/* The nodes xenstored starts with, owned by dom0, private. */
static int create_root_nodes(struct xsd *xsd)
{
    static const char *const paths[] = { "/local", "/local/domain", "/tool" };
    static const struct xsd_actor dom0 = { .domid = 0, .privileged = true };
    struct xsd_node *root = node_new("/");
    if (!root)
        return -ENOMEM;
    root->perms.p = calloc(1, sizeof(*root->perms.p));
    if (!root->perms.p) {
        node_free(root);
        return -ENOMEM;
    }
    root->perms.n = 1;
    root->gen = xsd_next_gen(xsd);
    tree_insert(&xsd->tree, root);
    xsd->owned[0]++;
    struct xsd_events evs = { 0 };
    struct xsd_view v = { .xsd = xsd, .actor = &dom0, .events = &evs };
    int err = 0;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]) && !err; i++)
        err = store_mkdir(&v, paths[i]);
    events_free(&evs);
    return err;
}

struct xsd *xsd_create(const char *dir, const struct xsd_limits *limits)
{
    static const struct xsd_limits defaults = {
        .max_value_bytes = 2048,
        .max_nodes_per_dom = 1000,
        .max_watches_per_conn = 128,
        .max_transactions_per_conn = 10,
    };
    struct xsd *xsd = calloc(1, sizeof(*xsd));
    if (!xsd)
        return NULL;
    xsd->epfd = -1;
    int err = -ENAMETOOLONG;
    if (strlen(dir) >= sizeof(xsd->dir))
        goto fail;
    memcpy(xsd->dir, dir, strlen(dir) + 1);
    xsd->lim = limits ? *limits : defaults;
    xsd->epfd = epoll_create1(EPOLL_CLOEXEC);
    err = -errno;
    if (xsd->epfd < 0)
        goto fail;
    err = -ENOMEM;
    xsd->owned = calloc(DOMID_FIRST_RESERVED, sizeof(*xsd->owned));
    if (!xsd->owned || tree_init(&xsd->tree))
        goto fail;
    for (int i = 0; i < 2; i++) {
        xsd->special[i].p = calloc(1, sizeof(*xsd->special[i].p)); /* "n0" */
        if (!xsd->special[i].p)
            goto fail;
        xsd->special[i].n = 1;
    }
    err = create_root_nodes(xsd);
    if (err)
        goto fail;
    err = xsd_introduce_socket(xsd, 0);
    if (err)
        goto fail;
    return xsd;
fail:
    xsd_destroy(xsd);
    errno = -err;
    return NULL;
}

void xsd_destroy(struct xsd *xsd)
{
    if (!xsd)
        return;
    while (xsd->domains) {
        struct xsd_domain *d = xsd->domains;
        xsd->domains = d->next;
        close_domain(xsd, d);
        free(d);
    }
    while (xsd->conns) /* cannot happen: every conn belongs to a domain */
        conn_drop(xsd->conns, NULL);
    free_graveyard(xsd);
    while (xsd->dead_domains) {
        struct xsd_domain *d = xsd->dead_domains;
        xsd->dead_domains = d->next;
        free(d);
    }
    if (xsd->tree.buckets)
        tree_fini(&xsd->tree);
    for (int i = 0; i < 2; i++)
        perms_free(&xsd->special[i]);
    free(xsd->owned);
    if (xsd->epfd >= 0)
        close(xsd->epfd);
    free(xsd);
}

int xsd_fd(struct xsd *xsd)
{
    return xsd->epfd;
}

void xsd_dispatch(struct xsd *xsd)
{
    struct epoll_event evs[64];
    xsd->in_dispatch = true;
    int n = epoll_wait(xsd->epfd, evs, 64, 0);
    for (int i = 0; i < n; i++) {
        struct xsd_ep *ep = evs[i].data.ptr;
        if (ep->kind == XSD_EP_LISTENER) {
            struct xsd_domain *d = (struct xsd_domain *)ep;
            if (xsd_find_domain(xsd, d->domid) == d)
                conn_accept(d);
        } else {
            conn_handle((struct xsd_conn *)ep, evs[i].events);
        }
    }
    xsd->in_dispatch = false;
    free_graveyard(xsd);
    while (xsd->dead_domains) {
        struct xsd_domain *d = xsd->dead_domains;
        xsd->dead_domains = d->next;
        free(d);
    }
}

int xsd_domain_introduce(struct xsd *xsd, domid_t domid, const char *name)
{
    if (domid >= DOMID_FIRST_RESERVED)
        return -EINVAL;
    bool known = xsd_find_domain(xsd, domid) != NULL;
    if (domid == 0 || known)
        return xsd_introduce_socket(xsd, domid);

    /* The toolstack's part first, so watchers of @introduceDomain find it. */
    static const struct xsd_actor dom0 = { .domid = 0, .privileged = true };
    char home[32], key[48], val[16];
    path_domain(domid, home, sizeof(home));
    struct xsd_perm owner = { .id = domid, .bits = XSD_PERM_NONE };
    struct xsd_perms perms = { .n = 1, .p = &owner };
    struct xsd_events evs = { 0 };
    struct xsd_view v = { .xsd = xsd, .actor = &dom0, .events = &evs };
    int err = store_mkdir(&v, home);
    if (!err)
        err = store_set_perms(&v, home, &perms);
    snprintf(key, sizeof(key), "%s/domid", home);
    snprintf(val, sizeof(val), "%u", domid);
    if (!err)
        err = store_write(&v, key, val, (uint32_t)strlen(val));
    snprintf(key, sizeof(key), "%s/name", home);
    if (!err && name)
        err = store_write(&v, key, name, (uint32_t)strlen(name));
    store_fire(xsd, &evs);
    if (err) {
        XSD_LOG("dom%u: writing %s: %s", domid, home, strerror(-err));
        return err;
    }
    return xsd_introduce_socket(xsd, domid);
}

int xsd_domain_release(struct xsd *xsd, domid_t domid)
{
    return xsd_release_domain(xsd, domid);
}
