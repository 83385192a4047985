/*
 * sctl_client.c - sidecorectl on the control socket: connecting, calling
 * a method, and the view loop that redraws a view every --watch seconds
 * with rates computed from two snapshots (the daemon never clears a
 * counter).  sctl.h has the contract.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "sctl.h"

#define CALL_TIMEOUT_MS 10000

struct sc_ctl_client *sctl_connect(const char *path)
{
    struct sc_ctl_client *c = sc_ctl_client_open(path, CALL_TIMEOUT_MS);
    if (!c) {
        int e = errno;
        fprintf(stderr, "sidecorectl: cannot connect to %s: %s%s\n", path, strerror(e),
                e == ENOENT || e == ECONNREFUSED
                    ? " (is sidecored running? start it, or give --socket its --ctl path)"
                : e == EACCES ? " (run as root or as a member of the socket's group, "
                                "sidecored --ctl-group)"
                              : "");
        exit(1);
    }
    return c;
}

json_t *sctl_call(struct sc_ctl_client *c, const char *method, json_t *params)
{
    json_t *result = NULL;
    char msg[512];
    int code = 0;
    int ret = sc_ctl_client_call(c, method, params, &result, &code, msg, sizeof(msg));
    if (ret < 0) {
        fprintf(stderr, "sidecorectl: %s: %s\n", method, msg);
        return NULL;
    }
    return result;
}

json_t *sctl_call_once(const char *path, const char *method, json_t *params)
{
    struct sc_ctl_client *c = sctl_connect(path);
    json_t *r = sctl_call(c, method, params);
    sc_ctl_client_close(c);
    return r;
}

json_t *sctl_device_ref(const char *s)
{
    bool digits = *s && strspn(s, "0123456789") == strlen(s);
    return digits ? json_integer((json_int_t)strtoll(s, NULL, 10)) : json_string(s);
}

/* The frame's title line in --watch. */
static void watch_header(const struct sctl_view *v, double watch, double dt, long frame)
{
    if (isatty(STDOUT_FILENO))
        printf("\033[H\033[2J");
    else if (frame > 1)
        printf("\n");
    time_t wall = time(NULL);
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&wall));
    printf("sidecorectl %s  every %gs  %s  (rates over the last %.2fs)\n", v->name, watch, stamp,
           dt);
}

int sctl_run_view(const char *path, const struct sctl_view *v, const struct sctl_view_opts *o)
{
    struct sc_ctl_client *c = sctl_connect(path);
    json_t *prev = NULL;
    double prev_t = 0;
    int rc = 0;
    for (long frame = 0;; frame++) {
        json_t *r = sctl_call(c, v->method, NULL);
        double now = (double)sc_clock_ns() / 1e9;
        if (!r) {
            rc = 1;
            break;
        }
        if (v->select) {
            json_t *part = v->select(r);
            json_decref(r);
            if (!part) {
                fprintf(stderr, "sidecorectl: %s: an answer without what it shows\n", v->name);
                rc = 1;
                break;
            }
            r = part;
        }
        if (o->json) {
            char *s = json_dumps(r, o->watch > 0 ? JSON_COMPACT : JSON_INDENT(2));
            printf("%s\n", s ? s : "null");
            free(s);
        } else if (o->watch <= 0) {
            v->show(r, NULL, 0);
        } else if (prev) {
            watch_header(v, o->watch, now - prev_t, frame);
            v->show(r, prev, now - prev_t);
        }
        fflush(stdout);
        json_decref(prev);
        prev = r;
        prev_t = now;
        /* in --watch, the first snapshot only sets the baseline for rates */
        long shown = o->json ? frame + 1 : frame;
        if (o->watch <= 0 || (o->count > 0 && shown >= o->count))
            break;
        double w = o->watch;
        struct timespec ts = { (time_t)w, (long)((w - (double)(time_t)w) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    json_decref(prev);
    sc_ctl_client_close(c);
    return rc;
}
