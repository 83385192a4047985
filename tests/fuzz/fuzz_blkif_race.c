/*
 * fuzz_blkif_race.c - fuzz_blkif.c with a frontend that keeps rewriting
 * its pages while the backend reads them: a second thread stores bytes
 * into the ring (indices and slots alike) and the indirect pages for as
 * long as the backend serves it.  blk_proto.h promises to read each slot
 * once, into a private copy, and to check only that copy; a double fetch
 * (a count checked in shared memory, then re-read to index an array)
 * shows up here as an ASan report.  Nothing that depends on the pages'
 * contents is checked: the writes race by design.
 *
 * Input: as fuzz_blkif.c (blkif_drive.h), except that the last
 * min(size / 4, 768) bytes are the writer's script: 3-byte steps
 * (offset low, offset high, value), offsets into ring + indirect pages
 * (modulo their size), replayed in a loop until the backend is done.
 *
 * Not replayed under TSan (Makefile): the writes are data races on
 * purpose, which is what a guest does and what TSan reports.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "blkif_drive.h"

struct flipper {
    struct blkif_fuzz *f;
    const uint8_t *script;
    size_t steps;
    atomic_bool stop;
};

static void *flip_main(void *arg)
{
    struct flipper *fl = arg;
    size_t ring_bytes = fl->f->ring_pages * BLK_PAGE_SIZE;
    size_t span = ring_bytes + BLKIF_FUZZ_IPAGES * BLK_PAGE_SIZE;
    for (size_t i = 0; !atomic_load_explicit(&fl->stop, memory_order_relaxed); i++) {
        const uint8_t *s = fl->script + 3 * (i % fl->steps);
        size_t off = ((size_t)s[0] | (size_t)s[1] << 8 | (size_t)(i / fl->steps & 0xff) << 16) % span;
        uint8_t *p = off < ring_bytes ? fl->f->ring + off
                                      : fl->f->ipages[(off - ring_bytes) / BLK_PAGE_SIZE] +
                                            (off - ring_bytes) % BLK_PAGE_SIZE;
        __atomic_store_n(p, s[2], __ATOMIC_RELAXED);
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t slen = size / 4 < 768 ? size / 4 : 768;
    struct blkif_fuzz f;
    blkif_fuzz_setup(&f, data, size - slen);
    struct flipper fl = { .f = &f, .script = data + size - slen, .steps = slen / 3 };
    atomic_init(&fl.stop, false);
    pthread_t t;
    bool threaded = fl.steps > 0 && pthread_create(&t, NULL, flip_main, &fl) == 0;
    blkif_fuzz_serve(&f, threaded);
    if (threaded) {
        atomic_store(&fl.stop, true);
        pthread_join(t, NULL);
    }
    blkif_fuzz_free(&f);
    return 0;
}
