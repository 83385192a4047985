/*
 * xenbus_test.c - the XenBus lifecycle (backend/xenbus.h) on xensim.
 *
 * dom0 is the backend.  The test plays three parts: the toolstack (a dom0
 * xenstore connection writing backend and frontend directories with libxl's
 * permissions), the frontend (a connection as the guest, writing only its
 * own directory), and the device class (a fake that counts its calls).  The
 * bus runs in this thread: pump() polls its fd and dispatches until an
 * expectation holds or 5 s pass.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "fe_keys.h"
#include "log.h"
#include "simworld.h"
#include "bus_fixture.h"
#include "xen.h"
#include "xenbus.h"
#include "xensim.h"

static domid_t guest;           /* the frontend domain of most tests */
static struct xs_handle *fe_xs; /* the guest's frontend driver */

/* ---- the fake device class ---- */

struct rec {
    domid_t fe;
    uint32_t devid;
    int probes, connects, disconnects, removes, changed, key_events;
    unsigned long long ring_ref;
};
static struct rec recs[64];
static unsigned nrecs;
static int connect_error; /* returned by connect when set */
static bool drain_slowly;  /* disconnect stays pending until the test ends it */
static struct sc_device *draining; /* the device whose disconnect is pending */

static struct rec *rec_of(domid_t fe, uint32_t devid)
{
    for (unsigned i = 0; i < nrecs; i++)
        if (recs[i].fe == fe && recs[i].devid == devid)
            return &recs[i];
    assert_true(nrecs < 64);
    recs[nrecs] = (struct rec){ .fe = fe, .devid = devid };
    return &recs[nrecs++];
}

static int fake_probe(struct sc_device *dev)
{
    struct rec *r = rec_of(dev->frontend_id, dev->devid);
    r->probes++;
    dev->priv = r;
    return sc_xs_write_str(sc_xenbus_xs(dev->bus), XBT_NULL, "1", "%s/feature-fake",
                           dev->backend_path);
}

static int fake_connect(struct sc_device *dev)
{
    struct rec *r = dev->priv;
    r->connects++;
    /* What a real class does: the frontend's keys are hostile. */
    int rc = sc_fe_read_uint(dev, dev->frontend_path, "ring-ref", UINT32_MAX, &r->ring_ref);
    if (rc < 0)
        return rc;
    if (connect_error)
        return connect_error;
    return sc_xs_write_str(sc_xenbus_xs(dev->bus), XBT_NULL, "1", "%s/fake-connected",
                           dev->backend_path);
}

static void fake_disconnect(struct sc_device *dev)
{
    struct rec *r = dev->priv;
    r->disconnects++;
    if (drain_slowly) { /* as a class whose queues still have I/O in flight */
        sc_xenbus_device_disconnect_pending(dev);
        draining = dev;
    }
}

static void fake_frontend_changed(struct sc_device *dev, const char *key)
{
    struct rec *r = dev->priv;
    if (strcmp(key, "fake-live") == 0)
        r->key_events++;
}

static void fake_remove(struct sc_device *dev)
{
    struct rec *r = dev->priv;
    r->removes++;
    dev->priv = NULL;
}

static void fake_backend_changed(struct sc_device *dev, const char *key)
{
    struct rec *r = dev->priv;
    if (strcmp(key, "params") == 0)
        r->changed++;
}

static const char *const fake_keys[] = { "params", NULL };
static const char *const fake_fe_keys[] = { "fake-live", NULL };
static const struct sc_device_class fake_class = {
    .type = "vbd",
    .backend_keys = fake_keys,
    .probe = fake_probe,
    .connect = fake_connect,
    .disconnect = fake_disconnect,
    .remove = fake_remove,
    .backend_changed = fake_backend_changed,
    .frontend_keys = fake_fe_keys,
    .frontend_changed = fake_frontend_changed,
};

/* ---- driving the bus ---- */

static void bus_up(void)
{
    assert_int_equal(bus_world_open_bus(), 0);
    assert_int_equal(sc_xenbus_register(bw.bus, &fake_class), 0);
    assert_int_equal(sc_xenbus_register(bw.bus, &fake_class), -EEXIST);
}

