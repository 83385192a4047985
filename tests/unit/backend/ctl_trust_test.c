/*
 * ctl_trust_test.c - local trust on the control socket (ctl.h): the trust
 * decision (sc_ctl_may_change) for root, the daemon's user, the admin
 * group as primary or supplementary group, and everyone else; groups
 * given by name or gid; the socket file's mode and group; a peer that may
 * only call views gets SC_CTL_FORBIDDEN, with a message naming the method
 * and what it takes, for anything else (nothing runs), and the views.
 * As root, a child that dropped to another uid checks it over the socket
 * (SO_PEERCRED and SO_PEERGROUPS as the server reads them).
 */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "ctl.h"
#include "log.h"

static int bumps;

static json_t *m_view(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)ctx;
    (void)params;
    (void)err;
    return json_pack("{s:i}", "bumps", bumps);
}

static json_t *m_bump(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)ctx;
    (void)params;
    (void)err;
    bumps++;
    return json_pack("{s:i}", "bumps", bumps);
}

static const struct sc_ctl_method methods[] = {
    { "view", m_view, SC_CTL_VIEW },
    { "bump", m_bump, 0 },
    { NULL, NULL, 0 },
};

#define EUID  1000u
#define ADMIN 4242u

static void decision_trusts_root_our_user_and_admin_members(void **state)
{
    (void)state;
    const gid_t admin = ADMIN;
    const gid_t supp[] = { 10, ADMIN, 20 };
    const gid_t other[] = { 10, 20 };
    /* root and the daemon's own user, with or without an admin group */
    assert_true(sc_ctl_may_change(0, 0, NULL, 0, EUID, NULL));
    assert_true(sc_ctl_may_change(0, 0, NULL, 0, EUID, &admin));
    assert_true(sc_ctl_may_change(EUID, 5, NULL, 0, EUID, NULL));
    /* anyone else only through the admin group */
    assert_false(sc_ctl_may_change(2000, 2000, supp, 3, EUID, NULL));
    assert_true(sc_ctl_may_change(2000, ADMIN, NULL, 0, EUID, &admin)); /* primary */
    assert_true(sc_ctl_may_change(2000, 2000, supp, 3, EUID, &admin));  /* supplementary */
    assert_false(sc_ctl_may_change(2000, 2000, other, 2, EUID, &admin));
    assert_false(sc_ctl_may_change(2000, 2000, NULL, 0, EUID, &admin));
    /* gid 0 is not uid 0 */
    assert_false(sc_ctl_may_change(2000, 0, NULL, 0, EUID, NULL));
}

static void groups_by_name_or_gid(void **state)
{
    (void)state;
    gid_t g = 1;
    assert_int_equal(sc_ctl_parse_group("4242", &g), 0);
    assert_int_equal(g, 4242);
    assert_int_equal(sc_ctl_parse_group("root", &g), 0);
    assert_int_equal(g, 0);
    assert_int_equal(sc_ctl_parse_group("no-such-group-sc-test", &g), -ENOENT);
    assert_int_equal(sc_ctl_parse_group("", &g), -EINVAL);
    assert_int_equal(sc_ctl_parse_group("99999999999999999999", &g), -EINVAL);
}

static char sock_path[64];

static struct sc_ctl *open_with(const struct sc_ctl_access *acc)
{
    snprintf(sock_path, sizeof(sock_path), "/tmp/sc-ctl-trust-%d.sock", (int)getpid());
    return sc_ctl_open_access(sock_path, methods, NULL, acc);
}

static json_t *request(struct sc_ctl *ctl, struct sc_ctl_peer *peer, const char *line)
{
    return sc_ctl_handle_request(ctl, peer, line, strlen(line));
}

static void views_only_peer_is_refused_what_changes_state(void **state)
{
    (void)state;
    struct sc_ctl_access acc = { .mode = 0600, .admin_group = "4242" };
    struct sc_ctl *ctl = open_with(&acc);
    assert_non_null(ctl);
    struct stat st;
    assert_int_equal(stat(sock_path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);

    struct sc_ctl_peer viewer = { .pid = 1, .uid = 2000, .gid = 2000 };
    bumps = 0;
    json_t *r = request(ctl, &viewer, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"view\"}");
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    r = request(ctl, &viewer, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"bump\"}");
    json_t *e = json_object_get(r, "error");
    assert_non_null(e);
    assert_int_equal(json_integer_value(json_object_get(e, "code")), SC_CTL_FORBIDDEN);
    const char *msg = json_string_value(json_object_get(e, "message"));
    assert_non_null(strstr(msg, "method 'bump' changes state"));
    assert_non_null(strstr(msg, "ctl-admin-group '4242'"));
    json_decref(r);
    assert_int_equal(bumps, 0);
    assert_true(viewer.refusal_logged);
    /* a notification is not carried out either, and gets no answer */
    assert_null(request(ctl, &viewer, "{\"jsonrpc\":\"2.0\",\"method\":\"bump\"}"));
    assert_int_equal(bumps, 0);
    /* an unknown method is still reported as unknown */
    r = request(ctl, &viewer, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"nope\"}");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(r, "error"), "code")),
                     SC_CTL_METHOD_NOT_FOUND);
    json_decref(r);

    struct sc_ctl_peer admin = { .pid = 1, .uid = 2000, .gid = ADMIN, .may_change = true };
    r = request(ctl, &admin, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"bump\"}");
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    assert_int_equal(bumps, 1);
    sc_ctl_close(ctl);
}

