/*
 * sidecorectl - sidecored's admin tool, over its control socket.
 *
 *   sidecorectl [--socket PATH] status|devices|queues|cores|guests|vifs|switch
 *               [--json] [--watch SECONDS [--count N]]
 *   sidecorectl [--socket PATH] set-tenant DOMID weight=W [res_iops=N] [lim_iops=N]
 *               [res_bps=N] [lim_bps=N] [vbd.KEY=N] [vif.KEY=N] [read_iops=N]...
 *   sidecorectl [--socket PATH] resize-check DEVICE      (vbd/5/51712, 5/51712 or an id)
 *   sidecorectl [--socket PATH] vif-rate DEVICE RATE [--rx]   (RATE <bytes>,<usecs> or "")
 *   sidecorectl [--socket PATH] top [-d SECONDS] [-n N] [-b] [-v VIEW] [-s COLUMN] [-r]
 *   sidecorectl check-xenstore [--backend-domid N] [--schema DIR] [--json]
 *               (xenstore itself against xenstore-schema/: exit 0 clean,
 *               1 findings, 2 store or schema unreadable)
 *   sidecorectl place DOMAIN [--cpus N | --pcpus LIST] [--pool NAME] [--sched NAME]
 *               [--vcpus LIST] [--dry-run] [--json]
 *   sidecorectl place DOMAIN --check [--sched NAME] [--vcpus LIST] [--json]
 *               (Dom0: the domain's vCPUs pinned one per CPU of a cpupool of
 *               its own; --check: exit 0 good, 1 problems, 2 cannot look)
 *
 * Tables by default; --json prints the daemon's answer as it is (vifs: the
 * vif devices of `devices`).  --watch redraws every SECONDS with rates
 * computed from the difference between two snapshots (the daemon never
 * clears a counter).  PATH defaults as sidecored's: $XENSIM_DIR/sidecored.sock
 * when $XENSIM_DIR is set, else /run/sidecore/sidecored.sock.  Exit codes:
 * 0 success, 1 the daemon is unreachable or refused, 2 usage error.
 *
 * This file: options and dispatch; the views and commands are in tools/ctl/
 * (sctl.h).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sctl.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: sidecorectl [--socket PATH] COMMAND\n"
            "  status | devices | queues | cores | guests | vifs | switch\n"
            "                                  [--json] [--watch SECONDS [--count N]]\n"
            "  set-tenant DOMID key=value...   weight, res_iops, lim_iops, res_bps, lim_bps\n"
            "                                  for the guest's disks and its vifs, each its\n"
            "                                  own copy; vbd.KEY or vif.KEY for one class\n"
            "                                  (wins over KEY); its disks' read_iops,\n"
            "                                  read_bps, write_iops, write_bps\n"
            "                                  (k/M/G suffixes; 0 = no reservation/limit)\n"
            "  resize-check DEVICE             vbd/<domid>/<devid>, <domid>/<devid> or an id\n"
            "  rebalance [--dry-run] [--json]  move queues between sidecores by their loads\n"
            "                                  now (the last interval's), or show the plan\n"
            "  move-queue QUEUE CORE           move one queue to a sidecore (\"vbd 5/51712 q0\")\n"
            "  vif-rate DEVICE RATE [--rx]     a vif's rate now: RATE <bytes>,<usecs> or \"\"\n"
            "                                  (unlimited); the guest's sending (tx) unless --rx\n"
            "  top [-d SECONDS] [-n N] [-b]    a live view of sidecores, guests and queues by\n"
            "                                  load (top --help: its options and keys)\n"
            "  check-xenstore [--backend-domid N] [--schema DIR] [--json]\n"
            "                                  xenstore's vbd/vif keys against the schema:\n"
            "                                  one line per finding; exit 0 clean, 1 findings,\n"
            "                                  2 store or schema unreadable\n"
            "  place DOMAIN [--cpus N | --pcpus LIST] [--pool NAME] [--sched NAME]\n"
            "               [--vcpus LIST] [--dry-run] [--json]\n"
            "                                  Dom0: the domain into a cpupool of its own\n"
            "                                  (default sidecores, null scheduler, else credit2)\n"
            "                                  with CPUs taken from Pool-0, its vCPUs pinned\n"
            "                                  one per CPU\n"
            "        DOMAIN --check [--sched NAME] [--vcpus LIST] [--json]\n"
            "                                  what is wrong with its placement, one line\n"
            "                                  each: exit 0 good, 1 problems, 2 cannot look\n"
            "vifs: the network devices (MAC, uplink, features, rate, traffic); switch: the\n"
            "internal switch's ports, forwarding table and flood counters.\n"
            "PATH defaults to $XENSIM_DIR/sidecored.sock with xensim, else %s.\n",
            SC_CONFIG_DEFAULT_CTL);
}

static const struct command {
    const char *name;
    int (*run)(const char *path, int argc, char **argv);
} commands[] = {
    { "set-tenant", sctl_cmd_set_tenant },
    { "resize-check", sctl_cmd_resize_check },
    { "rebalance", sctl_cmd_rebalance },
    { "move-queue", sctl_cmd_move_queue },
    { "vif-rate", sctl_cmd_vif_rate },
    { "top", sctl_cmd_top },
    { "check-xenstore", sctl_cmd_check_xenstore },
    { "place", sctl_cmd_place },
};

static const struct sctl_view *find_view(const char *name)
{
    const struct sctl_view *lists[] = { sctl_core_views, sctl_net_views };
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
        for (const struct sctl_view *v = lists[l]; v->name; v++)
            if (strcmp(name, v->name) == 0)
                return v;
    return NULL;
}

static char opt_path[SC_CONFIG_PATH_MAX];
static struct sctl_view_opts opt_view;

static const struct option long_opts[] = {
    { "socket", required_argument, NULL, 's' },
    { "json", no_argument, NULL, 'j' },
    { "watch", required_argument, NULL, 'w' },
    { "count", required_argument, NULL, 'n' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Options up to the next non-option ("+": a command's own arguments stay
 * its own).  -1 to go on, else the exit code. */
