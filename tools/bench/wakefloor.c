/*
 * wakefloor - what this machine takes to wake a thread that sleeps in
 * epoll on an eventfd: the floor under rampbench's wake-up latency.
 *
 *   wakefloor [--think-us 2000] [--seconds 4] [--cpus W,S]
 *
 * Two threads.  The waker sleeps --think-us (nanosleep), reads the clock
 * (t0), writes eventfd A and sleeps in poll() on eventfd B.  The sleeper
 * sleeps in epoll_wait() on A (as a sidecore does), reads the clock on
 * waking (t1), and writes B; the waker reads the clock when it wakes (t2).
 * So each exchange has a guest's shape against a sleeping backend: a kick
 * that wakes a sleeping thread, an answer that wakes the kicker.
 *   wake_us        t1 - t0: one wake-up of a thread asleep in epoll
 *   round_trip_us  t2 - t0: two wake-ups, one each way
 * --cpus W,S pins the waker to CPU W and the sleeper to CPU S (rampbench
 * puts them where the probe guest and the sidecore run).  Prints one JSON
 * line: think_us, samples, wake_us and round_trip_us, each {min, p50, p90,
 * p99, p99_9, mean} (exact: every sample is kept and sorted).
 * Exit: 0 ok, 1 a system call failed, 2 usage.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

struct shared {
    int efd_a, efd_b;
    _Atomic uint64_t t1;   /* the sleeper's wake time; the waker reads it after B */
    atomic_bool stop;
};

static int pin(pthread_t t, int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return -pthread_setaffinity_np(t, sizeof(set), &set);
}

static int efd_write(int fd)
{
    uint64_t one = 1;
    return write(fd, &one, sizeof(one)) == sizeof(one) ? 0 : -errno;
}

static void efd_clear(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
}

static void *sleeper(void *arg)
{
    struct shared *s = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, s->efd_a, &ev) < 0) {
        perror("wakefloor: epoll");
        exit(1);
    }
    while (!atomic_load(&s->stop)) {
        int n = epoll_wait(ep, &ev, 1, 100);
        if (n <= 0)
            continue;
        uint64_t t1 = sc_clock_ns();
        efd_clear(s->efd_a);
        atomic_store(&s->t1, t1);
        if (efd_write(s->efd_b) < 0) {
            perror("wakefloor: eventfd");
            exit(1);
        }
    }
    close(ep);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v and prints "name":{min, p50, ...} in microseconds. */
static void print_dist(const char *name, uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)v[i];
#define PCT(p) (n ? (double)v[(size_t)((double)(n - 1) * (p) / 100.0)] / 1000.0 : 0.0)
    printf("\"%s\":{\"min\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,"
           "\"mean\":%.3f}",
           name, PCT(0), PCT(50), PCT(90), PCT(99), PCT(99.9), n ? sum / (double)n / 1000.0 : 0.0);
#undef PCT
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        { "think-us", required_argument, NULL, 't' },
        { "seconds", required_argument, NULL, 's' },
        { "cpus", required_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 },
    };
    unsigned long think_us = 2000;
    double seconds = 4;
    int cpu_w = -1, cpu_s = -1;
    int c;
    char *end = NULL;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 't': think_us = strtoul(optarg, &end, 10); break;
        case 's': seconds = strtod(optarg, &end); break;
        case 'c':
            if (sscanf(optarg, "%d,%d", &cpu_w, &cpu_s) != 2 || cpu_w < 0 || cpu_s < 0)
                goto usage;
            break;
        default: goto usage;
        }
        if (end && *end)
            goto usage;
        end = NULL;
    }
    if (optind != argc || !think_us || think_us > 10000000 || seconds <= 0 || seconds > 3600)
        goto usage;

    size_t cap = (size_t)(seconds * 1e6 / (double)think_us) + 16;
    uint64_t *wake = calloc(cap, sizeof(*wake)), *rt = calloc(cap, sizeof(*rt));
    struct shared s = { .efd_a = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK),
                        .efd_b = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    pthread_t th;
    int err;
    if (!wake || !rt || s.efd_a < 0 || s.efd_b < 0) {
        perror("wakefloor");
        return 1;
    }
    if ((err = pthread_create(&th, NULL, sleeper, &s)) != 0 || (err = -pin(th, cpu_s)) != 0 ||
        (err = -pin(pthread_self(), cpu_w)) != 0) {
        fprintf(stderr, "wakefloor: thread: %s\n", strerror(err));
        return 1;
    }
    const struct timespec think = { .tv_sec = (time_t)(think_us / 1000000u),
                                    .tv_nsec = (long)(think_us % 1000000u) * 1000 };
    uint64_t deadline = sc_clock_ns() + (uint64_t)(seconds * 1e9);
    size_t n = 0;
    struct pollfd pfd = { .fd = s.efd_b, .events = POLLIN };
    while (n < cap && sc_clock_ns() < deadline) {
        struct timespec left = think;
        while (nanosleep(&left, &left) < 0 && errno == EINTR)
            ;
        uint64_t t0 = sc_clock_ns();
        if (efd_write(s.efd_a) < 0) {
            perror("wakefloor: eventfd");
            return 1;
        }
        int r;
        while ((r = poll(&pfd, 1, 1000)) < 0 && errno == EINTR)
            ;
        if (r <= 0) {
            fprintf(stderr, "wakefloor: no answer in 1 s\n");
            return 1;
        }
        uint64_t t2 = sc_clock_ns();
        efd_clear(s.efd_b);
        uint64_t t1 = atomic_load(&s.t1);
        wake[n] = t1 > t0 ? t1 - t0 : 0;
        rt[n] = t2 - t0;
        n++;
    }
    atomic_store(&s.stop, true);
    pthread_join(th, NULL);
    printf("{\"think_us\":%lu,\"samples\":%zu,", think_us, n);
    print_dist("wake_us", wake, n);
    putchar(',');
    print_dist("round_trip_us", rt, n);
    printf("}\n");
    free(wake);
    free(rt);
    return 0;
usage:
    fprintf(stderr, "usage: wakefloor [--think-us 2000] [--seconds 4] [--cpus WAKER,SLEEPER]\n");
    return 2;
}
