/*
 * fuzz_config.c - sidecored's config file (backend/config.h): the input is
 * the file, loaded as the daemon loads it (sc_config_load with
 * `--config FILE` and the real vbd and vif class modules, so the classes'
 * own keys and finalize run too), then reloaded (sc_config_reload, as on
 * SIGHUP).  The file is a memfd, named by its /proc/self/fd path.
 *
 * Checked: a load either fails with -EINVAL and a message, or gives a
 * configuration inside the bounds config.h states; a reload of the same
 * file gives the same verdict.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkback.h"
#include "config.h"
#include "fuzz.h"
#include "netback.h"

static const struct sc_class_module *const modules[] = { &blk_vbd_module, &net_vif_module, NULL };
static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fd = memfd_create("sidecored.conf", 0);
    FUZZ_CHECK(fd >= 0);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    FILE *null = fopen("/dev/null", "w");
    if (null)
        sc_log_set_stream(null);
    return 0;
}

static void check_config(const struct sc_config *c)
{
    FUZZ_CHECK(c->cores >= 1 && c->cores <= SC_POOL_MAX_CORES);
    FUZZ_CHECK(c->ncpus == 0 || c->ncpus == c->cores);
    for (unsigned i = 0; i < c->ncpus; i++)
        FUZZ_CHECK(c->cpus[i] >= 0);
    FUZZ_CHECK(c->poll_idle_us <= SC_CONFIG_POLL_IDLE_MAX_US);
    FUZZ_CHECK(c->ntypes >= 1 && c->ntypes <= SC_CONFIG_MAX_TYPES);
    for (unsigned i = 0; i < c->ntypes; i++)
        FUZZ_CHECK(memchr(c->types[i], '\0', SC_CONFIG_TYPE_MAX) && c->types[i][0]);
    FUZZ_CHECK(c->ntenants <= SC_CONFIG_MAX_TENANTS);
    FUZZ_CHECK(memchr(c->ctl_path, '\0', sizeof(c->ctl_path)) && c->ctl_path[0]);
    for (unsigned i = 0; i < c->ntenants; i++) {
        const struct sc_config_tenant *t = &c->tenants[i];
        FUZZ_CHECK(sc_config_find_tenant(c, t->domid) == t);
    }
    FUZZ_CHECK(sc_config_class((struct sc_config *)c, "vbd") != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0)
        LLVMFuzzerInitialize(NULL, NULL);
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    FUZZ_CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
    char *const argv[] = { "sidecored", "--config", path, NULL };
    struct sc_config *c = calloc(2, sizeof(*c));
    FUZZ_CHECK(c);
    char err[SC_CONFIG_ERR_MAX] = "";
    int rc = sc_config_load(&c[0], modules, 3, argv, err, sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    if (rc == 0) {
        check_config(&c[0]);
        char err2[SC_CONFIG_ERR_MAX] = "";
        int rc2 = sc_config_reload(&c[0], &c[1], err2, sizeof(err2));
        FUZZ_CHECK(rc2 == 0);
        check_config(&c[1]);
        FUZZ_CHECK(c[1].cores == c[0].cores && c[1].ntenants == c[0].ntenants &&
                   c[1].poll_idle_us == c[0].poll_idle_us);
    } else {
        FUZZ_CHECK(err[0] && memchr(err, '\0', sizeof(err)));
    }
    free(c);
    return 0;
}