#define pump_once(ms) bus_pump_once(bw.bus, (ms))
/* Dispatches until `cond` holds (5 s at most), then asserts it. */
#define WAIT_FOR(cond) BUS_WAIT_FOR(bw.bus, 5000, cond)
/* The toolstack's reads and writes (dom0). */
#define ts_read(...) xs_readf(bw.ts, __VA_ARGS__)
#define ts_write(t, val, ...) xs_writef(bw.ts, (t), (val), __VA_ARGS__)

/* Dispatches for ms milliseconds whatever happens. */
static void pump_for(int ms)
{
    uint64_t until = sc_clock_ms() + ms;
    while (sc_clock_ms() < until)
        pump_once(10);
}

/* ---- the toolstack ---- */


static int be_state(domid_t fe, uint32_t devid)
{
    char *v = ts_read("/local/domain/0/backend/vbd/%u/%u/state", fe, devid);
    int s = v ? atoi(v) : -1;
    free(v);
    return s;
}

static char *error_node(domid_t fe, uint32_t devid)
{
    return ts_read("/local/domain/0/error/backend/vbd/%u/%u/error", fe, devid);
}

static bool has_error(domid_t fe, uint32_t devid)
{
    char *v = error_node(fe, devid);
    free(v);
    return v != NULL;
}


struct dev_opts {
    const char *frontend;    /* default /local/domain/<fe>/device/vbd/<devid> */
    const char *frontend_id; /* default "<fe>" */
    const char *script;      /* a hotplug script: wait for hotplug-status */
};

/* What libxl's device add does (xsim_device_add), with a frontend path or
 * frontend-id forged if asked. */
static void ts_add(domid_t fe, uint32_t devid, const struct dev_opts *o)
{
    const char *keys[8] = { "params", "/dev/null" }, **k = keys + 2;
    if (o && o->frontend) {
        *k++ = "frontend";
        *k++ = o->frontend;
    }
    if (o && o->frontend_id) {
        *k++ = "frontend-id";
        *k++ = o->frontend_id;
    }
    if (o && o->script) {
        *k++ = "script";
        *k++ = o->script;
    }
    const struct xsim_device d = { .backend_type = "vbd", .frontend_type = "vbd",
                                   .frontend_id = fe, .devid = devid, .backend_keys = keys };
    assert_int_equal(xsim_device_add(bw.ts, &d), 0);
}

/* What libxl's device remove does: online=0 and state=Closing. */
static void ts_detach(domid_t fe, uint32_t devid)
{
    char be[128];
    snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u", fe, devid);
    assert_int_equal(xsim_device_unplug(bw.ts, be), 0);
}

static void ts_rm_all(domid_t fe, uint32_t devid)
{
    char p[128];
    snprintf(p, sizeof(p), "/local/domain/0/backend/vbd/%u/%u", fe, devid);
    xs_rm(bw.ts, XBT_NULL, p);
    snprintf(p, sizeof(p), "/local/domain/%u/device/vbd/%u", fe, devid);
    xs_rm(bw.ts, XBT_NULL, p);
    snprintf(p, sizeof(p), "/local/domain/0/error/backend/vbd/%u/%u", fe, devid);
    xs_rm(bw.ts, XBT_NULL, p);
}

/* ---- the frontend (as the guest) ---- */

static void fe_write_as(struct xs_handle *h, domid_t fe, uint32_t devid, const char *key,
                        const char *val)
{
    char p[128];
    snprintf(p, sizeof(p), "/local/domain/%u/device/vbd/%u/%s", fe, devid, key);
    assert_true(xs_write(h, XBT_NULL, p, val, (unsigned)strlen(val)));
}

static void fe_write(uint32_t devid, const char *key, const char *val)
{
    fe_write_as(fe_xs, guest, devid, key, val);
}

static void fe_state(uint32_t devid, int s)
{
    char v[8];
    snprintf(v, sizeof(v), "%d", s);
    fe_write(devid, "state", v);
}

