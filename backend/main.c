/*
 * sidecored - the driver-domain daemon: block and network devices of many guests served
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
#include "blkback.h"
#include "daemon.h"
#include "netback.h"

static const struct sc_class_module *const modules[] = {
    &blk_vbd_module,
    &net_vif_module,
    NULL,
};

int main(int argc, char **argv)
{
    return sc_daemon_main("sidecored", modules, argc, argv);
}
