/*
 * rsp_stage.c - responses staged by ring index, pushed in ring order through
 * a log that outlives the process.  Contract in rsp_stage.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "rsp_stage.h"


/* A ring.h shared ring, to learn where its entries start. */
struct rsp_probe_req { uint64_t x; };
struct rsp_probe_rsp { uint64_t x; };
DEFINE_RING_TYPES(rsp_probe, struct rsp_probe_req, struct rsp_probe_rsp);
static_assert(sizeof(struct sc_rsp_log) == 64, "log header");
#define SRING_HDR_SIZE offsetof(struct rsp_probe_sring, ring)


static char state_dir[PATH_MAX];

int sc_rsp_stage_set_dir(const char *dir)
{
    if (!dir || !*dir) {
        state_dir[0] = '\0';
        return 0;
    }
    if (strlen(dir) >= sizeof(state_dir) - SC_RSP_STAGE_NAME_MAX - 2)
        return -ENAMETOOLONG;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    snprintf(state_dir, sizeof(state_dir), "%s", dir);
    return 0;
}

/* The name as a file name: [A-Za-z0-9._] kept, anything else '-'. */
static bool file_name(const char *name, char *out, size_t len)
{
    size_t n = strlen(name);
    if (n == 0 || n > SC_RSP_STAGE_NAME_MAX || n >= len)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                         c == '_' || (c == '.' && i > 0)
                     ? c
                     : '-';
    }
    out[n] = '\0';
    return true;
}

static uint64_t intent_of(RING_IDX from, RING_IDX to)
{
    return (uint64_t)from | (uint64_t)to << 32;
}

static uint8_t *ring_slot(const struct sc_rsp_stage *s, RING_IDX idx)
{
    return s->ring0 + (size_t)(idx & (s->nr_ents - 1)) * s->entry_size;
}

static uint8_t *log_slot(const struct sc_rsp_stage *s, RING_IDX idx)
{
    return s->log->slots + (size_t)(idx & (s->nr_ents - 1)) * s->rsp_size;
}

static void write_slots(struct sc_rsp_stage *s, RING_IDX from, RING_IDX to)
{
    for (RING_IDX i = from; i != to; i++)
        memcpy(ring_slot(s, i), log_slot(s, i), s->rsp_size);
}

/* A push the previous process began and did not finish: the log names
 * this ring and the ring's rsp_prod is still where the push started. */
static unsigned finish_torn_push(struct sc_rsp_stage *s, uint64_t ring_id)
{
    struct sc_rsp_log *l = s->log;
    if (l->magic != SC_RSP_LOG_MAGIC || l->rsp_size != s->rsp_size || l->nr_ents != s->nr_ents ||
        l->ring_id != ring_id)
        return 0;
    uint64_t intent = atomic_load_explicit(&l->intent, memory_order_acquire);
    RING_IDX from = (RING_IDX)intent, to = (RING_IDX)(intent >> 32);
    RING_IDX prod = __atomic_load_n(s->rsp_prod, __ATOMIC_ACQUIRE);
    if (from == to || prod != from || (RING_IDX)(to - from) > s->nr_ents)
        return 0;
    write_slots(s, from, to);
    __atomic_store_n(s->rsp_prod, to, __ATOMIC_RELEASE);
    return (unsigned)(to - from);
}

/* the slots, then the private put flags (stale ones in a reused file are
 * cleared at open) */
size_t sc_rsp_stage_log_len(size_t rsp_size, unsigned nr_ents)
{
    return sizeof(struct sc_rsp_log) + (size_t)nr_ents * (rsp_size + 1);
}

static int map_log(struct sc_rsp_stage *s, const char *name, bool *existed)
{
    s->log_len = sc_rsp_stage_log_len(s->rsp_size, s->nr_ents);
    *existed = false;
    if (!name || !state_dir[0]) {
        s->log = mmap(NULL, s->log_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
        return s->log == MAP_FAILED ? (s->log = NULL, -errno) : 0;
    }
    char file[SC_RSP_STAGE_NAME_MAX + 1];
    if (!file_name(name, file, sizeof(file)))
        return -EINVAL;
    if (asprintf(&s->path, "%s/%s", state_dir, file) < 0) {
        s->path = NULL;
        return -ENOMEM;
    }
    int fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int err = -errno;
        free(s->path);
        s->path = NULL;
        return err;
    }
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) < 0)
        err = -errno;
    else if ((size_t)st.st_size == s->log_len)
        *existed = true;
    else if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)s->log_len) < 0)
        err = -errno;
    if (!err) {
        s->log = mmap(NULL, s->log_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (s->log == MAP_FAILED) {
            s->log = NULL;
            err = -errno;
        }
    }
    close(fd);
    if (err) {
        unlink(s->path);
        free(s->path);
        s->path = NULL;
    }
    return err;
}