/* A device of `guest` taken to Connected the normal way. */
static struct rec *bring_up(uint32_t devid)
{
    ts_add(guest, devid, NULL);
    WAIT_FOR(be_state(guest, devid) == XenbusStateInitWait);
    struct rec *r = rec_of(guest, devid);
    assert_int_equal(r->probes, 1);
    fe_write(devid, "ring-ref", "8");
    fe_state(devid, XenbusStateInitialised);
    WAIT_FOR(be_state(guest, devid) == XenbusStateConnected);
    assert_int_equal(r->connects, 1);
    assert_int_equal(r->ring_ref, 8);
    return r;
}

/* ---- fixtures ---- */

static int world_up(void **state)
{
    (void)state;
    sc_log_set_level(SC_LOG_INFO);
    if (bus_world_up() < 0)
        return -1;
    int id = xsim_domain_create(bw.dom0, "xenbus-guest", 16);
    if (id <= 0)
        return -1;
    guest = (domid_t)id;
    fe_xs = sc_xs_open_socket(simworld_xs_path(&bw.w, guest));
    return fe_xs ? 0 : -1;
}

static int world_down(void **state)
{
    (void)state;
    if (fe_xs)
        xs_close(fe_xs);
    bus_world_down();
    return 0;
}

static int bus_setup(void **state)
{
    (void)state;
    connect_error = 0;
    drain_slowly = false;
    draining = NULL;
    bus_up();
    return 0;
}

static int bus_teardown(void **state)
{
    (void)state;
    bus_world_close_bus();
    return 0;
}

/* ---- tests ---- */

static void handshake_connects_and_closes_once(void **state)
{
    (void)state;
    const uint32_t devid = 51712;
    ts_add(guest, devid, NULL);
    WAIT_FOR(be_state(guest, devid) == XenbusStateInitWait);
    struct rec *r = rec_of(guest, devid);
    assert_int_equal(r->probes, 1);
    char *feat = ts_read("/local/domain/0/backend/vbd/%u/%u/feature-fake", guest, devid);
    assert_non_null(feat);
    free(feat);
    assert_int_equal(r->connects, 0);

    struct sc_device *dev = sc_xenbus_find_device(bw.bus, "vbd", guest, devid);
    assert_non_null(dev);
    char fpath[64], name[32];
    snprintf(fpath, sizeof(fpath), "/local/domain/%u/device/vbd/%u", guest, devid);
    assert_string_equal(dev->frontend_path, fpath);
    snprintf(name, sizeof(name), "vbd %u/%u", guest, devid);
    assert_string_equal(dev->name, name);

    fe_write(devid, "ring-ref", "77");
    fe_state(devid, XenbusStateInitialised);
    WAIT_FOR(be_state(guest, devid) == XenbusStateConnected);
    assert_int_equal(r->connects, 1);
    assert_int_equal(r->ring_ref, 77);
    fe_state(devid, XenbusStateConnected); /* no second connect */
    pump_for(100);
    assert_int_equal(r->connects, 1);

    /* A key of ours or an unlisted one is no news; a listed one is. */
    ts_write(XBT_NULL, "/dev/zero", "/local/domain/0/backend/vbd/%u/%u/params", guest, devid);
    WAIT_FOR(r->changed == 1);

    fe_state(devid, XenbusStateClosing);
    WAIT_FOR(be_state(guest, devid) == XenbusStateClosing);
    assert_int_equal(r->disconnects, 0);
    fe_state(devid, XenbusStateClosed);
    WAIT_FOR(be_state(guest, devid) == XenbusStateClosed);
    pump_for(100);
    assert_int_equal(r->disconnects, 1);
    assert_int_equal(r->removes, 0); /* online=1: the device stays */
    assert_false(has_error(guest, devid));
    ts_rm_all(guest, devid);
    WAIT_FOR(r->removes == 1);
    assert_int_equal(r->disconnects, 1);
}

