/*
 * rsp_stage.h - a back ring's responses, staged by ring index and published
 * in ring order by a push that a SIGKILL cannot tear.
 *
 * Why: a backend that restarts after an unclean exit continues a connected
 * ring at the shared rsp_prod (req_cons = rsp_prod).  That is right only if
 * every request below rsp_prod was answered and none at or above it was, so
 * responses are published in the order their requests were fetched (a
 * response produced early waits, privately, for those before it), and the
 * push that writes the response slots (over the requests they answer) and
 * then moves rsp_prod is made restartable: it first records its intent and
 * the responses in a small file-backed log that outlives the process, and a
 * restart that finds the ring at the recorded start finishes the push.
 *
 * Contract:
 * - One owner thread per stage (the queue's core); no locks inside.
 * - The ring is any ring.h shared ring: four RING_IDX words, padding to 64
 *   bytes, then nr_ents entries of entry_size bytes; a response is the
 *   first rsp_size bytes of an entry.
 * - sc_rsp_stage_open() attaches to a mapped shared ring.  With a name and
 *   a state directory (sc_rsp_stage_set_dir), the log is a file there:
 *   if it records an unfinished push of this ring (same ring_id, the ring's
 *   rsp_prod at the push's start), the push is finished first; its count
 *   is returned in *recovered.  Without either, the log is private memory
 *   (no recovery: tests and tools); so it is, with a logged warning, when
 *   the file cannot be made.  Then published = rsp_prod.
 * - sc_rsp_stage_put(): the response of the request fetched at ring index
 *   idx, which must be in [published, published + nr_ents) and not put
 *   since it was fetched.  -EINVAL otherwise (nothing changes).
 * - sc_rsp_stage_push(): writes every response whose predecessors are all
 *   put, publishes rsp_prod, returns true if the frontend asked to be
 *   notified (rsp_event, as RING_PUSH_RESPONSES_AND_CHECK_NOTIFY).
 * - sc_rsp_stage_close(): unmaps and removes the log (the device is going
 *   away, or the daemon exits cleanly: no push is torn).
 */
#ifndef SC_RSP_STAGE_H
#define SC_RSP_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <xen/io/ring.h>

#define SC_RSP_STAGE_NAME_MAX 96
#define SC_RSP_LOG_MAGIC      0x31474f4c50535253ull /* "SRSPLOG1" */

/* The log file: what a push is about to write, in a file (tmpfs under /run)
 * that a successor finds.  `intent` holds the push's start and end index
 * (start | end << 32; start == end: none) and is stored before the ring's
 * slots are touched; slots[idx % nr_ents] holds the response staged for
 * ring index idx (rsp_size bytes each), followed by nr_ents bytes of the
 * owner's private bookkeeping. */
struct sc_rsp_log {
    uint64_t magic;
    uint32_t rsp_size, nr_ents;
    uint64_t ring_id;
    _Atomic uint64_t intent;
    uint8_t pad_[32];
    uint8_t slots[];
};

struct sc_rsp_stage {
    uint8_t *ring0;          /* entry 0 of the shared ring */
    RING_IDX *rsp_prod;      /* in the shared header */
    RING_IDX *rsp_event;
    size_t entry_size, rsp_size;
    unsigned nr_ents;        /* a power of two */
    RING_IDX published;      /* rsp_prod as last written */
    RING_IDX ready;          /* every response below is put */
    uint8_t *put;            /* per slot (idx % nr_ents): put since fetched (in the mapping) */
    struct sc_rsp_log *log;
    size_t log_len;
    char *path;              /* the log's file; NULL when private */
};

/* Process-wide: where logs live (e.g. "/run/sidecore/sidecored.sock.state",
 * created 0700 if missing).  NULL or "": private memory, no recovery.
 * 0 or -errno.  Call before opening stages. */
int sc_rsp_stage_set_dir(const char *dir);

/* name: unique per ring among the rings of this daemon (e.g. "vbd 5/51712
 * q0"; in the file name, characters other than [A-Za-z0-9._] become '-');
 * NULL: private.  ring_id: what identifies this
 * incarnation of the ring (grant references, event channel), recorded and
 * compared at recovery.  0 or -errno. */
int sc_rsp_stage_open(struct sc_rsp_stage *s, void *sring, size_t entry_size, size_t rsp_size,
                      unsigned nr_ents, const char *name, uint64_t ring_id,
                      unsigned *recovered);
/* Bytes of the log a stage of nr_ents responses of rsp_size bytes maps
 * (in the state directory's tmpfs, or private memory): for memory budgets. */
size_t sc_rsp_stage_log_len(size_t rsp_size, unsigned nr_ents);
int sc_rsp_stage_put(struct sc_rsp_stage *s, RING_IDX idx, const void *rsp);
bool sc_rsp_stage_push(struct sc_rsp_stage *s);
/* The first index whose response is not put: where a ring answered
 * strictly in order (netif rx) puts its next one. */
static inline RING_IDX sc_rsp_stage_next(const struct sc_rsp_stage *s)
{
    return s->ready;
}
void sc_rsp_stage_close(struct sc_rsp_stage *s);

#endif
