/*
 * rsp_stage_test.c - responses published in ring order, and a push torn by
 * a process death finished by the next process that opens the ring.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "rsp_stage.h"

struct t_req { uint8_t bytes[24]; };
struct t_rsp { uint32_t id; uint32_t status; };
DEFINE_RING_TYPES(t, struct t_req, struct t_rsp);

enum { NENTS = 8 };
#define RING_BYTES (offsetof(struct t_sring, ring) + NENTS * sizeof(union t_sring_entry))

/* Entries by computed index: ring[] is declared with one element. */
static union t_sring_entry *entry(struct t_sring *s, RING_IDX idx)
{
    return (union t_sring_entry *)((uint8_t *)s + offsetof(struct t_sring, ring)) +
           idx % NENTS;
}

static struct t_sring *ring_new(RING_IDX start)
{
    /* shared: a forked child's writes are the parent's to read */
    struct t_sring *s = mmap(NULL, RING_BYTES, PROT_READ | PROT_WRITE,
                             MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(s != MAP_FAILED);
    memset(s, 0, RING_BYTES);
    s->req_prod = s->rsp_prod = start;
    s->rsp_event = start + 1;
    for (unsigned i = 0; i < NENTS; i++)
        memset(entry(s, i), 0xee, sizeof(union t_sring_entry)); /* requests still there */
    return s;
}

static int open_stage(struct sc_rsp_stage *st, struct t_sring *s, const char *name,
                      uint64_t ring_id, unsigned *recovered)
{
    return sc_rsp_stage_open(st, s, sizeof(union t_sring_entry), sizeof(struct t_rsp), NENTS,
                             name, ring_id, recovered);
}

static void put(struct sc_rsp_stage *st, RING_IDX idx, uint32_t id)
{
    struct t_rsp r = { .id = id, .status = 0x5a5a };
    assert_int_equal(sc_rsp_stage_put(st, idx, &r), 0);
}

static uint32_t rsp_id(struct t_sring *s, RING_IDX idx)
{
    return entry(s, idx)->rsp.id;
}

static void test_ring_order(void **state)
{
    (void)state;
    struct t_sring *s = ring_new(0xfffffffdu); /* the indices wrap on the way */
    struct sc_rsp_stage st;
    assert_int_equal(open_stage(&st, s, NULL, 0, NULL), 0);
    RING_IDX b = 0xfffffffdu;
    put(&st, b + 2, 12);
    put(&st, b + 1, 11);
    assert_false(sc_rsp_stage_push(&st));          /* the first is not in */
    assert_int_equal(s->rsp_prod, b);
    assert_int_equal(rsp_id(s, b), 0xeeeeeeee); /* untouched */
    put(&st, b, 10);
    assert_true(sc_rsp_stage_push(&st));           /* rsp_event was b + 1 */
    assert_int_equal(s->rsp_prod, b + 3);
    assert_int_equal(rsp_id(s, b), 10);
    assert_int_equal(rsp_id(s, b + 1), 11);
    assert_int_equal(rsp_id(s, b + 2), 12);
    /* only the response's bytes of a slot are written */
    assert_int_equal(((uint8_t *)entry(s, b))[sizeof(struct t_rsp)], 0xee);

    /* refused: twice, behind, a ring's worth ahead */
    struct t_rsp r = { 0 };
    put(&st, b + 3, 13);
    assert_int_equal(sc_rsp_stage_put(&st, b + 3, &r), -EINVAL);
    assert_int_equal(sc_rsp_stage_put(&st, b + 2, &r), -EINVAL);
    assert_int_equal(sc_rsp_stage_put(&st, b + 3 + NENTS, &r), -EINVAL);
    /* the frontend polls (rsp_event behind): no notification */
    assert_false(sc_rsp_stage_push(&st));
    assert_int_equal(s->rsp_prod, b + 4);
    assert_false(sc_rsp_stage_push(&st)); /* nothing new */
    sc_rsp_stage_close(&st);
    munmap(s, RING_BYTES);
}

static char dir[] = "/tmp/rsp_stage_test.XXXXXX";

/* A child stages three responses and dies inside a push: the intent and
 * one slot written, rsp_prod not moved. */
static void die_mid_push(struct t_sring *s, const char *name, uint64_t ring_id)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct sc_rsp_stage st;
        if (open_stage(&st, s, name, ring_id, NULL))
            _exit(2);
        RING_IDX b = s->rsp_prod;
        struct t_rsp r = { .status = 1 };
        for (unsigned i = 0; i < 3; i++) {
            r.id = 100 + i;
            if (sc_rsp_stage_put(&st, b + i, &r))
                _exit(3);
        }
        atomic_store(&st.log->intent, (uint64_t)b | (uint64_t)(b + 3) << 32);
        memcpy(entry(s, b), st.log->slots, sizeof(struct t_rsp));
        _exit(0); /* no close: the log stays, as after a SIGKILL */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_torn_push_finished(void **state)
{
    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(sc_rsp_stage_set_dir(dir), 0);
    struct t_sring *s = ring_new(40);
    die_mid_push(s, "vbd 5/51712 q0", 77);
    assert_int_equal(s->rsp_prod, 40);

    /* another ring's log is not ours to finish */
    struct sc_rsp_stage st;
    unsigned recovered = 9;
    assert_int_equal(open_stage(&st, s, "vbd 5/51712 q0", 78, &recovered), 0);
    assert_int_equal(recovered, 0);
    assert_int_equal(s->rsp_prod, 40);
    sc_rsp_stage_close(&st);

    die_mid_push(s, "vbd 5/51712 q0", 77);
    assert_int_equal(open_stage(&st, s, "vbd 5/51712 q0", 77, &recovered), 0);
    assert_int_equal(recovered, 3);
    assert_int_equal(s->rsp_prod, 43);
    for (unsigned i = 0; i < 3; i++)
        assert_int_equal(rsp_id(s, 40 + i), 100 + i);
    assert_int_equal(st.published, 43);
    /* and it goes on from there */
    put(&st, 43, 7);
    sc_rsp_stage_push(&st);
    assert_int_equal(s->rsp_prod, 44);
    char path[sizeof(dir) + 32];
    snprintf(path, sizeof(path), "%s/vbd-5-51712-q0", dir);
    assert_int_equal(access(path, F_OK), 0);
    sc_rsp_stage_close(&st); /* a clean close removes the log */
    assert_int_equal(access(path, F_OK), -1);

    /* a push that was published before the death is not done twice */
    die_mid_push(s, "vbd 5/51712 q0", 77);
    s->rsp_prod += 3;
    entry(s, 44)->rsp.id = 555; /* the frontend's view, not to be rewritten */
    assert_int_equal(open_stage(&st, s, "vbd 5/51712 q0", 77, &recovered), 0);
    assert_int_equal(recovered, 0);
    assert_int_equal(rsp_id(s, 44), 555);
    sc_rsp_stage_close(&st);

    /* a log that cannot be made (the directory is gone, a file in its
     * place): the ring is served with a private log all the same */
    assert_int_equal(rmdir(dir), 0);
    FILE *f = fopen(dir, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(open_stage(&st, s, "vbd 5/51712 q0", 77, &recovered), 0);
    assert_null(st.path);
    put(&st, s->rsp_prod, 9);
    sc_rsp_stage_push(&st);
    assert_int_equal(rsp_id(s, s->rsp_prod - 1), 9);
    sc_rsp_stage_close(&st);
    assert_int_equal(unlink(dir), 0);

    assert_int_equal(sc_rsp_stage_set_dir(NULL), 0);
    munmap(s, RING_BYTES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_order),
        cmocka_unit_test(test_torn_push_finished),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