static void socket_file_gets_group_and_mode_or_a_clear_error(void **state)
{
    (void)state;
    gid_t mine = getegid();
    char gid[16];
    snprintf(gid, sizeof(gid), "%u", (unsigned)mine);
    struct sc_ctl_access acc = { .group = gid, .mode = 0640 };
    struct sc_ctl *ctl = open_with(&acc);
    assert_non_null(ctl);
    struct stat st;
    assert_int_equal(stat(sock_path, &st), 0);
    assert_int_equal(st.st_gid, mine);
    assert_int_equal(st.st_mode & 07777, 0640);
    sc_ctl_close(ctl);

    /* the default without access */
    ctl = sc_ctl_open(sock_path, methods, NULL);
    assert_non_null(ctl);
    assert_int_equal(stat(sock_path, &st), 0);
    assert_int_equal(st.st_mode & 07777, SC_CTL_DEFAULT_MODE);
    sc_ctl_close(ctl);

    /* a group that does not exist: no socket, ENOENT */
    acc.group = "no-such-group-sc-test";
    assert_null(open_with(&acc));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(access(sock_path, F_OK), -1);
    acc.group = NULL;
    acc.admin_group = "no-such-group-sc-test";
    assert_null(open_with(&acc));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(access(sock_path, F_OK), -1);
}

/* The child: becomes uid/gid 65534 with `groups`, calls view and bump.
 * Exit: 0 view ok and bump as `bump_code` said (0 success), else 1..5. */
static int child_calls(const gid_t *groups, int ngroups, int bump_code)
{
    if (setgroups((size_t)ngroups, groups) < 0 || setresgid(65534, 65534, 65534) < 0 ||
        setresuid(65534, 65534, 65534) < 0)
        return 1;
    struct sc_ctl_client *c = sc_ctl_client_open(sock_path, 5000);
    if (!c)
        return 2;
    json_t *res = NULL;
    int code = 0;
    char msg[256];
    if (sc_ctl_client_call(c, "view", NULL, &res, &code, msg, sizeof(msg)) != 0)
        return 3;
    json_decref(res);
    res = NULL;
    int rc = sc_ctl_client_call(c, "bump", NULL, &res, &code, msg, sizeof(msg));
    json_decref(res);
    sc_ctl_client_close(c);
    if (bump_code == 0)
        return rc == 0 ? 0 : 4;
    return rc == -EREMOTEIO && code == bump_code ? 0 : 5;
}

/* Serves the socket inline until the child exits; its exit code. */
static int run_child(struct sc_ctl *ctl, const gid_t *groups, int ngroups, int bump_code)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(child_calls(groups, ngroups, bump_code));
    assert_true(pid > 0);
    int status = 0;
    for (;;) {
        struct pollfd p = { .fd = sc_ctl_fd(ctl), .events = POLLIN };
        if (poll(&p, 1, 10) > 0)
            sc_ctl_dispatch(ctl);
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        assert_int_equal(w, 0);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void other_users_over_the_socket(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* needs to become another user */
    struct sc_ctl_access acc = { .mode = 0666, .admin_group = "4242" };
    struct sc_ctl *ctl = open_with(&acc);
    assert_non_null(ctl);
    bumps = 0;
    const gid_t plain[] = { 100 };
    const gid_t admin[] = { 100, ADMIN };
    assert_int_equal(run_child(ctl, plain, 1, SC_CTL_FORBIDDEN), 0);
    assert_int_equal(bumps, 0);
    assert_int_equal(run_child(ctl, admin, 2, 0), 0); /* a supplementary admin group */
    assert_int_equal(bumps, 1);
    sc_ctl_close(ctl);
}

int main(void)
{
    FILE *null = fopen("/dev/null", "w");
    if (null)
        sc_log_set_stream(null);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(decision_trusts_root_our_user_and_admin_members),
        cmocka_unit_test(groups_by_name_or_gid),
        cmocka_unit_test(views_only_peer_is_refused_what_changes_state),
        cmocka_unit_test(socket_file_gets_group_and_mode_or_a_clear_error),
        cmocka_unit_test(other_users_over_the_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
