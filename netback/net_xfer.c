/*
 * net_xfer.c - a switch endpoint's inbox and transfer pool (net_xfer.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "net_xfer.h"

int net_xport_init(struct net_xport *xp, unsigned n)
{
    xp->inbox.efd = -1;
    xp->pool = calloc(n, sizeof(*xp->pool));
    if (!xp->pool)
        return -ENOMEM;
    int rc = sc_inbox_init(&xp->inbox);
    if (rc < 0) {
        free(xp->pool);
        xp->pool = NULL;
        return rc;
    }
    xp->nxfers = n;
    xp->free = NULL;
    xp->nfree = 0;
    for (unsigned i = n; i-- > 0;)
        net_xfer_put(xp, &xp->pool[i]);
    return 0;
}

void net_xport_destroy(struct net_xport *xp)
{
    if (!xp->pool)
        return;
    sc_inbox_destroy(&xp->inbox);
    free(xp->pool);
    xp->pool = NULL;
}
