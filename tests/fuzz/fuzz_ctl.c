/*
 * fuzz_ctl.c - the control socket's JSON-RPC 2.0 requests
 * (backend/ctl.h): each line of the input goes through
 * sc_ctl_handle_request(), the parsing, checking and dispatch the server
 * does per request line, on a real server (sc_ctl_open on a socket in a
 * private temporary directory, inline mode), from a trusted peer (one
 * that may call any method, as root).  The methods are this file's: the
 * daemon's (backend/ctl_methods.c) need a running daemon.
 *
 * Checked: every reply is a JSON-RPC 2.0 response (an object with
 * "jsonrpc": "2.0", an "id", and exactly one of "result" or an "error"
 * with an integer code and a string message); a request that is not
 * even JSON is answered, never silently dropped.
 *
 * Input: request lines separated by '\n' (as on the socket).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"
#include "fuzz.h"
#include "log.h"

static json_t *m_echo(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)ctx;
    (void)err;
    return params ? json_deep_copy(params) : json_null();
}

static json_t *m_fail(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)ctx;
    sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "params: %s",
                     json_is_object(params) ? "an object" : "not an object");
    return NULL;
}

/* Looks at its params as the daemon's methods do ("domid", "weight"). */
static json_t *m_set(void *ctx, json_t *params, struct sc_ctl_error *err)
{
    (void)ctx;
    json_t *d = json_object_get(params, "domid");
    if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > 0x7fef) {
        sc_ctl_error_set(err, SC_CTL_INVALID_PARAMS, "domid must be an integer in [0, 32751]");
        return NULL;
    }
    json_t *w = json_object_get(params, "weight");
    return json_pack("{s:I, s:I}", "domid", json_integer_value(d), "weight",
                     json_is_integer(w) ? json_integer_value(w) : 100);
}

static const struct sc_ctl_method methods[] = {
    { "status", m_echo, SC_CTL_VIEW },
    { "echo", m_echo, 0 },
    { "fail", m_fail, 0 },
    { "set-tenant", m_set, 0 },
    { NULL, NULL, 0 },
};

static struct sc_ctl *ctl;
static char dir[64], sock[96];

static void cleanup(void)
{
    sc_ctl_close(ctl);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/fuzz_ctl.XXXXXX", tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(dir));
    FILE *null = fopen("/dev/null", "w");
    if (null)
        sc_log_set_stream(null);
    snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
    ctl = sc_ctl_open(sock, methods, NULL);
    FUZZ_CHECK(ctl);
    atexit(cleanup);
    return 0;
}

static void check_reply(json_t *reply)
{
    FUZZ_CHECK(json_is_object(reply));
    const char *version = json_string_value(json_object_get(reply, "jsonrpc"));
    FUZZ_CHECK(version && strcmp(version, "2.0") == 0);
    json_t *id = json_object_get(reply, "id");
    FUZZ_CHECK(id && (json_is_string(id) || json_is_integer(id) || json_is_null(id)));
    json_t *result = json_object_get(reply, "result");
    json_t *error = json_object_get(reply, "error");
    FUZZ_CHECK(!result != !error);
    if (error) {
        FUZZ_CHECK(json_is_integer(json_object_get(error, "code")));
        FUZZ_CHECK(json_is_string(json_object_get(error, "message")));
    }
    char *text = json_dumps(reply, JSON_COMPACT);
    FUZZ_CHECK(text && !strchr(text, '\n')); /* one reply, one line */
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctl)
        LLVMFuzzerInitialize(NULL, NULL);
    size_t start = 0;
    while (start < size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size;
        const char *line = (const char *)data + start;
        size_t len = end - start;
        start = end + 1;
        if (len == 0)
            continue;
        struct sc_ctl_peer root = { .uid = 0, .gid = 0, .may_change = true };
        json_t *reply = sc_ctl_handle_request(ctl, &root, line, len);
        if (reply) {
            check_reply(reply);
            json_decref(reply);
        } else {
            /* only a valid notification (no id) goes unanswered */
            json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
            FUZZ_CHECK(json_is_object(req) && !json_object_get(req, "id"));
            json_decref(req);
        }
    }
    return 0;
}
