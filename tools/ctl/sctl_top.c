/*
 * sctl_top.c - `sidecorectl top`: samples the daemon every -d seconds over
 * the control socket (cores, queues, guests: published snapshots, so the
 * daemon never waits on us) and shows the interval full-screen, or with -b
 * as plain text frames for scripts.  The arithmetic and the layout are pure
 * (sctl_top.h), the terminal is sctl_term.h; this file is the loop.
 *
 * Exit: 0 after q or -n frames; 1 when the daemon is unreachable, goes away
 * or refuses (the terminal put back first, then the message); 2 usage.  On
 * SIGINT, SIGTERM or SIGHUP the terminal is put back and the signal raised
 * again, so a shell or script sees the program killed by it.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ctl.h"
#include "sctl.h"
#include "sctl_term.h"
#include "sctl_top.h"

#define TOP_CALL_TIMEOUT_MS 5000

struct top {
    struct sc_ctl_client *c;
    struct sctl_top_ui ui;
    struct sctl_top_sample prev, cur;
    struct sctl_top_model model;
    bool have_model;
    char daemon[96]; /* "sidecored 0.9 poll xensim" */
    char err[512];   /* why it ends, when it ends badly */
};

static void top_usage(FILE *out)
{
    fprintf(out,
            "usage: sidecorectl [--socket PATH] top [-d SECONDS] [-n FRAMES] [-b [-w COLS]]\n"
            "                   [-v cores|guests|queues] [-s COLUMN] [-r]\n"
            "  -d, --delay SECONDS   between samples (1; at least 0.1)\n"
            "  -n, --iterations N    stop after N frames (default: until q)\n"
            "  -b, --batch           plain text frames on stdout, no escapes (every row)\n"
            "  -w, --width COLS      the batch frames' width (80)\n"
            "  -v, --view VIEW       the view to start with (cores)\n"
            "  -s, --sort COLUMN     its sort column by heading: busy, load, req, p99, ...\n"
            "  -r, --reverse         the other way round\n"
            "  -h, --help            this help\n"
            "keys: c g u Tab views, < > sort column, r reverse, l load, + - delay,\n"
            "      space sample now, h ? help, q quit\n");
}

/* One method's answer, or NULL with t->err saying why. */
static json_t *call(struct top *t, const char *method)
{
    json_t *r = NULL;
    char msg[256];
    int code = 0;
    int ret = sc_ctl_client_call(t->c, method, NULL, &r, &code, msg, sizeof(msg));
    if (ret < 0) {
        snprintf(t->err, sizeof(t->err), "%s: %s%s", method, msg,
                 ret == -EREMOTEIO ? "" : " (sidecored stopped or hung?)");
        return NULL;
    }
    return r;
}

static int sample(struct top *t, struct sctl_top_sample *s)
{
    sctl_top_sample_clear(s);
    /* a call goes on through a signal (ctl.h): ^C is looked at between
     * calls, so a slow daemon delays it by one call, not three */
    if (!(s->cores = call(t, "cores")) || sctl_term_quit_signal() ||
        !(s->queues = call(t, "queues")) || sctl_term_quit_signal() ||
        !(s->guests = call(t, "guests")))
        return -1;
    s->t = (double)sc_clock_ns() / 1e9;
    return 0;
}

/* The next interval: a model from prev -> cur, and cur becomes prev. */
static int step(struct top *t)
{
    if (sample(t, &t->cur) < 0)
        return -1;
    int ret = sctl_top_model_build(&t->model, &t->prev, &t->cur);
    if (ret < 0) {
        snprintf(t->err, sizeof(t->err), "an answer top cannot read (%s)", strerror(-ret));
        return -1;
    }
    t->have_model = true;
    sctl_top_sample_clear(&t->prev);
    t->prev = t->cur;
    memset(&t->cur, 0, sizeof(t->cur));
    return 0;
}

static void title(const struct top *t, char *b, size_t len)
{
    time_t wall = time(NULL);
    char stamp[16];
    strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&wall));
    snprintf(b, len, "sidecorectl top - %s  %s  every %gs", stamp, t->daemon, t->ui.delay);
}

