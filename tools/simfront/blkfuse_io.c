/*
 * blkfuse_io.c - byte-range operations cut into blkif requests.
 *
 * Every live operation sits in one list in arrival order.  An operation
 * starts only when no earlier live operation conflicts with it (overlapping
 * ranges where one of them writes; a flush after any earlier write), so the
 * result is what the caller would see from a disk that does one operation
 * at a time, while independent ones share the rings.  Ring request ids are
 * the operation's address; bf hands them back at completion.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "blkfuse_io.h"

/* Discards larger than this are split (bf_io.nr_sectors is 32 bits). */
#define BFIO_DISCARD_CHUNK (1u << 21)

enum bfio_kind { K_READ, K_WRITE, K_FLUSH, K_DISCARD };

enum bfio_state {
    S_WAIT,     /* queued; an earlier operation conflicts, or not pumped yet */
    S_EDGE,     /* write: reading the partial edge blocks */
    S_RUN,      /* requests being submitted / in flight */
    S_DONE,     /* finished without requests (err set); completed at pump */
};

/* Several operations answering one caller (a discard with zeroed edges). */
struct bfio_group {
    unsigned left;
    int err;
    size_t len;
    bfio_done_fn done;
    void *arg;
};

struct bfio_op {
    struct bfio_op *prev, *next;
    enum bfio_kind kind;
    enum bfio_state state;
    uint64_t first;         /* span start, 512-byte sectors (block aligned) */
    uint64_t nsect;         /* span length, 512-byte sectors */
    uint64_t cursor;        /* sectors of the span submitted so far */
    bool flush_sent;
    unsigned outstanding;   /* ring requests in flight */
    int err;
    uint8_t *buf;           /* the span's bytes (read/write) */
    size_t skip;            /* caller's offset - span start, bytes */
    size_t len;             /* caller's length, bytes */
    uint8_t *edge;          /* two blocks: head edge, tail edge */
    unsigned edge_todo;     /* 1 head, 2 tail: edge reads still to submit */
    unsigned edge_mask;     /* which edges are read */
    struct bfio_group *group;
    bfio_done_fn done;
    void *arg;
};

struct bfio {
    struct bf_dev *dev;
    const struct bf_dev_info *info;
    unsigned nq;
    unsigned rr;                    /* next ring to try */
    uint64_t size;                  /* bytes */
    uint32_t bs;                    /* logical block size, bytes */
    uint32_t bs_sect;               /* ... in 512-byte sectors */
    bool dead;                      /* rings gone: every operation fails */
    int dead_err;
    struct bfio_op *head, *tail;
    unsigned pending;
    struct bfio_stats st;
};

struct bfio *bfio_new(struct bf_dev *dev)
{
    struct bfio *io = calloc(1, sizeof(*io));
    if (!io)
        return NULL;
    io->dev = dev;
    io->info = bf_dev_get_info(dev);
    io->nq = bf_dev_nr_queues(dev);
    if (io->nq == 0 || io->info->sector_size < BF_SECTOR_SIZE ||
        io->info->sector_size % BF_SECTOR_SIZE) {
        free(io);
        errno = EINVAL;
        return NULL;
    }
    io->bs = io->info->sector_size;
    io->bs_sect = io->bs / BF_SECTOR_SIZE;
    bfio_update_size(io);
    return io;
}

void bfio_free(struct bfio *io)
{
    if (!io)
        return;
    while (io->head) {
        struct bfio_op *op = io->head;
        io->head = op->next;
        free(op->buf);
        free(op->edge);
        free(op);
    }
    free(io);
}

void bfio_update_size(struct bfio *io)
{
    io->size = io->info->sectors * (uint64_t)BF_SECTOR_SIZE; /* 512-byte units, as Linux */
}

uint64_t bfio_size(const struct bfio *io) { return io->size; }
uint32_t bfio_block_size(const struct bfio *io) { return io->bs; }
unsigned bfio_pending(const struct bfio *io) { return io->pending; }
const struct bfio_stats *bfio_get_stats(const struct bfio *io) { return &io->st; }

/* ---- operation list ---- */