static void reconnect_after_closed(void **state)
{
    (void)state;
    const uint32_t devid = 51728;
    struct rec *r = bring_up(devid);
    fe_state(devid, XenbusStateClosing);
    fe_state(devid, XenbusStateClosed);
    WAIT_FOR(be_state(guest, devid) == XenbusStateClosed && r->disconnects == 1);

    fe_state(devid, XenbusStateInitialising);
    WAIT_FOR(be_state(guest, devid) == XenbusStateInitWait);
    fe_write(devid, "ring-ref", "99");
    fe_state(devid, XenbusStateConnected); /* straight to Connected is allowed */
    WAIT_FOR(be_state(guest, devid) == XenbusStateConnected);
    assert_int_equal(r->connects, 2);
    assert_int_equal(r->ring_ref, 99);
    assert_int_equal(r->probes, 1);
    assert_int_equal(r->disconnects, 1);
    ts_rm_all(guest, devid);
    WAIT_FOR(r->removes == 1);
    assert_int_equal(r->disconnects, 2);
}

static void unplug_online0_removes(void **state)
{
    (void)state;
    const uint32_t devid = 51744;
    struct rec *r = bring_up(devid);
    ts_detach(guest, devid);
    pump_for(100);
    assert_int_equal(be_state(guest, devid), XenbusStateClosing);
    assert_int_equal(r->removes, 0);
    /* The frontend answers the backend's Closing. */
    fe_state(devid, XenbusStateClosing);
    fe_state(devid, XenbusStateClosed);
    WAIT_FOR(r->removes == 1);
    assert_int_equal(be_state(guest, devid), XenbusStateClosed);
    assert_int_equal(r->disconnects, 1);
    assert_null(sc_xenbus_find_device(bw.bus, "vbd", guest, devid));
    /* Our own last writes and more events on the dead directory do not
     * bring it back. */
    ts_write(XBT_NULL, "x", "/local/domain/0/backend/vbd/%u/%u/params", guest, devid);
    pump_for(150);
    assert_int_equal(r->probes, 1);
    ts_rm_all(guest, devid);
}

static void unplug_of_closed_device_completes(void **state)
{
    (void)state;
    const uint32_t devid = 51760;
    struct rec *r = bring_up(devid);
    fe_state(devid, XenbusStateClosing);
    fe_state(devid, XenbusStateClosed);
    WAIT_FOR(be_state(guest, devid) == XenbusStateClosed && r->disconnects == 1);
    /* The frontend is already Closed and will not move again: the detach
     * must finish without it. */
    ts_detach(guest, devid);
    WAIT_FOR(r->removes == 1);
    WAIT_FOR(be_state(guest, devid) == XenbusStateClosed);
    assert_int_equal(r->disconnects, 1);
    ts_rm_all(guest, devid);
}

static void hotplug_status_gates_connect(void **state)
{
    (void)state;
    const uint32_t ok = 51776, bad = 51792;
    struct dev_opts o = { .script = "/etc/xen/scripts/block" };
    ts_add(guest, ok, &o);
    ts_add(guest, bad, &o);
    WAIT_FOR(be_state(guest, ok) == XenbusStateInitWait &&
             be_state(guest, bad) == XenbusStateInitWait);
    fe_write(ok, "ring-ref", "1");
    fe_write(bad, "ring-ref", "2");
    fe_state(ok, XenbusStateInitialised);
    fe_state(bad, XenbusStateInitialised);
    pump_for(200);
    assert_int_equal(be_state(guest, ok), XenbusStateInitWait);
    assert_int_equal(rec_of(guest, ok)->connects, 0);

    ts_write(XBT_NULL, "connected", "/local/domain/0/backend/vbd/%u/%u/hotplug-status", guest, ok);
    ts_write(XBT_NULL, "error", "/local/domain/0/backend/vbd/%u/%u/hotplug-status", guest, bad);
    WAIT_FOR(be_state(guest, ok) == XenbusStateConnected);
    WAIT_FOR(be_state(guest, bad) == XenbusStateClosing);
    assert_int_equal(rec_of(guest, ok)->connects, 1);
    assert_int_equal(rec_of(guest, bad)->connects, 0);
    char *err = error_node(guest, bad);
    assert_non_null(err);
    assert_non_null(strstr(err, "hotplug"));
    assert_int_equal(atoi(err), EIO);
    free(err);
    ts_rm_all(guest, ok);
    ts_rm_all(guest, bad);
    WAIT_FOR(rec_of(guest, ok)->removes == 1 && rec_of(guest, bad)->removes == 1);
}

