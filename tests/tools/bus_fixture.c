#include "bus_fixture.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "xen.h"
#include "corepool.h"
#include "inbox.h"
#include "xenbus.h"
#include "xensim.h"

struct bus_world bw;

int bus_world_up(void)
{
    memset(&bw, 0, sizeof(bw));
    if (simworld_start_as_dom0(&bw.w, &bw.dom0) < 0)
        return -1;
    bw.x = sc_xen_open(SC_XEN_SIM);
    bw.ts = sc_xs_open_socket(simworld_xs_path(&bw.w, 0));
    return bw.x && bw.ts ? 0 : -1;
}

void bus_world_down(void)
{
    bus_world_close_bus();
    if (bw.ts)
        xs_close(bw.ts);
    if (bw.x)
        sc_xen_close(bw.x);
    if (bw.dom0)
        xsim_close(bw.dom0);
    simworld_stop(&bw.w);
    memset(&bw, 0, sizeof(bw));
}

int bus_world_open_bus(void)
{
    bw.bus_xs = sc_xs_open(bw.x);
    bw.bus = bw.bus_xs ? sc_xenbus_create(bw.x, bw.bus_xs) : NULL;
    return bw.bus ? 0 : -1;
}

void bus_world_close_bus(void)
{
    if (bw.bus && bw.pool) {
        /* what the daemon does at exit: disconnects complete as the
         * cores give the queues back */
        sc_xenbus_remove_all(bw.bus);
        for (int i = 0; i < 1000 && sc_xenbus_pending_disconnects(bw.bus); i++)
            bus_pump_once(bw.bus, 10);
    }
    if (bw.bus)
        sc_xenbus_destroy(bw.bus);
    if (bw.bus_xs)
        xs_close(bw.bus_xs);
    bw.bus = NULL;
    bw.bus_xs = NULL;
}

void bus_pump_once(struct sc_xenbus *bus, int timeout_ms)
{
    struct pollfd p[2] = { { .fd = sc_xenbus_fd(bus), .events = POLLIN } };
    nfds_t n = 1;
    if (bw.pool) {
        struct sc_inbox *replies = sc_pool_reply_inbox(bw.pool);
        if (!sc_inbox_arm(replies))
            timeout_ms = 0; /* answers already wait */
        p[n++] = (struct pollfd){ .fd = sc_inbox_fd(replies), .events = POLLIN };
    }
    poll(p, n, timeout_ms);
    if (bw.pool) {
        sc_inbox_disarm(sc_pool_reply_inbox(bw.pool));
        sc_pool_reap(bw.pool);
    }
    assert_true(sc_xenbus_dispatch(bus) >= 0);
}

char *xs_readf(struct xs_handle *xs, const char *fmt, ...)
{
    char path[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    unsigned len;
    return xs_read(xs, XBT_NULL, path, &len);
}

void xs_writef(struct xs_handle *xs, xs_transaction_t t, const char *val, const char *fmt, ...)
{
    char path[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    assert_true(xs_write(xs, t, path, val, (unsigned)strlen(val)));
}