static struct bfio_op *op_new(struct bfio *io, enum bfio_kind kind, bfio_done_fn done, void *arg)
{
    struct bfio_op *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->kind = kind;
    op->state = S_WAIT;
    op->done = done;
    op->arg = arg;
    op->prev = io->tail;
    if (io->tail)
        io->tail->next = op;
    else
        io->head = op;
    io->tail = op;
    io->pending++;
    io->st.ops++;
    return op;
}

static void op_unlink(struct bfio *io, struct bfio_op *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        io->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        io->tail = op->prev;
    io->pending--;
}

static void op_finish_now(struct bfio *io, struct bfio_op *op, int err)
{
    op->state = S_DONE;
    op->err = err;
    (void)io;
}

static void group_child_done(void *arg, int err, const void *data, size_t len)
{
    struct bfio_group *g = arg;
    (void)data;
    (void)len;
    if (err && !g->err)
        g->err = err;
    if (--g->left == 0) {
        g->done(g->arg, g->err, NULL, g->err ? 0 : g->len);
        free(g);
    }
}

/* Unlinks, calls back, frees. */
static void op_complete(struct bfio *io, struct bfio_op *op)
{
    op_unlink(io, op);
    if (op->err)
        io->st.errors++;
    const void *data = NULL;
    size_t len = op->err ? 0 : op->len;
    if (op->kind == K_READ && !op->err)
        data = op->buf + op->skip;
    op->done(op->arg, op->err, data, len);
    free(op->buf);
    free(op->edge);
    free(op);
}

static bool op_writes(const struct bfio_op *op)
{
    return op->kind == K_WRITE || op->kind == K_DISCARD;
}

static bool ranges_overlap(const struct bfio_op *a, const struct bfio_op *b)
{
    return a->first < b->first + b->nsect && b->first < a->first + a->nsect;
}

/* Must `op` wait for an earlier live operation? */
static bool op_blocked(const struct bfio_op *op)
{
    for (const struct bfio_op *e = op->prev; e; e = e->prev) {
        if (e->state == S_DONE)
            continue;
        if (op->kind == K_FLUSH) {
            if (op_writes(e))
                return true;
            continue;
        }
        if (e->kind == K_FLUSH)
            continue;
        if ((op_writes(op) || op_writes(e)) && ranges_overlap(op, e))
            return true;
    }
    return false;
}

/* The sector-aligned span of [off, off+len), buffer and skip for a read or write. */
static int op_span(struct bfio *io, struct bfio_op *op, uint64_t off, size_t len, bool zeroed)
{
    uint64_t start = off - off % io->bs;
    uint64_t end = off + len;
    if (end % io->bs)
        end += io->bs - end % io->bs;
    op->first = start / BF_SECTOR_SIZE;
    op->nsect = (end - start) / BF_SECTOR_SIZE;
    op->skip = (size_t)(off - start);
    op->len = len;
    if (op->kind == K_DISCARD || len == 0)
        return 0;
    op->buf = zeroed ? calloc(1, (size_t)(end - start)) : malloc((size_t)(end - start));
    return op->buf ? 0 : -ENOMEM;
}

/* An operation that failed before it started: completed at the next pump. */
static int op_settle(struct bfio *io, struct bfio_op *op, int err)
{
    op_finish_now(io, op, err);
    return 0;
}

int bfio_read(struct bfio *io, uint64_t off, size_t len, bfio_done_fn done, void *arg)
{
    struct bfio_op *op = op_new(io, K_READ, done, arg);
    if (!op)
        return -ENOMEM;
    io->st.reads++;
    if (off >= io->size)
        len = 0;
    else if (len > io->size - off)
        len = (size_t)(io->size - off);
    if (op_span(io, op, off, len, false) < 0) {
        op_unlink(io, op);
        free(op);
        return -ENOMEM;
    }
    if (io->dead)
        return op_settle(io, op, io->dead_err);
    if (len == 0)
        return op_settle(io, op, 0);
    return 0;
}

