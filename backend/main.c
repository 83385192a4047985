/*
 * sidecored - the driver-domain daemon: block devices of many guests served
 * by polling sidecores.
 *
 *   sidecored [--config FILE] [--cores N | --cpus LIST] [--mode poll|event] ...
 *
 * (sidecored --help lists every option; config.h has the rules.)  Exit
 * codes: 0 after SIGTERM/SIGINT, 1 when it could not start or lost
 * xenstore, 2 for a bad command line or config file.
 *
 * This file is the only one of backend/ that knows the device classes: it
 * hands blkback to the daemon through struct sc_daemon_hooks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkback.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

static int saved_argc;
static char **saved_argv;
static struct blk_config blk_cfg;

static const struct sc_device_class *device_class(const char *type, struct sc_pool *pool,
                                                  void *arg)
{
    (void)arg;
    const struct sc_device_class *cls = blk_device_class(type, pool, &blk_cfg);
    if (!cls && !errno)
        errno = EINVAL;
    return cls;
}

static int reload(struct sc_config *out, char *err, size_t errlen, void *arg)
{
    (void)arg;
    int ret = sc_config_load(out, saved_argc, saved_argv, err, errlen);
    return ret == 0 ? 0 : -EINVAL;
}

static void blk_settings(const struct sc_config *cfg, struct blk_config *b)
{
    blk_config_default(b);
    if (cfg->max_queues != SC_CONFIG_UNSET)
        b->max_queues = (uint32_t)cfg->max_queues;
    else
        b->max_queues = cfg->cores; /* a queue per sidecore spreads a guest over them */
    if (cfg->max_ring_order != SC_CONFIG_UNSET)
        b->max_ring_page_order = (uint32_t)cfg->max_ring_order;
    if (cfg->max_indirect != SC_CONFIG_UNSET)
        b->max_indirect_segments = (uint32_t)cfg->max_indirect;
    if (cfg->max_persistent != SC_CONFIG_UNSET)
        b->max_persistent_grants = (uint32_t)cfg->max_persistent;
    if (cfg->no_discard)
        b->discard = false;
}

int main(int argc, char **argv)
{
    static struct sc_config cfg;
    char err[SC_CONFIG_ERR_MAX] = "";
    saved_argc = argc;
    saved_argv = argv;
    int ret = sc_config_load(&cfg, argc, argv, err, sizeof(err));
    if (ret == 1)
        return 0;
    if (ret < 0) {
        fprintf(stderr, "sidecored: %s\n(sidecored --help lists the options)\n", err);
        return 2;
    }
    sc_log_set_level(cfg.log_level);
    blk_settings(&cfg, &blk_cfg);

    struct sc_daemon_hooks hooks = {
        .device_class = device_class,
        .foreach_queue = blk_device_foreach_queue,
        .check_resize = blk_device_check_resize,
        .reload = reload,
    };
    struct sc_daemon *d = sc_daemon_open(&cfg, &hooks);
    if (!d) {
        sc_log(SC_LOG_ERR, "daemon", "cannot start: %s", strerror(errno));
        return 1;
    }
    ret = sc_daemon_run(d);
    sc_daemon_close(d);
    if (ret == 0)
        sc_log(SC_LOG_INFO, "daemon", "stopped");
    return ret < 0 ? 1 : 0;
}
