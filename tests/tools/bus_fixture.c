#include "bus_fixture.h"

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "xenbus.h"

void bus_pump_once(struct sc_xenbus *bus, int timeout_ms)
{
    struct pollfd p = { .fd = sc_xenbus_fd(bus), .events = POLLIN };
    poll(&p, 1, timeout_ms);
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
