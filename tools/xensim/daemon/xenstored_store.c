/*
 * xenstored_store.c - the tree operations of xenstored, written once for
 * both the main tree and a transaction's overlay (struct xsd_view).
 *
 * Every operation checks everything (permissions, quota) before changing
 * anything, so a failed request leaves the store as it was.  Changes are
 * recorded as events; the caller fires them (main tree) or keeps them for
 * the commit (transaction).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstored_int.h"

/* ---- the view: main tree or transaction overlay ---- */

static struct xsd_node *view_lookup(struct xsd_view *v, const char *path)
{
    if (!v->tx)
        return tree_lookup(&v->xsd->tree, path);
    struct xsd_node *e = tx_entry(v->xsd, v->tx, path);
    return e && e->exists ? e : NULL;
}

static void view_touch(struct xsd_view *v, struct xsd_node *node)
{
    node->gen = xsd_next_gen(v->xsd);
    if (v->tx)
        node->modified = true;
}

static struct xsd_node *view_create(struct xsd_view *v, const char *path)
{
    struct xsd_node *node;
    if (!v->tx) {
        node = node_new(path);
        if (node)
            tree_insert(&v->xsd->tree, node);
    } else {
        node = tx_entry(v->xsd, v->tx, path);
        if (node) {
            node_clear(node);
            node->exists = true;
        }
    }
    if (node)
        view_touch(v, node);
    return node;
}

static void view_delete(struct xsd_view *v, struct xsd_node *node)
{
    if (!v->tx) {
        tree_unlink(&v->xsd->tree, node->path);
        node_free(node);
    } else {
        node_clear(node);
        node->exists = false;
        view_touch(v, node);
    }
}

static uint32_t node_owner(const struct xsd_node *node)
{
    return node->perms.n ? node->perms.p[0].id : 0;
}

static void view_count(struct xsd_view *v, uint32_t owner, int delta)
{
    if (!v->tx) {
        if (owner < DOMID_FIRST_RESERVED)
            v->xsd->owned[owner] += (uint32_t)delta;
    } else if (owner == v->tx->domid) {
        v->tx->own_delta += delta;
    }
}

/* Would `extra` more nodes owned by the actor exceed its quota? */
static bool view_over_quota(struct xsd_view *v, uint32_t extra)
{
    if (v->actor->privileged)
        return false;
    int64_t owned = v->xsd->owned[v->actor->domid];
    if (v->tx)
        owned += v->tx->own_delta;
    return owned + extra > (int64_t)v->xsd->lim.max_nodes_per_dom;
}

/* errno for a missing node as xenstored reports it: ENOENT if the nearest
 * existing ancestor grants `perm`, EACCES otherwise (hides existence). */
static int missing_error(struct xsd_view *v, const char *path, uint32_t perm)
{
    char buf[XENSTORE_ABS_PATH_MAX + 1];
    snprintf(buf, sizeof(buf), "%s", path);
    struct xsd_node *anc = NULL;
    while (!anc && strcmp(buf, "/") != 0) {
        path_parent(buf, buf);
        anc = view_lookup(v, buf);
    }
    if (anc && (perms_for(v->actor, &anc->perms) & perm))
        return -ENOENT;
    return -EACCES;
}

const struct xsd_node *store_get(struct xsd_view *v, const char *path, uint32_t perm,
                                 int *err)
{
    struct xsd_node *node = view_lookup(v, path);
    if (node && (perms_for(v->actor, &node->perms) & perm) == perm)
        return node;
    *err = node ? -EACCES : missing_error(v, path, perm);
    return NULL;
}

static const struct xsd_perms *parent_perms(struct xsd_view *v, const char *path)
{
    if (strcmp(path, "/") == 0)
        return NULL;
    char buf[XENSTORE_ABS_PATH_MAX + 1];
    snprintf(buf, sizeof(buf), "%s", path);
    path_parent(buf, buf);
    struct xsd_node *p = view_lookup(v, buf);
    return p ? &p->perms : NULL;
}

/* Creates path and its missing ancestors (they inherit their parent's
 * perms; an unprivileged creator becomes the owner). */
static int create_path(struct xsd_view *v, const char *path, const void *value,
                       uint32_t len, struct xsd_node **out)
{
    char buf[XENSTORE_ABS_PATH_MAX + 1];
    snprintf(buf, sizeof(buf), "%s", path);
    struct xsd_node *anc = NULL;
    uint32_t missing = 1;
    for (;;) {
        path_parent(buf, buf);
        anc = view_lookup(v, buf);
        if (anc || strcmp(buf, "/") == 0)
            break;
        missing++;
    }
    if (!anc || !(perms_for(v->actor, &anc->perms) & XSD_PERM_WRITE))
        return -EACCES;
    if (view_over_quota(v, missing))
        return -ENOSPC;

    struct xsd_node *parent = anc;
    size_t done = strlen(buf); /* prefix of path that exists */
    while (parent) {
        const char *next = strchr(path + done + 1, '/');
        size_t end = next ? (size_t)(next - path) : strlen(path);
        memcpy(buf, path, end);
        buf[end] = '\0';
        struct xsd_node *node = view_create(v, buf);
        if (!node || perms_copy(&node->perms, &parent->perms) ||
            node_add_child(parent, path_basename(buf)))
            return -ENOMEM; /* leaves a consistent, partial path */
        if (!v->actor->privileged && node->perms.n)
            node->perms.p[0].id = v->actor->domid;
        view_count(v, node_owner(node), 1);
        view_touch(v, parent);
        done = end;
        if (!next) {
            *out = node;
            return value || len ? node_set_value(node, value, len) : 0;
        }
        parent = node;
    }
    return -EIO;
}