static void emit_plain(void *arg, unsigned line, const char *text, bool heading)
{
    (void)arg;
    (void)line;
    (void)heading;
    printf("%s\n", text);
}

static void emit_term(void *arg, unsigned line, const char *text, bool heading)
{
    (void)arg;
    sctl_term_line(line, text, heading);
}

static void draw(struct top *t)
{
    unsigned rows, cols;
    char head[160];
    sctl_term_size(&rows, &cols);
    title(t, head, sizeof(head));
    sctl_term_frame_begin();
    unsigned n = sctl_top_render(t->have_model ? &t->model : NULL, &t->ui, head, cols, rows,
                                 emit_term, NULL);
    sctl_term_frame_end(n);
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int run_batch(struct top *t, long frames, unsigned width)
{
    for (long f = 0; frames <= 0 || f < frames; f++) {
        sleep_s(t->ui.delay);
        if (step(t) < 0)
            return 1;
        char head[160];
        title(t, head, sizeof(head));
        if (f)
            printf("\n");
        sctl_top_render(&t->model, &t->ui, head, width, 0, emit_plain, NULL);
        if (fflush(stdout) == EOF)
            return 1;
    }
    return 0;
}

/* 0 quit, 1 the daemon went away, else the signal that ended it */
static int run_screen(struct top *t, long frames)
{
    double next = t->prev.t + t->ui.delay;
    long shown = 0;
    for (;;) {
        if (sctl_term_quit_signal())
            return sctl_term_quit_signal();
        if (sctl_term_resized())
            draw(t);
        double now = (double)sc_clock_ns() / 1e9;
        if (now >= next) {
            if (step(t) < 0)
                return sctl_term_quit_signal() ? sctl_term_quit_signal() : 1;
            draw(t);
            next = t->prev.t + t->ui.delay;
            if (frames > 0 && ++shown >= frames)
                return 0;
            continue;
        }
        int key = sctl_term_key((int)((next - now) * 1000) + 1);
        if (key < 0) {
            snprintf(t->err, sizeof(t->err), "the terminal went away");
            return 1;
        }
        if (key == 0)
            continue;
        switch (sctl_top_key(&t->ui, key)) {
        case SCTL_TOP_QUIT:
            return 0;
        case SCTL_TOP_SAMPLE:
            next = (double)sc_clock_ns() / 1e9;
            break;
        case SCTL_TOP_REDRAW:
            draw(t);
            break;
        case SCTL_TOP_NONE:
            break;
        }
    }
}

static void describe_daemon(struct top *t)
{
    json_t *s = call(t, "status");
    snprintf(t->daemon, sizeof(t->daemon), "sidecored %s %s %s", s ? sctl_jstr(s, "version") : "?",
             s ? sctl_jstr(s, "mode") : "?", s ? sctl_jstr(s, "platform") : "?");
    json_decref(s);
}

static void top_free(struct top *t)
{
    sctl_top_sample_clear(&t->prev);
    sctl_top_sample_clear(&t->cur);
    sctl_top_model_free(&t->model);
    if (t->c)
        sc_ctl_client_close(t->c);
    t->c = NULL;
}

/* The options; -1 to go on, else the exit code. */
static int parse(struct top *t, int argc, char **argv, bool *batch, long *frames,
                 unsigned *width)
{
    static const struct option opts[] = {
        { "delay", required_argument, NULL, 'd' },   { "iterations", required_argument, NULL, 'n' },
        { "batch", no_argument, NULL, 'b' },         { "width", required_argument, NULL, 'w' },
        { "view", required_argument, NULL, 'v' },    { "sort", required_argument, NULL, 's' },
        { "reverse", no_argument, NULL, 'r' },       { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    /* getopt wants a program name first; argv holds only top's arguments */
    char **av = calloc((size_t)argc + 2, sizeof(char *));
    if (!av)
        return 1;
    av[0] = "sidecorectl top";
    memcpy(av + 1, argv, (size_t)argc * sizeof(char *));
    const char *sort = NULL;
    bool reverse = false;
    int opt, rc = -1;
    char *end;
    optind = 0;
    while (rc < 0 && (opt = getopt_long(argc + 1, av, "d:n:bw:v:s:rh", opts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            t->ui.delay = strtod(optarg, &end);
            if (*end || !(t->ui.delay >= 0.1) || t->ui.delay > 3600) {
                fprintf(stderr, "sidecorectl top: -d: '%s' is not 0.1 to 3600 seconds\n", optarg);
                rc = 2;
            }
            break;
        case 'n':
            *frames = strtol(optarg, &end, 10);
            if (*end || *frames <= 0) {
                fprintf(stderr, "sidecorectl top: -n: '%s' is not a positive number\n", optarg);
                rc = 2;
            }
            break;
        case 'b':
            *batch = true;
            break;
        case 'w': {
            long w = strtol(optarg, &end, 10);
            if (*end || w < 20 || w > SCTL_TOP_MAX_WIDTH) {
                fprintf(stderr, "sidecorectl top: -w: '%s' is not 20 to %d columns\n", optarg,
                        SCTL_TOP_MAX_WIDTH);
                rc = 2;
            }
            *width = (unsigned)w;
            break;
        }
        case 'v': {
            int v = sctl_top_view_parse(optarg);
            if (v < 0) {
                fprintf(stderr, "sidecorectl top: -v: '%s' is not cores, guests or queues\n",
                        optarg);
                rc = 2;
            } else {
                t->ui.view = (enum sctl_top_view)v;
            }
            break;
        }
        case 's':
            sort = optarg;
            break;
        case 'r':
            reverse = true;
            break;
        case 'h':
            top_usage(stdout);
            rc = 0;
            break;
        default:
            top_usage(stderr);
            rc = 2;
        }
    }
    if (rc < 0 && optind < argc + 1) {
        fprintf(stderr, "sidecorectl top: unexpected argument '%s'\n", av[optind]);
        rc = 2;
    }
    if (rc < 0 && sort && sctl_top_sort_by_name(&t->ui, sort) < 0) {
        fprintf(stderr, "sidecorectl top: -s: the %s view has no column '%s'\n",
                sctl_top_view_name(t->ui.view), sort);
        rc = 2;
    }
    /* -s and -r apply to the view chosen by -v, wherever it came */
    t->ui.reverse[t->ui.view] = reverse;
    free(av);
    return rc;
}

int sctl_cmd_top(const char *path, int argc, char **argv)
{
    struct top t = { 0 };
    bool batch = false;
    long frames = 0;
    unsigned width = 80;
    sctl_top_ui_init(&t.ui, 1.0);
    int rc = parse(&t, argc, argv, &batch, &frames, &width);
    if (rc >= 0)
        return rc;

    t.c = sc_ctl_client_open(path, TOP_CALL_TIMEOUT_MS);
    if (!t.c) {
        fprintf(stderr, "sidecorectl top: cannot connect to %s: %s%s\n", path, strerror(errno),
                errno == ENOENT || errno == ECONNREFUSED ? " (is sidecored running?)" : "");
        return 1;
    }
    describe_daemon(&t);
    if (sample(&t, &t.prev) < 0) {
        fprintf(stderr, "sidecorectl top: %s\n", t.err);
        top_free(&t);
        return 1;
    }
    if (batch) {
        rc = run_batch(&t, frames, width);
    } else {
        int ret = sctl_term_open();
        if (ret < 0) {
            fprintf(stderr, "sidecorectl top: %s; -b prints plain text frames\n",
                    ret == -ENOTTY ? "needs a terminal (stdin and stdout, TERM not dumb)"
                                   : strerror(-ret));
            top_free(&t);
            return 2;
        }
        rc = run_screen(&t, frames);
        sctl_term_close();
    }
    if (rc == 1)
        fprintf(stderr, "sidecorectl top: lost sidecored at %s: %s\n", path, t.err);
    top_free(&t);
    if (rc > 1) {
        /* killed by it, as far as the caller can tell */
        signal(rc, SIG_DFL);
        raise(rc);
        return 128 + rc;
    }
    return rc;
}