static int write_common(struct bfio *io, uint64_t off, size_t len, const void *data,
                        bfio_done_fn done, void *arg)
{
    struct bfio_op *op = op_new(io, K_WRITE, done, arg);
    if (!op)
        return -ENOMEM;
    if (off >= io->size && len > 0) {
        op->len = 0;
        return op_settle(io, op, -ENOSPC);
    }
    if (len > io->size - off)
        len = (size_t)(io->size - off);
    if (op_span(io, op, off, len, !data) < 0) {
        op_unlink(io, op);
        free(op);
        return -ENOMEM;
    }
    if (io->dead)
        return op_settle(io, op, io->dead_err);
    if (len == 0)
        return op_settle(io, op, 0);
    if (data)
        memcpy(op->buf + op->skip, data, len);
    uint64_t end = off + len;
    if (off % io->bs)
        op->edge_mask |= 1;
    if (end % io->bs && (!(op->edge_mask & 1) || op->nsect > io->bs_sect))
        op->edge_mask |= 2;
    if (op->edge_mask) {
        op->edge = malloc(2 * (size_t)io->bs);
        if (!op->edge)
            return op_settle(io, op, -ENOMEM);
        io->st.rmw++;
    }
    return 0;
}

int bfio_write(struct bfio *io, uint64_t off, size_t len, const void *data,
               bfio_done_fn done, void *arg)
{
    io->st.writes++;
    return write_common(io, off, len, data, done, arg);
}

int bfio_write_zeroes(struct bfio *io, uint64_t off, size_t len, bfio_done_fn done, void *arg)
{
    io->st.zeroes++;
    /* calloc of a large span maps zero pages: copying from it costs no memory. */
    return write_common(io, off, len, NULL, done, arg);
}

int bfio_flush(struct bfio *io, bfio_done_fn done, void *arg)
{
    struct bfio_op *op = op_new(io, K_FLUSH, done, arg);
    if (!op)
        return -ENOMEM;
    io->st.flushes++;
    if (io->dead)
        return op_settle(io, op, io->dead_err);
    if (!io->info->flush)
        return op_settle(io, op, 0);
    return 0;
}

static uint64_t up_to_grain(uint64_t x, uint64_t g, uint64_t al)
{
    if (x <= al)
        return al;
    return al + (x - al + g - 1) / g * g;
}

static uint64_t down_to_grain(uint64_t x, uint64_t g, uint64_t al)
{
    if (x < al)
        return 0;
    return al + (x - al) / g * g;
}

int bfio_discard(struct bfio *io, uint64_t off, size_t len, bfio_done_fn done, void *arg)
{
    io->st.discards++;
    if (off >= io->size)
        len = 0;
    else if (len > io->size - off)
        len = (size_t)(io->size - off);
    if (io->dead || !io->info->discard || io->info->read_only || len == 0) {
        struct bfio_op *op = op_new(io, K_DISCARD, done, arg);
        if (!op)
            return -ENOMEM;
        int err = io->dead ? io->dead_err : len == 0 ? 0 : -EOPNOTSUPP;
        return op_settle(io, op, err);
    }
    uint64_t g = io->info->discard_granularity;
    if (g < io->bs)
        g = io->bs;
    g = (g + io->bs - 1) / io->bs * io->bs;
    uint64_t al = io->info->discard_alignment % g;
    uint64_t end = off + len;
    uint64_t a = up_to_grain(off, g, al), b = down_to_grain(end, g, al);
    if (a >= b) /* no whole granule: zeros are all we can promise */
        return bfio_write_zeroes(io, off, len, done, arg);

    struct bfio_group *grp = calloc(1, sizeof(*grp));
    if (!grp)
        return -ENOMEM;
    grp->len = len;
    grp->done = done;
    grp->arg = arg;
    grp->left = 1 + (a > off) + (end > b);
    /* Children are queued as one unit: no failure after the first. */
    struct bfio_op *op = op_new(io, K_DISCARD, group_child_done, grp);
    if (!op) {
        free(grp);
        return -ENOMEM;
    }
    op->first = a / BF_SECTOR_SIZE;
    op->nsect = (b - a) / BF_SECTOR_SIZE;
    op->len = (size_t)(b - a);
    int err = 0;
    if (a > off && (err = bfio_write_zeroes(io, off, (size_t)(a - off), group_child_done, grp)) < 0)
        grp->left--, grp->err = err;
    if (end > b && (err = bfio_write_zeroes(io, b, (size_t)(end - b), group_child_done, grp)) < 0)
        grp->left--, grp->err = err;
    return 0;
}

