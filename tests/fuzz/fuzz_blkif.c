/*
 * fuzz_blkif.c - the blkif ring as a hostile frontend writes it: attach,
 * fetch in batches, validate, load indirect segments and answer, for the
 * three ABIs and every ring size (blkback/blk_proto.h).  The input format
 * is in blkif_drive.h.  fuzz_blkif_race.c does the same while another
 * thread rewrites the ring.
 */
#include "blkif_drive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct blkif_fuzz f;
    blkif_fuzz_setup(&f, data, size);
    blkif_fuzz_serve(&f, false);
    blkif_fuzz_free(&f);
    return 0;
}
