/*
 * fuzz_fe_keys.c - the frontend's xenstore values as the backends read
 * them: backend/fe_keys.h (sc_fe_read_uint, _uint_opt, _bool, _bool_warn,
 * sc_fe_num_queues, sc_fe_queue_dir) over the real sc_xs_read_* of
 * backend/xen_store.c and its strict parsers, and blkback's `protocol`
 * (blk_abi_from_protocol).  Every number blkback and netback take from a
 * frontend goes through these (grep sc_fe_ in blkback/ netback/); the
 * limits used below are theirs.
 *
 * The store is faked at libxenstore's door: this file defines xs_read(),
 * which the executable's own definition makes win over libxenstore's, and
 * answers each read with the next value of the input.  The bus is faked
 * too: sc_xenbus_xs() and sc_xenbus_device_fail() are defined here (so the
 * bus's objects are not linked), the latter counting failures so the
 * harness can check that a bad value fails the device exactly once and a
 * good one never does.
 *
 * Input: values separated by '\n' (a value may hold NUL bytes, which the
 * reader must refuse); a value of a single 0x7f byte is an absent key.
 * Value i is read by reader i % N (the table below).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <xenstore.h>

#include "blk_proto.h"
#include "fe_keys.h"
#include "fuzz.h"
#include "log.h"
#include "xen.h"

/* ---- the fakes ---- */

static const uint8_t *cur_val;  /* the value the next read returns */
static size_t cur_len;
static bool cur_absent;
static unsigned reads, fails;

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len);
void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len)
{
    (void)h;
    (void)t;
    FUZZ_CHECK(path && *path);
    reads++;
    if (cur_absent) {
        errno = ENOENT;
        return NULL;
    }
    /* as libxenstore: the bytes, NUL-terminated, their count in *len */
    char *v = malloc(cur_len + 1);
    FUZZ_CHECK(v);
    memcpy(v, cur_val, cur_len);
    v[cur_len] = '\0';
    if (len)
        *len = (unsigned)cur_len;
    return v;
}

struct xs_handle *sc_xenbus_xs(const struct sc_xenbus *bus)
{
    (void)bus;
    return (struct xs_handle *)&cur_val; /* never dereferenced: xs_read is ours */
}

void sc_xenbus_device_fail(struct sc_device *dev, int err, const char *fmt, ...)
{
    FUZZ_CHECK(dev && err < 0 && fmt);
    fails++;
}

/* ---- the oracle: what a strict decimal is, said another way ---- */

static bool ref_uint(unsigned long long max, unsigned long long *out)
{
    if (cur_absent || cur_len == 0)
        return false;
    for (size_t i = 0; i < cur_len; i++)
        if (cur_val[i] < '0' || cur_val[i] > '9')
            return false;
    char *buf = malloc(cur_len + 1);
    FUZZ_CHECK(buf);
    memcpy(buf, cur_val, cur_len);
    buf[cur_len] = '\0';
    errno = 0;
    unsigned long long v = strtoull(buf, NULL, 10);
    int e = errno;
    free(buf);
    if (e == ERANGE || v > max)
        return false;
    *out = v;
    return true;
}

/* ---- the readers: the calls and limits the backends use ---- */

static struct sc_device dev = {
    .name = "vbd 5/51712",
    .backend_path = "/local/domain/0/backend/vbd/5/51712",
    .frontend_path = "/local/domain/5/device/vbd/51712",
    .bus = (struct sc_xenbus *)&dev, /* opaque to fe_keys: handed to sc_xenbus_xs */
};

static void read_uint(unsigned long long max, bool opt)
{
    unsigned long long v = 12345, want = 0, def = 7;
    unsigned f0 = fails;
    bool ok = ref_uint(max, &want);
    int rc = opt ? sc_fe_read_uint_opt(&dev, dev.frontend_path, "ring-page-order", max, def, &v)
                 : sc_fe_read_uint(&dev, dev.frontend_path, "event-channel", max, &v);
    if (opt && cur_absent) {
        FUZZ_CHECK(rc == 1 && v == def && fails == f0);
        return;
    }
    FUZZ_CHECK(ok == (rc == 0));
    if (ok)
        FUZZ_CHECK(v == want && fails == f0);
    else
        FUZZ_CHECK((rc == -EINVAL || rc == -ENOENT) && fails == f0 + 1);
}

