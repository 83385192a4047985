/*
 * simworld.h - test helper: a private xensim world per test.
 *
 * simworld_start() makes a fresh directory under $TMPDIR, starts the xensimd
 * of this build flavour ($SC_BUILD/bin) as a child that dies with the test
 * (PR_SET_PDEATHSIG), and returns once it serves.  simworld_stop() ends it
 * and removes the directory.  Not thread-safe; call from the test's main
 * thread.  Returns 0 or negative errno.
 */
#ifndef SC_TEST_SIMWORLD_H
#define SC_TEST_SIMWORLD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

struct simworld {
    char dir[256];
    pid_t pid;
};

int simworld_start(struct simworld *w);
void simworld_stop(struct simworld *w);
/* Path of a program of this build flavour, e.g. simworld_bin("xensimctl"). */
const char *simworld_bin(const char *name);
/* Socket a xenstore client of `domid` uses (for XENSTORED_PATH). */
const char *simworld_xs_path(const struct simworld *w, domid_t domid);

struct xsim;
/* The usual fixture on top of simworld_start(): dom0's connection in *dom0
 * and $XENSIM_DIR set (with $XENSIM_DOMID unset) so that
 * sc_xen_open(SC_XEN_SIM) acts as dom0.  0 or negative errno. */
int simworld_start_as_dom0(struct simworld *w, struct xsim **dom0);
/* The same plus a guest domain `name` of 16 MiB: its domid (> 0), or
 * negative errno. */
int simworld_start_with_guest(struct simworld *w, const char *name, struct xsim **dom0);

/* A backend and one guest in one process, the fixture of the grant tests:
 * the world, dom0's connection, the guest's kernel (xsim_guest: it grants
 * pages) and the platform layer as dom0 (sc_xen, what sidecored uses). */
struct xsim_guest;
struct sc_xen;
struct simbackend {
    struct simworld w;
    struct xsim *dom0;
    struct xsim_guest *guest;
    domid_t guest_id;
    struct sc_xen *xen;
};

/* 0 or negative errno (what was started is stopped again). */
int simbackend_start(struct simbackend *b, const char *guest_name);
/* Safe after a failed start. */
void simbackend_stop(struct simbackend *b);
/* n contiguous pages of the guest, page i filled with byte seed + i, each
 * granted to dom0 (read-only if asked), their refs in refs[n].  The local
 * address of the first page, or NULL + errno. */
uint8_t *simbackend_grant_pages(struct simbackend *b, uint32_t n, uint8_t seed, bool readonly,
                                grant_ref_t *refs);
/* Ends the n grants and frees the pages: 0, or the first failure of
 * xsim_guest_end_access (-EBUSY: the backend still maps or copies one; the
 * pages are then kept). */
int simbackend_end_pages(struct simbackend *b, uint8_t *p, uint32_t n, const grant_ref_t *refs);

#endif
