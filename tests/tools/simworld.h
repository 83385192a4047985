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

#include <stdint.h>
#include <sys/types.h>
#include <xen/xen.h>

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

#endif