int sc_rsp_stage_open(struct sc_rsp_stage *s, void *sring, size_t entry_size, size_t rsp_size,
                      unsigned nr_ents, const char *name, uint64_t ring_id,
                      unsigned *recovered)
{
    if (recovered)
        *recovered = 0;
    if (!s || !sring || nr_ents == 0 || (nr_ents & (nr_ents - 1)) || rsp_size == 0 ||
        rsp_size > entry_size)
        return -EINVAL;
    memset(s, 0, sizeof(*s));
    s->ring0 = (uint8_t *)sring + SRING_HDR_SIZE;
    s->rsp_prod = &((struct rsp_probe_sring *)sring)->rsp_prod;
    s->rsp_event = &((struct rsp_probe_sring *)sring)->rsp_event;
    s->entry_size = entry_size;
    s->rsp_size = rsp_size;
    s->nr_ents = nr_ents;
    bool existed;
    int err = map_log(s, name, &existed);
    if (err && name && state_dir[0]) {
        /* our bookkeeping must not cost the guest its device: serve it
         * with a private log, only a crash restart is then less safe */
        sc_log(SC_LOG_WARN, name, "no response log in %s (%s): a crash restart may lose "
               "or repeat this ring's requests", state_dir, strerror(-err));
        err = map_log(s, NULL, &existed);
    }
    if (err)
        return err;
    s->put = s->log->slots + (size_t)nr_ents * rsp_size;
    if (existed) {
        unsigned n = finish_torn_push(s, ring_id);
        if (recovered)
            *recovered = n;
    }
    s->log->magic = SC_RSP_LOG_MAGIC;
    s->log->rsp_size = (uint32_t)rsp_size;
    s->log->nr_ents = nr_ents;
    s->log->ring_id = ring_id;
    memset(s->put, 0, nr_ents);
    s->published = s->ready = __atomic_load_n(s->rsp_prod, __ATOMIC_ACQUIRE);
    atomic_store_explicit(&s->log->intent, intent_of(s->published, s->published),
                          memory_order_release);
    return 0;
}

int sc_rsp_stage_put(struct sc_rsp_stage *s, RING_IDX idx, const void *rsp)
{
    unsigned slot = idx & (s->nr_ents - 1);
    if ((RING_IDX)(idx - s->published) >= s->nr_ents || s->put[slot])
        return -EINVAL;
    memcpy(log_slot(s, idx), rsp, s->rsp_size);
    s->put[slot] = 1;
    while (s->put[s->ready & (s->nr_ents - 1)] && (RING_IDX)(s->ready - s->published) < s->nr_ents)
        s->ready++;
    return 0;
}

bool sc_rsp_stage_push(struct sc_rsp_stage *s)
{
    RING_IDX old = s->published, to = s->ready;
    if (old == to)
        return false;
    /* the intent first: from here a successor can finish this push */
    atomic_store_explicit(&s->log->intent, intent_of(old, to), memory_order_release);
    write_slots(s, old, to);
    for (RING_IDX i = old; i != to; i++)
        s->put[i & (s->nr_ents - 1)] = 0;
    /* the responses before the index (xen_wmb), the index before rsp_event
     * is read (xen_mb), as RING_PUSH_RESPONSES_AND_CHECK_NOTIFY */
    __atomic_store_n(s->rsp_prod, to, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    s->published = to;
    RING_IDX event = __atomic_load_n(s->rsp_event, __ATOMIC_RELAXED);
    return (RING_IDX)(to - event) < (RING_IDX)(to - old);
}

void sc_rsp_stage_close(struct sc_rsp_stage *s)
{
    if (!s)
        return;
    if (s->log)
        munmap(s->log, s->log_len);
    s->log = NULL;
    if (s->path)
        unlink(s->path);
    free(s->path);
    s->path = NULL;
    s->put = NULL;
}