static void backend_dir_removed_disconnects(void **state)
{
    (void)state;
    const uint32_t devid = 51808;
    struct rec *r = bring_up(devid);
    char p[128];
    snprintf(p, sizeof(p), "/local/domain/0/backend/vbd/%u/%u", guest, devid);
    assert_true(xs_rm(bw.ts, XBT_NULL, p));
    WAIT_FOR(r->removes == 1);
    assert_int_equal(r->disconnects, 1);
    assert_int_equal(be_state(guest, devid), -1); /* not resurrected */
    ts_rm_all(guest, devid);
}

static void guest_destroyed_removes_its_devices(void **state)
{
    (void)state;
    int id = xsim_domain_create(bw.dom0, "xenbus-doomed", 16);
    assert_true(id > 0);
    domid_t doomed = (domid_t)id;
    struct xs_handle *h = sc_xs_open_socket(simworld_xs_path(&bw.w, doomed));
    assert_non_null(h);
    ts_add(doomed, 1, NULL);
    ts_add(doomed, 2, NULL);
    const uint32_t bystander = 51824;
    struct rec *b = bring_up(bystander);
    WAIT_FOR(be_state(doomed, 1) == XenbusStateInitWait &&
             be_state(doomed, 2) == XenbusStateInitWait);
    for (uint32_t d = 1; d <= 2; d++) {
        fe_write_as(h, doomed, d, "ring-ref", "5");
        fe_write_as(h, doomed, d, "state", "4");
    }
    WAIT_FOR(be_state(doomed, 1) == XenbusStateConnected &&
             be_state(doomed, 2) == XenbusStateConnected);
    xs_close(h);

    assert_int_equal(xsim_domain_destroy(bw.dom0, doomed), 0);
    WAIT_FOR(rec_of(doomed, 1)->removes == 1 && rec_of(doomed, 2)->removes == 1);
    for (uint32_t d = 1; d <= 2; d++) {
        assert_int_equal(rec_of(doomed, d)->disconnects, 1);
        assert_int_equal(be_state(doomed, d), XenbusStateClosed);
    }
    /* The other guest's device is untouched. */
    assert_int_equal(b->disconnects, 0);
    assert_int_equal(be_state(guest, bystander), XenbusStateConnected);
    ts_rm_all(doomed, 1);
    ts_rm_all(doomed, 2);
    ts_rm_all(guest, bystander);
    WAIT_FOR(b->removes == 1);
}

static void device_existing_before_start_is_picked_up(void **state)
{
    (void)state;
    const uint32_t devid = 51840;
    bus_world_close_bus();
    ts_add(guest, devid, NULL);
    fe_write(devid, "ring-ref", "3");
    fe_state(devid, XenbusStateInitialised);
    bus_up();
    WAIT_FOR(be_state(guest, devid) == XenbusStateConnected);
    struct rec *r = rec_of(guest, devid);
    assert_int_equal(r->probes, 1);
    assert_int_equal(r->connects, 1);
    ts_rm_all(guest, devid);
    WAIT_FOR(r->removes == 1);
}

static void restart_reattaches_connected_device(void **state)
{
    (void)state;
    const uint32_t devid = 51856;
    struct rec *r = bring_up(devid);
    bus_world_close_bus(); /* the daemon stops: rings let go, xenstore untouched */
    assert_int_equal(r->disconnects, 1);
    assert_int_equal(r->removes, 1);
    assert_int_equal(be_state(guest, devid), XenbusStateConnected);

    bus_up(); /* adopts it at once: probe + connect again */
    assert_int_equal(r->probes, 2);
    assert_int_equal(r->connects, 2);
    pump_for(150);
    assert_int_equal(r->connects, 2);
    assert_int_equal(be_state(guest, devid), XenbusStateConnected);
    struct sc_device *dev = sc_xenbus_find_device(bw.bus, "vbd", guest, devid);
    assert_non_null(dev);
    assert_int_equal(dev->state, XenbusStateConnected);
    ts_rm_all(guest, devid);
    WAIT_FOR(r->removes == 2);
    assert_int_equal(r->disconnects, 2);
}

