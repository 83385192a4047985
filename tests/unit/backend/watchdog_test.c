/*
 * watchdog_test.c - a control step that hangs is reported once and counted;
 * a stop asked for during such a hang ends the process with status 1, and
 * not while the control thread is merely waiting.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "watchdog.h"

#define STALL_NS (40ull * 1000000ull)

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void block_stop_signals(void)
{
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
}

static void test_stall_reported_once(void **state)
{
    (void)state;
    struct sc_watchdog *w = sc_watchdog_start(STALL_NS);
    assert_non_null(w);
    sc_watchdog_busy(w, "a quick step");
    sc_watchdog_idle(w);
    sleep_ms(150);
    assert_int_equal(sc_watchdog_stalls(w), 0); /* waiting is not a stall */

    sc_watchdog_busy(w, "a hung step");
    sleep_ms(300); /* many looks: still one stall */
    assert_int_equal(sc_watchdog_stalls(w), 1);
    sc_watchdog_idle(w);
    sleep_ms(100);
    sc_watchdog_busy(w, "another hung step");
    sleep_ms(200);
    assert_int_equal(sc_watchdog_stalls(w), 2);
    sc_watchdog_idle(w);
    sc_watchdog_stop(w);
}

static void test_zero_stall_refused(void **state)
{
    (void)state;
    errno = 0;
    assert_null(sc_watchdog_start(0));
    assert_int_equal(errno, EINVAL);
}

enum child_plan { STOPPING_THEN_HANG, SIGTERM_DURING_HANG, SIGTERM_WHILE_WAITING, HANG_ONLY };

/* Runs plan in a child; returns its exit status (-1: killed by a signal). */
static int child_status(enum child_plan plan)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        block_stop_signals();
        sc_log_set_level(SC_LOG_ERR);
        struct sc_watchdog *w = sc_watchdog_start(STALL_NS);
        if (!w)
            _exit(3);
        switch (plan) {
        case STOPPING_THEN_HANG:
            sc_watchdog_stopping(w);
            sc_watchdog_busy(w, "a hung shutdown");
            break;
        case SIGTERM_DURING_HANG:
            sc_watchdog_busy(w, "a hung xenstore call");
            kill(getpid(), SIGTERM);
            break;
        case SIGTERM_WHILE_WAITING:
            kill(getpid(), SIGTERM); /* the loop's signalfd would take it */
            break;
        case HANG_ONLY:
            sc_watchdog_busy(w, "a hung xenstore call");
            break;
        }
        sleep_ms(600);
        sc_watchdog_idle(w);
        sc_watchdog_stop(w);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_stop_during_hang_exits(void **state)
{
    (void)state;
    assert_int_equal(child_status(STOPPING_THEN_HANG), 1);
    assert_int_equal(child_status(SIGTERM_DURING_HANG), 1);
}

static void test_no_exit_without_hang_or_stop(void **state)
{
    (void)state;
    assert_int_equal(child_status(SIGTERM_WHILE_WAITING), 0);
    assert_int_equal(child_status(HANG_ONLY), 0);
}

int main(void)
{
    sc_log_set_level(SC_LOG_ERR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stall_reported_once),
        cmocka_unit_test(test_zero_stall_refused),
        cmocka_unit_test(test_stop_during_hang_exits),
        cmocka_unit_test(test_no_exit_without_hang_or_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