/* ---- submission ---- */

/* A ring with a free slot, round robin; NULL if all are full. */
static struct bf_ring *pick_ring(struct bfio *io, unsigned *qout)
{
    for (unsigned k = 0; k < io->nq; k++) {
        unsigned q = (io->rr + k) % io->nq;
        struct bf_ring *r = bf_dev_ring(io->dev, q);
        if (r && bf_ring_free_slots(r) > 0) {
            *qout = q;
            return r;
        }
    }
    return NULL;
}

/*
 * One request for `op`.  1 submitted, 0 no room (retry later), -errno:
 * the operation fails (after what it has in flight).
 */
static int submit_one(struct bfio *io, struct bfio_op *op, enum bf_op bop, uint64_t sector,
                      uint32_t max_nsect, void *buf, uint32_t *used, uint64_t *pushed)
{
    unsigned q;
    struct bf_ring *r = pick_ring(io, &q);
    if (!r) {
        io->st.ring_full++;
        return 0;
    }
    uint32_t n = max_nsect;
    if (bop == BF_OP_READ || bop == BF_OP_WRITE) {
        uint32_t cap = bf_ring_max_sectors(r) / io->bs_sect * io->bs_sect;
        if (cap == 0)
            return -EINVAL;
        if (n > cap)
            n = cap;
    }
    struct bf_io req = {
        .op = bop, .sector = sector, .nr_sectors = n, .buf = buf,
        .id = (uint64_t)(uintptr_t)op,
    };
    int err = bf_submit(r, &req);
    if (err == -ENOSPC || err == -ENOMEM) {
        if (bf_ring_inflight(r) > 0)
            return 0;       /* room comes back with the responses */
        return err;
    }
    if (err < 0)
        return err;
    op->outstanding++;
    io->st.requests++;
    *pushed |= 1ull << q;
    io->rr = (q + 1) % io->nq;
    *used = n;
    return 1;
}

static void edge_merge(struct bfio *io, struct bfio_op *op)
{
    size_t span = (size_t)op->nsect * BF_SECTOR_SIZE;
    size_t tail_start = span - io->bs;
    if (op->edge_mask & 1) {
        memcpy(op->buf, op->edge, op->skip);
        if (!(op->edge_mask & 2) && op->skip + op->len < io->bs)
            /* head and tail are one block */
            memcpy(op->buf + op->skip + op->len, op->edge + op->skip + op->len,
                   io->bs - op->skip - op->len);
    }
    if (op->edge_mask & 2) {
        size_t from = op->skip + op->len;
        memcpy(op->buf + from, op->edge + io->bs + (from - tail_start), span - from);
    }
}

/* Moves `op` as far as the rings allow.  false: the rings are full. */
static bool op_advance(struct bfio *io, struct bfio_op *op, uint64_t *pushed)
{
    if (op->state == S_WAIT) {
        if (op_blocked(op))
            return true;
        if (op->kind == K_WRITE && op->edge_mask) {
            op->state = S_EDGE;
            op->edge_todo = op->edge_mask;
        } else {
            op->state = S_RUN;
        }
    }
    int rc;
    uint32_t used;
    if (op->state == S_EDGE) {
        while (op->edge_todo && !op->err) {
            bool head = op->edge_todo & 1;
            uint64_t sector = head ? op->first : op->first + op->nsect - io->bs_sect;
            void *buf = op->edge + (head ? 0 : io->bs);
            rc = submit_one(io, op, BF_OP_READ, sector, io->bs_sect, buf, &used, pushed);
            if (rc == 0)
                return false;
            if (rc < 0)
                op->err = rc;
            else
                op->edge_todo &= ~(head ? 1u : 2u);
        }
        if (op->err && op->outstanding == 0)
            op->state = S_DONE;
        return true;    /* S_RUN once the edge reads are back */
    }
    if (op->state != S_RUN)
        return true;
    if (op->kind == K_FLUSH) {
        if (!op->flush_sent) {
            rc = submit_one(io, op, BF_OP_FLUSH, 0, 0, NULL, &used, pushed);
            if (rc == 0)
                return false;
            if (rc < 0)
                op->state = S_DONE, op->err = rc;
            op->flush_sent = true;
        }
        return true;
    }
    while (op->cursor < op->nsect && !op->err) {
        uint64_t left = op->nsect - op->cursor;
        enum bf_op bop = op->kind == K_READ ? BF_OP_READ
                       : op->kind == K_WRITE ? BF_OP_WRITE : BF_OP_DISCARD;
        uint32_t max = bop == BF_OP_DISCARD ? BFIO_DISCARD_CHUNK : UINT32_MAX;
        max = max / io->bs_sect * io->bs_sect;
        uint32_t want = left < max ? (uint32_t)left : max;
        void *buf = op->buf ? op->buf + op->cursor * BF_SECTOR_SIZE : NULL;
        rc = submit_one(io, op, bop, op->first + op->cursor, want, buf, &used, pushed);
        if (rc == 0)
            return false;
        if (rc < 0)
            op->err = rc;
        else
            op->cursor += used;
    }
    if (op->err && op->outstanding == 0)
        op->state = S_DONE;
    return true;
}

