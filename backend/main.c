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
 * The composition root: the only file of backend/ that names the device
 * classes.  Each comes as a class module (devclass.h); the list below is
 * what this daemon serves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkback.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

static const struct sc_class_module *const modules[] = {
    &blk_vbd_module,
    NULL,
};

int main(int argc, char **argv)
{
    static struct sc_config cfg;
    char err[SC_CONFIG_ERR_MAX] = "";
    int ret = sc_config_load(&cfg, modules, argc, argv, err, sizeof(err));
    if (ret == 1)
        return 0;
    if (ret < 0) {
        fprintf(stderr, "sidecored: %s\n(sidecored --help lists the options)\n", err);
        return 2;
    }
    sc_log_set_level(cfg.log_level);
    struct sc_daemon *d = sc_daemon_open(&cfg);
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