static void malformed_toolstack_keys_fail_only_that_device(void **state)
{
    (void)state;
    const uint32_t bad_id = 51872, bad_path = 51888, good = 51904;
    char elsewhere[96];
    snprintf(elsewhere, sizeof(elsewhere), "/local/domain/%u/device/vbd/%u", guest + 1, bad_path);
    struct dev_opts o1 = { .frontend_id = "1x" };
    struct dev_opts o2 = { .frontend = elsewhere };
    ts_add(guest, bad_id, &o1);
    ts_add(guest, bad_path, &o2);
    struct rec *g = bring_up(good);

    WAIT_FOR(has_error(guest, bad_id) && has_error(guest, bad_path));
    WAIT_FOR(be_state(guest, bad_id) == XenbusStateClosing &&
             be_state(guest, bad_path) == XenbusStateClosing);
    char *e = error_node(guest, bad_path);
    assert_int_equal(atoi(e), EINVAL);
    assert_non_null(strstr(e, "not in domain"));
    free(e);
    assert_int_equal(rec_of(guest, bad_id)->probes, 0);
    assert_int_equal(rec_of(guest, bad_path)->probes, 0);
    assert_int_equal(g->disconnects, 0);
    assert_int_equal(be_state(guest, good), XenbusStateConnected);

    /* The toolstack detaches a failed device: it goes Closed and away. */
    ts_detach(guest, bad_id);
    WAIT_FOR(be_state(guest, bad_id) == XenbusStateClosed);
    assert_null(sc_xenbus_find_device(bw.bus, "vbd", guest, bad_id));
    ts_rm_all(guest, bad_id);
    ts_rm_all(guest, bad_path);
    ts_rm_all(guest, good);
    WAIT_FOR(g->removes == 1);
}

static void connect_error_writes_error_and_closes(void **state)
{
    (void)state;
    const uint32_t devid = 51920;
    ts_add(guest, devid, NULL);
    WAIT_FOR(be_state(guest, devid) == XenbusStateInitWait);
    connect_error = -ENOSPC;
    fe_write(devid, "ring-ref", "4");
    fe_state(devid, XenbusStateInitialised);
    WAIT_FOR(be_state(guest, devid) == XenbusStateClosing);
    struct rec *r = rec_of(guest, devid);
    assert_int_equal(r->connects, 1);
    assert_int_equal(r->disconnects, 1); /* the partial connect is undone */
    char *e = error_node(guest, devid);
    assert_non_null(e);
    assert_int_equal(atoi(e), ENOSPC);
    free(e);

    /* The frontend closes and comes back: the device works again. */
    connect_error = 0;
    fe_state(devid, XenbusStateClosed);
    WAIT_FOR(be_state(guest, devid) == XenbusStateClosed);
    fe_state(devid, XenbusStateInitialising);
    WAIT_FOR(be_state(guest, devid) == XenbusStateInitWait);
    fe_state(devid, XenbusStateInitialised);
    WAIT_FOR(be_state(guest, devid) == XenbusStateConnected);
    assert_int_equal(r->connects, 2);
    assert_int_equal(r->disconnects, 1);
    ts_rm_all(guest, devid);
    WAIT_FOR(r->removes == 1);
}

