/*
 * replay_main.c - runs a fuzz harness without libFuzzer: every input once,
 * as a TAP test (one line per file), so the seed corpora (and every crash
 * reproducer added to them) are regression tests in `make test`, with gcc
 * or clang and under any sanitizer.
 *
 *   replay_<name> FILE...   replay these files
 *   replay_<name>           replay tests/fuzz/corpus/<name>/ (relative to
 *                           $SC_FUZZ_CORPUS, else the current directory,
 *                           which is the tree's root under `make test`)
 *
 * A harness that finds a bug aborts (a sanitizer or FUZZ_CHECK): the test
 * dies in the middle of its plan and prove reports the file it was on.
 */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* A harness may define it (libFuzzer calls it once before any input). */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 4096, n = 0;
    uint8_t *b = malloc(cap);
    for (;;) {
        if (!b) {
            fclose(f);
            return -ENOMEM;
        }
        n += fread(b + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        uint8_t *nb = realloc(b, cap);
        if (!nb)
            free(b);
        b = nb;
    }
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    if (err) {
        free(b);
        return err;
    }
    *buf = b;
    *len = n;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of the harness's corpus directory, sorted. */
static char **corpus_files(const char *argv0, unsigned *n)
{
    char prog[512];
    snprintf(prog, sizeof(prog), "%s", argv0);
    const char *base = basename(prog);
    const char *name = strncmp(base, "replay_", 7) == 0 ? base + 7 : base;
    const char *root = getenv("SC_FUZZ_CORPUS");
    char dir[1024];
    if (root && *root)
        snprintf(dir, sizeof(dir), "%s/%s", root, name);
    else
        snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", name);
    DIR *d = opendir(dir);
    if (!d) {
        printf("Bail out! no corpus at %s: %s\n", dir, strerror(errno));
        exit(1);
    }
    char **files = NULL;
    unsigned cnt = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char **nf = realloc(files, (cnt + 1) * sizeof(*files));
        size_t plen = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(plen);
        if (!nf || !p) {
            printf("Bail out! out of memory\n");
            exit(1);
        }
        files = nf;
        snprintf(p, plen, "%s/%s", dir, e->d_name);
        files[cnt++] = p;
    }
    closedir(d);
    qsort(files, cnt, sizeof(*files), cmp_str);
    *n = cnt;
    return files;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    unsigned n;
    char **files;
    bool own = argc < 2;
    if (own) {
        files = corpus_files(argv[0], &n);
    } else {
        files = argv + 1;
        n = (unsigned)argc - 1;
    }
    if (n == 0) {
        printf("1..0 # SKIP empty corpus\n");
        return 0;
    }
    printf("1..%u\n", n);
    fflush(stdout);
    int failed = 0;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        int rc = read_file(files[i], &buf, &len);
        if (rc < 0) {
            printf("not ok %u - %s: %s\n", i + 1, files[i], strerror(-rc));
            failed = 1;
            continue;
        }
        LLVMFuzzerTestOneInput(buf, len);
        free(buf);
        printf("ok %u - %s (%zu bytes)\n", i + 1, files[i], len);
        fflush(stdout);
    }
    if (own) {
        for (unsigned i = 0; i < n; i++)
            free(files[i]);
        free(files);
    }
    return failed;
}
