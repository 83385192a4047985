/*
 * fe_fixture.h - test helper: the world of a simulated-frontend test
 * (simblkfront_test, simnetfront_test): a private xensim world in which dom0
 * plays the toolstack (its hypervisor and xenstore connections), the guests
 * the test made, the fake backend process it forked and the guest kernel
 * (xsim_guest) its frontend runs in; plus the shell the CLI tests use.
 * One world per test (cmocka setup/teardown), main thread only.
 */
#ifndef SC_TEST_FE_FIXTURE_H
#define SC_TEST_FE_FIXTURE_H

#include <stdint.h>
#include <sys/types.h>
#include <xenstore.h>
#include <xen/xen.h>

#include "simworld.h"
#include "xensim.h"
#include "xensim_guest.h"

#define FE_WORLD_MAX_GUESTS 2u

struct fe_world {
    struct simworld w;
    struct xsim *x0;            /* dom0's hypervisor connection */
    struct xs_handle *h0;       /* dom0's xenstore: the toolstack, the test's reads */
    domid_t guest[FE_WORLD_MAX_GUESTS];
    pid_t backend;              /* the fake backend the test forked, or 0 */
    struct xsim_guest *g;       /* guest[0]'s kernel (fe_world_guest0), or NULL */
};

/* A world with n guests "g0".. of mb MiB each, as dom0 ($XENSIM_DIR and
 * $XENSTORED_PATH point into it).  NULL on failure (nothing left running). */
struct fe_world *fe_world_new(unsigned n, unsigned mb);
/* Closes the guest kernel, kills the backend, stops the world, frees. */
void fe_world_free(struct fe_world *t);
/* guest[0]'s kernel, opened on first use (asserts). */
struct xsim_guest *fe_world_guest0(struct fe_world *t);
/* The value of guest[0]'s device/<cls>/<devid>/<key> (static buffer; ""
 * if absent). */
const char *fe_world_fe_key(struct fe_world *t, const char *cls, uint32_t devid,
                            const char *key);
/* The contents of <world dir>/<name> (static buffer of 8 KiB; "" if absent). */
const char *fe_world_file(struct fe_world *t, const char *name);

/* Runs a shell command: its exit status, or -1. */
int fe_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