static int parse_opts(int argc, char **argv)
{
    int opt;
    while ((opt = getopt_long(argc, argv, "+s:jw:n:h", long_opts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 's':
            if (strlen(optarg) >= sizeof(opt_path)) {
                fprintf(stderr, "sidecorectl: --socket: path too long\n");
                return 2;
            }
            snprintf(opt_path, sizeof(opt_path), "%s", optarg);
            break;
        case 'j':
            opt_view.json = true;
            break;
        case 'w':
            opt_view.watch = strtod(optarg, &end);
            if (*end || !(opt_view.watch > 0) || opt_view.watch > 3600) {
                fprintf(stderr, "sidecorectl: --watch: '%s' is not a number of seconds\n",
                        optarg);
                return 2;
            }
            break;
        case 'n':
            opt_view.count = strtol(optarg, &end, 10);
            if (*end || opt_view.count <= 0) {
                fprintf(stderr, "sidecorectl: --count: '%s' is not a positive number\n", optarg);
                return 2;
            }
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    int rc = parse_opts(argc, argv);
    if (rc >= 0)
        return rc;
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind++];
    const struct sctl_view *view = find_view(cmd);
    const struct command *command = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            command = &commands[i];
    if (view) {
        /* the view's options may follow it: sidecorectl queues --watch 1 */
        rc = parse_opts(argc, argv);
        if (rc >= 0)
            return rc;
        if (optind < argc) {
            fprintf(stderr, "sidecorectl: %s: unexpected argument '%s'\n", cmd, argv[optind]);
            return 2;
        }
    } else if (!command) {
        fprintf(stderr, "sidecorectl: unknown command '%s'\n", cmd);
        usage(stderr);
        return 2;
    }
    if (!opt_path[0] && sc_config_default_ctl_path(SC_XEN_AUTO, opt_path, sizeof(opt_path)) < 0) {
        fprintf(stderr, "sidecorectl: the default socket path is too long; use --socket\n");
        return 2;
    }
    if (view)
        return sctl_run_view(opt_path, view, &opt_view);
    return command->run(opt_path, argc - optind, argv + optind);
}
