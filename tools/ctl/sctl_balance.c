/*
 * sctl_balance.c - sidecorectl rebalance: the balancer's plan over the
 * last measured interval, carried out unless --dry-run (balancer.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sctl.h"

static const char *pct(double load)
{
    return sctl_fmt_f(100.0 * load, 0);
}

int sctl_cmd_move_queue(const char *path, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "sidecorectl: move-queue QUEUE CORE   (names as sidecorectl queues "
                        "and cores show them)\n");
        return 2;
    }
    json_t *params = json_pack("{s:s, s:s}", "queue", argv[0], "core", argv[1]);
    json_t *r = sctl_call_once(path, "move-queue", params);
    json_decref(params);
    if (!r)
        return 1;
    printf("%s: moving from %s to %s\n", sctl_jstr(r, "queue"), sctl_jstr(r, "from"),
           sctl_jstr(r, "to"));
    json_decref(r);
    return 0;
}

int sctl_cmd_rebalance(const char *path, int argc, char **argv)
{
    bool dry = false, json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--dry-run")) {
            dry = true;
        } else if (!strcmp(argv[i], "--json")) {
            json = true;
        } else {
            fprintf(stderr, "sidecorectl: rebalance [--dry-run] [--json]\n");
            return 2;
        }
    }
    json_t *params = json_pack("{s:b}", "dry_run", dry);
    json_t *r = sctl_call_once(path, "rebalance", params);
    json_decref(params);
    if (!r)
        return 1;
    if (json) {
        char *s = json_dumps(r, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(r);
        return 0;
    }
    json_t *moves = json_object_get(r, "moves"), *m, *c;
    size_t i;
    printf("loads over the last %s ms:", sctl_fmt_f(json_real_value(json_object_get(r, "interval_ms")), 0));
    json_array_foreach(json_object_get(r, "cores"), i, c)
        printf(" %s %s%%", sctl_jstr(c, "name"), pct(json_real_value(json_object_get(c, "load"))));
    printf("\n");
    if (!json_array_size(moves)) {
        printf("balanced enough: nothing to move\n");
        json_decref(r);
        return 0;
    }
    struct sctl_table t;
    sctl_table_init(&t, "QUEUE< FROM< TO< LOAD% FROM-AFTER% TO-AFTER% RESULT<");
    json_array_foreach(moves, i, m) {
        const char *e = sctl_jstr(m, "error");
        sctl_table_row(&t, sctl_jstr(m, "queue"), sctl_jstr(m, "from"), sctl_jstr(m, "to"),
                       pct(json_real_value(json_object_get(m, "load"))),
                       pct(json_real_value(json_object_get(m, "from_after"))),
                       pct(json_real_value(json_object_get(m, "to_after"))),
                       dry ? "planned" : strcmp(e, "-") ? e : "moving");
    }
    sctl_table_print(&t);
    json_decref(r);
    return 0;
}
