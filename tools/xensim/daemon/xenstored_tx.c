/*
 * xenstored_tx.c - transactions.
 *
 * A transaction works on an overlay: the first access to a path copies the
 * main tree's node (or records its absence) together with the node's
 * generation then.  Operations run on the overlay only.  Commit fails with
 * EAGAIN if any touched path's generation in the main tree differs from the
 * one seen (changed, created or deleted by someone else; a parent's
 * generation moves when its children change), else the modified entries
 * replace the main tree's nodes and the recorded events fire.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstored_int.h"

struct xsd_tx *tx_new(uint32_t id, domid_t domid)
{
    struct xsd_tx *tx = calloc(1, sizeof(*tx));
    if (!tx)
        return NULL;
    if (tree_init(&tx->overlay)) {
        free(tx);
        errno = ENOMEM;
        return NULL;
    }
    tx->id = id;
    tx->domid = domid;
    return tx;
}

void tx_free(struct xsd_tx *tx)
{
    if (!tx)
        return;
    tree_fini(&tx->overlay);
    events_free(&tx->events);
    free(tx);
}

struct xsd_node *tx_entry(struct xsd *xsd, struct xsd_tx *tx, const char *path)
{
    struct xsd_node *e = tree_lookup(&tx->overlay, path);
    if (e)
        return e;
    e = node_new(path);
    if (!e)
        return NULL;
    const struct xsd_node *m = tree_lookup(&xsd->tree, path);
    if (m) {
        if (node_copy_contents(e, m)) {
            node_free(e);
            errno = ENOMEM;
            return NULL;
        }
        e->exists = true;
        e->seen_gen = e->gen = m->gen;
    }
    tree_insert(&tx->overlay, e);
    return e;
}

static uint32_t owner_of(const struct xsd_node *node)
{
    return node->perms.n ? node->perms.p[0].id : 0;
}

static void count_owned(struct xsd *xsd, uint32_t owner, int delta)
{
    if (owner < DOMID_FIRST_RESERVED)
        xsd->owned[owner] += (uint32_t)delta;
}

static int apply_entry(struct xsd *xsd, struct xsd_node *e)
{
    struct xsd_node *m = tree_lookup(&xsd->tree, e->path);
    if (m)
        count_owned(xsd, owner_of(m), -1);
    if (!e->exists) {
        if (m)
            node_free(tree_unlink(&xsd->tree, e->path));
        return 0;
    }
    if (!m) {
        m = node_new(e->path);
        if (!m)
            return -ENOMEM;
        tree_insert(&xsd->tree, m);
    }
    node_move_contents(m, e);
    m->gen = xsd_next_gen(xsd);
    count_owned(xsd, owner_of(m), 1);
    return 0;
}

int tx_commit(struct xsd *xsd, struct xsd_tx *tx, uint32_t max_nodes, bool privileged,
              struct xsd_events *evs)
{
    struct xsd_tree *o = &tx->overlay;
    for (size_t b = 0; b < o->nbuckets; b++) {
        for (struct xsd_node *e = o->buckets[b]; e; e = e->hnext) {
            const struct xsd_node *m = tree_lookup(&xsd->tree, e->path);
            if ((m ? m->gen : 0) != e->seen_gen)
                return -EAGAIN;
        }
    }
    /* Nothing touched changed, so the main tree's count plus the
     * transaction's own delta is what the domain will own. */
    if (!privileged && tx->own_delta > 0 &&
        (int64_t)xsd->owned[tx->domid] + tx->own_delta > (int64_t)max_nodes)
        return -ENOSPC;

    int err = 0;
    for (size_t b = 0; b < o->nbuckets; b++) {
        for (struct xsd_node *e = o->buckets[b]; e; e = e->hnext) {
            if (e->modified && apply_entry(xsd, e) && !err) {
                err = -ENOMEM;
                XSD_LOG("dom%u tx %u: out of memory while committing %s", tx->domid,
                        tx->id, e->path);
            }
        }
    }
    int r = events_append(evs, &tx->events);
    return err ? err : r;
}