int store_write(struct xsd_view *v, const char *path, const void *value, uint32_t len)
{
    if (!v->actor->privileged && len > v->xsd->lim.max_value_bytes)
        return -ENOSPC;
    struct xsd_node *node = view_lookup(v, path);
    int r;
    if (node) {
        if (!(perms_for(v->actor, &node->perms) & XSD_PERM_WRITE))
            return -EACCES;
        r = node_set_value(node, value, len);
        if (r)
            return r;
        view_touch(v, node);
    } else {
        r = create_path(v, path, value ? value : "", len, &node);
        if (r)
            return r;
    }
    return events_add(v->events, path, false, &node->perms, parent_perms(v, path), NULL);
}

int store_mkdir(struct xsd_view *v, const char *path)
{
    struct xsd_node *node = view_lookup(v, path);
    if (node) /* exists: fine, and no event (as xenstored) */
        return perms_for(v->actor, &node->perms) & XSD_PERM_WRITE ? 0 : -EACCES;
    int r = create_path(v, path, NULL, 0, &node);
    if (r)
        return r;
    return events_add(v->events, path, false, &node->perms, parent_perms(v, path), NULL);
}

/* Deletes node and everything below it, children first; each deleted node
 * fires the watches set exactly on it. */
static int delete_subtree(struct xsd_view *v, struct xsd_node *node,
                          const struct xsd_perms *parent)
{
    for (uint32_t i = 0; i < node->nchildren; i++) {
        size_t len = strlen(node->path) + strlen(node->children[i]) + 2;
        char *child_path = malloc(len);
        if (!child_path)
            return -ENOMEM;
        snprintf(child_path, len, "%s/%s", node->path, node->children[i]);
        struct xsd_node *child = view_lookup(v, child_path);
        free(child_path);
        if (child) {
            int r = delete_subtree(v, child, &node->perms);
            if (r)
                return r;
        }
    }
    int r = events_add(v->events, node->path, true, &node->perms, parent, NULL);
    view_count(v, node_owner(node), -1);
    view_delete(v, node);
    return r;
}

int store_rm(struct xsd_view *v, const char *path)
{
    if (strcmp(path, "/") == 0)
        return -EINVAL;
    struct xsd_node *node = view_lookup(v, path);
    char pbuf[XENSTORE_ABS_PATH_MAX + 1];
    snprintf(pbuf, sizeof(pbuf), "%s", path);
    path_parent(pbuf, pbuf);
    if (!node) {
        /* xenstored: removing a missing node is fine if its parent exists */
        int err = missing_error(v, path, XSD_PERM_WRITE);
        if (err == -ENOENT && view_lookup(v, pbuf))
            return 0;
        return err;
    }
    if (!(perms_for(v->actor, &node->perms) & XSD_PERM_WRITE))
        return -EACCES;
    struct xsd_node *parent = view_lookup(v, pbuf);
    if (!parent)
        return -EIO;
    /* Fire now, while the node's permissions can still be seen. */
    int r = events_add(v->events, path, false, &node->perms, &parent->perms, NULL);
    if (r)
        return r;
    r = delete_subtree(v, node, &parent->perms);
    node_del_child(parent, path_basename(path));
    view_touch(v, parent);
    return r;
}

static int set_special_perms(struct xsd_view *v, const char *name,
                             const struct xsd_perms *perms)
{
    struct xsd_perms *sp = &v->xsd->special[xsd_special_index(name)];
    const uint32_t need = XSD_PERM_WRITE | XSD_PERM_OWNER;
    if ((perms_for(v->actor, sp) & need) != need)
        return -EACCES;
    struct xsd_perms copy;
    if (perms_copy(&copy, perms))
        return -ENOMEM;
    perms_free(sp);
    *sp = copy;
    return 0;
}

int store_set_perms(struct xsd_view *v, const char *path, const struct xsd_perms *perms)
{
    if (!perms->n)
        return -EINVAL;
    if (!v->actor->privileged && perms->n > XSD_MAX_PERMS_UNPRIV)
        return -ENOSPC;
    if (path_is_special(path))
        return set_special_perms(v, path, perms);

    int err;
    const uint32_t need = XSD_PERM_WRITE | XSD_PERM_OWNER;
    struct xsd_node *node = (struct xsd_node *)store_get(v, path, need, &err);
    if (!node)
        return err;
    if (!v->actor->privileged && perms->p[0].id != node_owner(node))
        return -EPERM;

    struct xsd_perms copy, old;
    if (perms_copy(&copy, perms))
        return -ENOMEM;
    old = node->perms;
    view_count(v, node_owner(node), -1);
    node->perms = copy;
    view_count(v, node_owner(node), 1);
    view_touch(v, node);
    /* A watcher losing access sees the change, too (old perms count). */
    int r = events_add(v->events, path, false, &node->perms, &old, parent_perms(v, path));
    perms_free(&old);
    return r;
}

void store_fire(struct xsd *xsd, struct xsd_events *evs)
{
    watch_fire(xsd, evs);
    events_free(evs);
}