static void read_bool(bool warn)
{
    unsigned long long want = 0;
    unsigned f0 = fails;
    bool ok = ref_uint(1, &want);
    if (warn) {
        bool def = cur_len & 1;
        bool v = sc_fe_read_bool_warn(&dev, dev.frontend_path, "feature-sg", def);
        FUZZ_CHECK(v == (ok ? want == 1 : def) && fails == f0);
        return;
    }
    bool v = false;
    int rc = sc_fe_read_bool(&dev, dev.frontend_path, "request-rx-copy", true, &v);
    if (cur_absent)
        FUZZ_CHECK(rc == 1 && v);
    else if (ok)
        FUZZ_CHECK(rc == 0 && v == (want == 1) && fails == f0);
    else
        FUZZ_CHECK(rc == -EINVAL && fails == f0 + 1);
}

static void num_queues(unsigned max)
{
    unsigned long long want = 0;
    unsigned nq = 0, f0 = fails;
    bool ok = ref_uint(UINT32_MAX, &want);
    int rc = sc_fe_num_queues(&dev, max, &nq);
    if (cur_absent) {
        FUZZ_CHECK(rc == 0 && nq == 1);
    } else if (!ok) {
        FUZZ_CHECK(rc == -EINVAL && fails == f0 + 1);
        return;
    } else if (want == 0 || want > max) {
        FUZZ_CHECK(rc == -ENOSYS && fails == f0 + 1);
        return;
    } else {
        FUZZ_CHECK(rc == 0 && nq == want && fails == f0);
    }
    /* the queue directories of what was granted */
    for (unsigned i = 0; i < nq; i++) {
        char dir[128];
        FUZZ_CHECK(sc_fe_queue_dir(&dev, nq, i, dir, sizeof(dir)) == 0);
        FUZZ_CHECK(strncmp(dir, dev.frontend_path, strlen(dev.frontend_path)) == 0);
        char tiny[8];
        FUZZ_CHECK(sc_fe_queue_dir(&dev, nq, i, tiny, sizeof(tiny)) == -ENAMETOOLONG);
    }
}

static void protocol(void)
{
    char *p = sc_xs_read_str(sc_xenbus_xs(NULL), XBT_NULL, "%s/protocol", dev.frontend_path);
    if (!p) {
        FUZZ_CHECK(cur_absent || memchr(cur_val, '\0', cur_len));
        return;
    }
    FUZZ_CHECK(strlen(p) == cur_len && memcmp(p, cur_val, cur_len) == 0);
    enum blk_abi abi = (enum blk_abi)99;
    if (blk_abi_from_protocol(p, &abi) == 0) {
        FUZZ_CHECK(abi == BLK_ABI_NATIVE || abi == BLK_ABI_X86_32 || abi == BLK_ABI_X86_64);
        FUZZ_CHECK(blk_ring_entries(abi, 1) > 0);
        (void)blk_abi_str(abi);
    }
    free(p);
}

static void signed_int(void)
{
    long long v = 0;
    int rc = sc_xs_read_int(sc_xenbus_xs(NULL), XBT_NULL, -100, LLONG_MAX, &v, "%s/x",
                            dev.frontend_path);
    if (rc == 0)
        FUZZ_CHECK(v >= -100);
    else
        FUZZ_CHECK(rc == -EINVAL || (cur_absent && rc == -ENOENT));
}

static void state(void)
{
    unsigned long long v = 0, want = 0;
    bool ok = ref_uint(255, &want);
    int rc = sc_xs_read_uint(sc_xenbus_xs(NULL), XBT_NULL, 255, &v, "%s/state",
                             dev.frontend_path);
    FUZZ_CHECK(ok == (rc == 0));
    if (ok)
        FUZZ_CHECK(v == want);
}

static void read_one(unsigned kind)
{
    switch (kind % 10) {
    case 0: read_uint(UINT32_MAX, false); break;      /* event-channel, ring-ref */
    case 1: read_uint(UINT32_MAX, true); break;       /* ring-page-order, ctrl-ring-ref */
    case 2: read_uint(4096u / 2 - 1, true); break; /* xdp-headroom */
    case 3: read_bool(false); break;                  /* request-rx-copy */
    case 4: read_bool(true); break;                   /* feature-* */
    case 5: num_queues(4); break;                     /* multi-queue-num-queues */
    case 6: num_queues(1); break;
    case 7: protocol(); break;
    case 8: state(); break;
    default: signed_int(); break;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FILE *null = fopen("/dev/null", "w"); /* the _warn reader's warnings */
    if (null)
        sc_log_set_stream(null);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned kind = 0;
    size_t start = 0;
    while (start <= size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size;
        cur_val = data + start;
        cur_len = end - start;
        cur_absent = cur_len == 1 && cur_val[0] == 0x7f;
        read_one(kind++);
        start = end + 1;
        if (!nl)
            break;
    }
    return 0;
}