static void hostile_frontend_values_fail_only_that_device(void **state)
{
    (void)state;
    const uint32_t garbage_state = 51936, garbage_ref = 51952, good = 51968;
    struct rec *g = bring_up(good);
    ts_add(guest, garbage_state, NULL);
    ts_add(guest, garbage_ref, NULL);
    WAIT_FOR(be_state(guest, garbage_state) == XenbusStateInitWait &&
             be_state(guest, garbage_ref) == XenbusStateInitWait);
    fe_write(garbage_state, "state", "4 ");
    fe_write(garbage_ref, "ring-ref", "0x10");
    fe_state(garbage_ref, XenbusStateInitialised);
    WAIT_FOR(be_state(guest, garbage_state) == XenbusStateClosing &&
             be_state(guest, garbage_ref) == XenbusStateClosing);
    assert_true(has_error(guest, garbage_state));
    assert_true(has_error(guest, garbage_ref));
    assert_int_equal(rec_of(guest, garbage_state)->connects, 0);
    assert_int_equal(rec_of(guest, garbage_ref)->disconnects, 1);
    /* A state beyond the protocol is refused too. */
    fe_state(good, 7);
    WAIT_FOR(be_state(guest, good) == XenbusStateClosing);
    assert_int_equal(g->disconnects, 1);
    ts_rm_all(guest, garbage_state);
    ts_rm_all(guest, garbage_ref);
    ts_rm_all(guest, good);
    WAIT_FOR(g->removes == 1);
}

static void keys_written_one_by_one_are_waited_for(void **state)
{
    (void)state;
    const uint32_t devid = 52000;
    char be[128], fr[128], id[16];
    snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u", guest, devid);
    snprintf(fr, sizeof(fr), "/local/domain/%u/device/vbd/%u", guest, devid);
    snprintf(id, sizeof(id), "%u", guest);
    struct xs_permissions be_perms[2] = { { .id = 0, .perms = XS_PERM_NONE },
                                          { .id = guest, .perms = XS_PERM_READ } };
    struct xs_permissions fe_perms[2] = { { .id = guest, .perms = XS_PERM_NONE },
                                          { .id = 0, .perms = XS_PERM_READ } };
    struct rec *r = rec_of(guest, devid);

    /* No transaction: every key is an event of its own. */
    assert_true(xs_mkdir(bw.ts, XBT_NULL, be));
    assert_true(xs_set_permissions(bw.ts, XBT_NULL, be, be_perms, 2));
    ts_write(XBT_NULL, "1", "%s/state", be);
    ts_write(XBT_NULL, "1", "%s/online", be);
    pump_for(100);
    ts_write(XBT_NULL, id, "%s/frontend-id", be);
    pump_for(100);
    ts_write(XBT_NULL, fr, "%s/frontend", be); /* the frontend directory is not there yet */
    pump_for(100);
    assert_int_equal(r->probes, 0);
    assert_int_equal(be_state(guest, devid), XenbusStateInitialising);
    assert_false(has_error(guest, devid));

    assert_true(xs_mkdir(bw.ts, XBT_NULL, fr));
    assert_true(xs_set_permissions(bw.ts, XBT_NULL, fr, fe_perms, 2));
    ts_write(XBT_NULL, be, "%s/backend", fr);
    ts_write(XBT_NULL, "1", "%s/state", fr);
    WAIT_FOR(be_state(guest, devid) == XenbusStateInitWait);
    assert_int_equal(r->probes, 1);
    fe_write(devid, "ring-ref", "6");
    fe_state(devid, XenbusStateInitialised);
    WAIT_FOR(be_state(guest, devid) == XenbusStateConnected);
    ts_rm_all(guest, devid);
    WAIT_FOR(r->removes == 1);
}

static int count_devices(struct sc_device *dev, void *arg)
{
    (void)dev;
    (*(int *)arg)++;
    return 0;
}

static void control_thread_fails_device_by_id(void **state)
{
    (void)state;
    const uint32_t devid = 51984;
    struct rec *r = bring_up(devid);
    int n = 0;
    assert_int_equal(sc_xenbus_foreach_device(bw.bus, count_devices, &n), 0);
    assert_true(n >= 1);
    struct sc_device *dev = sc_xenbus_find_device(bw.bus, "vbd", guest, devid);
    assert_non_null(dev);
    uint64_t id = dev->id;
    assert_int_equal(sc_xenbus_fail_device_id(bw.bus, id, -EPROTO, "q0: ring overflow"), 0);
    assert_int_equal(r->disconnects, 1);
    assert_int_equal(be_state(guest, devid), XenbusStateClosing);
    char *e = error_node(guest, devid);
    assert_non_null(e);
    assert_non_null(strstr(e, "q0: ring overflow"));
    free(e);
    ts_rm_all(guest, devid);
    WAIT_FOR(r->removes == 1);
    assert_int_equal(sc_xenbus_fail_device_id(bw.bus, id, -EIO, "late"), -ENOENT);
}