static int push_rings(struct bfio *io, uint64_t pushed)
{
    int ret = 0;
    for (unsigned q = 0; q < io->nq; q++) {
        if (!(pushed & (1ull << q)))
            continue;
        int err = bf_push(bf_dev_ring(io->dev, q));
        if (err < 0 && ret == 0)
            ret = err;
    }
    return ret;
}

int bfio_pump(struct bfio *io)
{
    uint64_t pushed = 0;
    bool progress = true;
    while (progress) {
        progress = false;
        bool room = true;
        struct bfio_op *op = io->head;
        while (op) {
            struct bfio_op *next = op->next;
            if (op->state != S_DONE && room && !io->dead)
                room = op_advance(io, op, &pushed);
            if (op->state == S_DONE) {
                op_complete(io, op);
                progress = true;    /* a finished op may unblock others */
                break;
            }
            op = next;
        }
    }
    return push_rings(io, pushed);
}

/* ---- completion ---- */

static int status_err(const struct bf_completion *c)
{
    if (c->status == BLKIF_RSP_OKAY)
        return 0;
    if (c->status == BLKIF_RSP_EOPNOTSUPP && (c->op == BF_OP_DISCARD || c->op == BF_OP_FLUSH))
        return -EOPNOTSUPP;
    return -EIO;
}

static bool op_finished(const struct bfio_op *op)
{
    if (op->outstanding)
        return false;
    if (op->err)
        return true;
    if (op->kind == K_FLUSH)
        return op->flush_sent;
    return op->state == S_RUN && op->cursor >= op->nsect;
}

static void on_complete(void *arg, const struct bf_completion *c)
{
    struct bfio *io = arg;
    if (c->op == (enum bf_op)-1)
        return;     /* raw request: not ours */
    struct bfio_op *op = (struct bfio_op *)(uintptr_t)c->id;
    op->outstanding--;
    int err = status_err(c);
    if (err && !op->err)
        op->err = err;
    if (op->state == S_EDGE && op->outstanding == 0 && !op->edge_todo && !op->err) {
        edge_merge(io, op);
        op->state = S_RUN;
        return;
    }
    if (op_finished(op))
        op->state = S_DONE;
}

int bfio_ring_event(struct bfio *io, unsigned queue)
{
    struct bf_ring *r = bf_dev_ring(io->dev, queue);
    if (!r || io->dead)
        return 0;
    int err = bf_wait(r, 0);
    if (err < 0)
        return err;
    err = bf_poll_responses(r, on_complete, io);
    if (err < 0)
        return err;
    return bfio_pump(io);
}

void bfio_fail_all(struct bfio *io, int err)
{
    io->dead = true;
    io->dead_err = err;
    for (struct bfio_op *op = io->head; op; op = op->next) {
        op->outstanding = 0;
        op_finish_now(io, op, err);
    }
    while (io->head)
        op_complete(io, io->head);
}
