/*
 * xenstored_watch.c - watches and event delivery.
 *
 * A change of node N fires every watch on N or an ancestor of N (event path
 * N); deleting a subtree also fires, per deleted node, the watches set
 * exactly on it.  A watcher gets the event only if it may read the node (or
 * its parent; for SET_PERMS also under the old permissions), as xenstored's
 * watch_permitted.  Special events (@introduceDomain, @releaseDomain) go to
 * watchers the special node's permissions allow to read (dom0 always).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstored_int.h"

int events_add(struct xsd_events *evs, const char *path, bool exact,
               const struct xsd_perms *a, const struct xsd_perms *b,
               const struct xsd_perms *c)
{
    if (evs->n == evs->cap) {
        uint32_t cap = evs->cap ? evs->cap * 2 : 4;
        struct xsd_event *ev = realloc(evs->ev, cap * sizeof(*ev));
        if (!ev)
            return -ENOMEM;
        evs->ev = ev;
        evs->cap = cap;
    }
    struct xsd_event *ev = &evs->ev[evs->n];
    memset(ev, 0, sizeof(*ev));
    ev->path = strdup(path);
    if (!ev->path)
        return -ENOMEM;
    ev->exact = exact;
    const struct xsd_perms *sets[3] = { a, b, c };
    for (int i = 0; i < 3; i++) {
        if (sets[i] && sets[i]->n && !perms_copy(&ev->perms[ev->nperms], sets[i]))
            ev->nperms++;
    }
    evs->n++;
    return 0;
}

int events_append(struct xsd_events *dst, struct xsd_events *src)
{
    if (!src->n)
        return 0;
    if (dst->n + src->n > dst->cap) {
        uint32_t cap = dst->n + src->n;
        struct xsd_event *ev = realloc(dst->ev, cap * sizeof(*ev));
        if (!ev)
            return -ENOMEM;
        dst->ev = ev;
        dst->cap = cap;
    }
    memcpy(&dst->ev[dst->n], src->ev, src->n * sizeof(*src->ev));
    dst->n += src->n;
    free(src->ev);
    src->ev = NULL;
    src->n = src->cap = 0;
    return 0;
}

void events_free(struct xsd_events *evs)
{
    for (uint32_t i = 0; i < evs->n; i++) {
        free(evs->ev[i].path);
        for (uint32_t j = 0; j < evs->ev[i].nperms; j++)
            perms_free(&evs->ev[i].perms[j]);
    }
    free(evs->ev);
    evs->ev = NULL;
    evs->n = evs->cap = 0;
}

int watch_add(struct xsd_conn *conn, const char *path, const char *token)
{
    char abs[XENSTORE_ABS_PATH_MAX + 1];
    int r = path_canonical(&conn->actor, path, true, abs, sizeof(abs));
    if (r)
        return r;
    for (struct xsd_watch *w = conn->watches; w; w = w->next)
        if (strcmp(w->path, abs) == 0 && strcmp(w->token, token) == 0)
            return -EEXIST;
    /* xenstored answers E2BIG when the watch quota is reached */
    if (!conn->actor.privileged && conn->nwatches >= conn->xsd->lim.max_watches_per_conn)
        return -E2BIG;

    struct xsd_watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->path = strdup(abs);
    w->token = strdup(token);
    if (!w->path || !w->token) {
        free(w->path);
        free(w->token);
        free(w);
        return -ENOMEM;
    }
    w->relative = path[0] != '/' && path[0] != '@';
    struct xsd_watch **tail = &conn->watches;
    while (*tail)
        tail = &(*tail)->next;
    *tail = w;
    conn->nwatches++;
    return 0;
}

static void watch_free(struct xsd_watch *w)
{
    free(w->path);
    free(w->token);
    free(w);
}

int watch_remove(struct xsd_conn *conn, const char *path, const char *token)
{
    char abs[XENSTORE_ABS_PATH_MAX + 1];
    if (path_canonical(&conn->actor, path, true, abs, sizeof(abs)))
        return -ENOENT;
    for (struct xsd_watch **pp = &conn->watches; *pp; pp = &(*pp)->next) {
        struct xsd_watch *w = *pp;
        if (strcmp(w->path, abs) == 0 && strcmp(w->token, token) == 0) {
            *pp = w->next;
            watch_free(w);
            conn->nwatches--;
            return 0;
        }
    }
    return -ENOENT;
}

void watch_clear(struct xsd_conn *conn)
{
    while (conn->watches) {
        struct xsd_watch *w = conn->watches;
        conn->watches = w->next;
        watch_free(w);
    }
    conn->nwatches = 0;
}

const char *watch_event_path(const struct xsd_conn *conn, const struct xsd_watch *w,
                             const char *abs)
{
    if (!w->relative)
        return abs;
    char home[32];
    path_domain(conn->actor.domid, home, sizeof(home));
    size_t len = strlen(home);
    if (strncmp(abs, home, len) != 0)
        return abs;
    abs += len;
    return *abs == '/' ? abs + 1 : abs;
}

static bool event_permitted(const struct xsd *xsd, const struct xsd_conn *conn,
                            const struct xsd_event *ev)
{
    if (conn->actor.privileged)
        return true;
    if (path_is_special(ev->path)) {
        int idx = xsd_special_index(ev->path);
        return idx >= 0 && (perms_for(&conn->actor, &xsd->special[idx]) & XSD_PERM_READ);
    }
    for (uint32_t i = 0; i < ev->nperms; i++)
        if (perms_for(&conn->actor, &ev->perms[i]) & XSD_PERM_READ)
            return true;
    return false;
}

void watch_fire(struct xsd *xsd, const struct xsd_events *evs)
{
    for (uint32_t i = 0; i < evs->n; i++) {
        const struct xsd_event *ev = &evs->ev[i];
        struct xsd_conn *next;
        for (struct xsd_conn *c = xsd->conns; c; c = next) {
            next = c->next; /* sending may drop c (queue overflow) */
            if (c->dead || !c->watches || !event_permitted(xsd, c, ev))
                continue;
            struct xsd_watch *wnext;
            for (struct xsd_watch *w = c->watches; w; w = wnext) {
                wnext = w->next;
                bool match = ev->exact ? strcmp(ev->path, w->path) == 0
                                       : path_is_below(ev->path, w->path);
                if (match)
                    conn_send_event(c, watch_event_path(c, w, ev->path), w->token);
                if (c->dead) /* its watches are gone */
                    break;
            }
        }
    }
}

void watch_fire_special(struct xsd *xsd, const char *name)
{
    struct xsd_events evs = { 0 };
    if (events_add(&evs, name, false, NULL, NULL, NULL)) {
        XSD_LOG("out of memory firing %s", name);
        return;
    }
    store_fire(xsd, &evs);
}
