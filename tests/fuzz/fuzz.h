/*
 * fuzz.h - what every harness under tests/fuzz/ shares: the libFuzzer entry
 * points and a byte reader over the input.
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize).  Built two ways (Makefile, "fuzzing" block):
 * with clang -fsanitize=fuzzer into build-fuzz/fuzz/fuzz_<name> for
 * `make fuzz`, and with replay_main.c into <build>/tests/fuzz/replay_<name>,
 * a TAP test that feeds every file of tests/fuzz/corpus/<name>/ once, for
 * `make test` in every flavour (gcc, ASan+UBSan, TSan).
 *
 * A harness finds a bug by crashing: a sanitizer report, or FUZZ_CHECK on
 * an invariant the code under test promises in its header.
 */
#ifndef SC_FUZZ_H
#define SC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant broken: report and abort, which libFuzzer records as a crash
 * and the replay as a failed test. */
#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* Consumes the input front to back; past its end every read gives 0. */
struct fuzz_in {
    const uint8_t *p;
    size_t left;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
    uint16_t v = fuzz_u8(in);
    return (uint16_t)(v | fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_in *in)
{
    uint32_t v = fuzz_u16(in);
    return v | (uint32_t)fuzz_u16(in) << 16;
}

/* Copies up to n bytes into dst (zero-filling the rest); returns how many
 * came from the input. */
static inline size_t fuzz_bytes(struct fuzz_in *in, void *dst, size_t n)
{
    size_t k = n < in->left ? n : in->left;
    memcpy(dst, in->p, k);
    memset((uint8_t *)dst + k, 0, n - k);
    in->p += k;
    in->left -= k;
    return k;
}

#endif
