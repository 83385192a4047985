/*
 * fe_fixture.c - the world of a simulated-frontend test (fe_fixture.h).
 */
#include "fe_fixture.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "bus_fixture.h"

struct fe_world *fe_world_new(unsigned n, unsigned mb)
{
    struct fe_world *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    if (n > FE_WORLD_MAX_GUESTS || simworld_start_as_dom0(&t->w, &t->x0) < 0)
        goto fail;
    setenv("XENSTORED_PATH", simworld_xs_path(&t->w, 0), 1);
    t->h0 = xs_open(XS_OPEN_SOCKETONLY);
    if (!t->h0)
        goto fail;
    for (unsigned i = 0; i < n; i++) {
        char name[8];
        snprintf(name, sizeof(name), "g%u", i);
        int id = xsim_domain_create(t->x0, name, mb);
        if (id <= 0)
            goto fail;
        t->guest[i] = (domid_t)id;
    }
    return t;
fail:
    fe_world_free(t);
    return NULL;
}

void fe_world_free(struct fe_world *t)
{
    if (!t)
        return;
    if (t->g)
        xsim_guest_close(t->g);
    if (t->backend > 0) {
        kill(t->backend, SIGKILL);
        waitpid(t->backend, NULL, 0);
    }
    if (t->h0)
        xs_close(t->h0);
    if (t->x0)
        xsim_close(t->x0);
    simworld_stop(&t->w);
    free(t);
}

struct xsim_guest *fe_world_guest0(struct fe_world *t)
{
    if (!t->g)
        t->g = xsim_guest_open(t->w.dir, t->guest[0]);
    assert_non_null(t->g);
    return t->g;
}

const char *fe_world_fe_key(struct fe_world *t, const char *cls, uint32_t devid,
                            const char *key)
{
    static char buf[128];
    char *v = xs_readf(t->h0, "/local/domain/%u/device/%s/%u/%s", t->guest[0], cls, devid, key);
    snprintf(buf, sizeof(buf), "%s", v ? v : "");
    free(v);
    return buf;
}

const char *fe_world_file(struct fe_world *t, const char *name)
{
    static char buf[8192];
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", t->w.dir, name);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

int fe_sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