/* A device whose disconnect drains (I/O in flight) is held short of
 * Closed, and only it: another device connects meanwhile. */
static void pending_disconnect_holds_only_that_device(void **state)
{
    (void)state;
    const uint32_t slow = 52224, other = 52240;
    struct rec *r = bring_up(slow);
    drain_slowly = true;
    fe_state(slow, XenbusStateClosing);
    fe_state(slow, XenbusStateClosed);
    WAIT_FOR(r->disconnects == 1);
    pump_for(100);
    assert_non_null(draining);
    assert_int_equal(sc_xenbus_pending_disconnects(bw.bus), 1);
    assert_int_equal(be_state(guest, slow), XenbusStateClosing); /* not Closed yet */

    drain_slowly = false;
    struct rec *o = bring_up(other);
    assert_int_equal(o->connects, 1);

    sc_xenbus_device_disconnected(draining);
    WAIT_FOR(be_state(guest, slow) == XenbusStateClosed);
    assert_int_equal(sc_xenbus_pending_disconnects(bw.bus), 0);
    assert_int_equal(r->disconnects, 1);
    ts_rm_all(guest, slow);
    ts_rm_all(guest, other);
    WAIT_FOR(r->removes == 1 && o->removes == 1);
}

/* The backend directory removed while the disconnect drains: the class's
 * remove waits for the drain. */
static void removal_waits_for_pending_disconnect(void **state)
{
    (void)state;
    const uint32_t devid = 52256;
    struct rec *r = bring_up(devid);
    drain_slowly = true;
    ts_rm_all(guest, devid);
    WAIT_FOR(r->disconnects == 1);
    pump_for(100);
    assert_int_equal(r->removes, 0);
    assert_non_null(sc_xenbus_find_device(bw.bus, "vbd", guest, devid));
    /* the toolstack attaches the same disk again meanwhile */
    ts_add(guest, devid, NULL);
    pump_for(100);
    assert_int_equal(r->probes, 1);
    sc_xenbus_device_disconnected(draining);
    assert_int_equal(r->removes, 1);
    /* the old device is gone, the new directory is taken */
    drain_slowly = false;
    WAIT_FOR(r->probes == 2 && be_state(guest, devid) == XenbusStateInitWait);
    ts_rm_all(guest, devid);
    WAIT_FOR(r->removes == 2);
    assert_null(sc_xenbus_find_device(bw.bus, "vbd", guest, devid));
}

/* A key the class lists in frontend_keys reaches it while probed. */
static void class_frontend_keys_are_watched(void **state)
{
    (void)state;
    const uint32_t devid = 52272;
    struct rec *r = bring_up(devid);
    int before = r->key_events;
    fe_write(devid, "fake-live", "1");
    WAIT_FOR(r->key_events > before);
    before = r->key_events;
    fe_write(devid, "not-listed", "1");
    pump_for(100);
    assert_int_equal(r->key_events, before);
    ts_rm_all(guest, devid);
    WAIT_FOR(r->removes == 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, bus_setup, bus_teardown)
    const struct CMUnitTest tests[] = {
        T(handshake_connects_and_closes_once),
        T(reconnect_after_closed),
        T(unplug_online0_removes),
        T(unplug_of_closed_device_completes),
        T(hotplug_status_gates_connect),
        T(backend_dir_removed_disconnects),
        T(guest_destroyed_removes_its_devices),
        T(device_existing_before_start_is_picked_up),
        T(restart_reattaches_connected_device),
        T(malformed_toolstack_keys_fail_only_that_device),
        T(connect_error_writes_error_and_closes),
        T(hostile_frontend_values_fail_only_that_device),
        T(keys_written_one_by_one_are_waited_for),
        T(control_thread_fails_device_by_id),
        T(pending_disconnect_holds_only_that_device),
        T(removal_waits_for_pending_disconnect),
        T(class_frontend_keys_are_watched),
    };
    return cmocka_run_group_tests(tests, world_up, world_down);
}
