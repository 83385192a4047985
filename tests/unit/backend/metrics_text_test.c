/*
 * metrics_text_test.c - the Prometheus exposition of the published views:
 * the exact samples for a small fake snapshot, label escaping, the latency
 * histogram's conversion (cumulative, exact bounds, +Inf == _count even
 * when the view's count disagrees), every sample under its HELP and TYPE,
 * and parts left out when a view is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "metrics_text.h"
#include "stats.h"

static char *render(const struct sc_metrics_views *v)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    assert_int_equal(sc_metrics_text_write(out, v), 0);
    assert_int_equal(fclose(out), 0);
    return buf;
}

/* The sample lines only (no # lines), as one string. */
static char *samples_of(const char *text)
{
    char *out = calloc(1, strlen(text) + 1);
    assert_non_null(out);
    size_t n = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (*p != '#') {
            memcpy(out + n, p, len);
            n += len;
        }
        p += len;
    }
    return out;
}

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    if (!j)
        fail_msg("bad fixture JSON: %s at %d", e.text, e.position);
    return j;
}

struct fixture {
    struct sc_metrics_views v;
};

static void fixture_build(struct fixture *f)
{
    char queues[2048];
    /* latencies of 0, 600 and 1000 ns, and two beyond every finite bound;
     * the view's count (99) is wrong on purpose */
    snprintf(queues, sizeof(queues),
             "[{\"name\": \"vbd 5/51712 q1\", \"device\": \"vbd 5/51712\", \"domid\": 5,"
             "  \"core\": \"sc0\", \"failed\": false, \"load\": 0.25,"
             "  \"mem_reserved_bytes\": 4096, \"requests\": 4, \"bytes\": 16384,"
             "  \"kicks\": 2, \"notifies\": 3, \"empty_polls\": 9, \"busy_polls\": 4,"
             "  \"errors\": 1, \"busy_ns\": 1500000000,"
             "  \"latency\": {\"count\": 99, \"sum_ns\": 123456789, \"max_ns\": 1,"
             "               \"buckets\": [[%u, 1], [%u, 1], [%u, 1], [%u, 2]]},"
             "  \"device_counters\": {}},"
             " {\"name\": \"vif 5/0 q0\", \"device\": \"vif 5/0\", \"domid\": 5,"
             "  \"core\": null, \"failed\": true, \"load\": 0, \"mem_reserved_bytes\": 0,"
             "  \"requests\": 7, \"bytes\": 1500, \"kicks\": 0, \"notifies\": 0,"
             "  \"empty_polls\": 0, \"busy_polls\": 1, \"errors\": 0, \"busy_ns\": 20,"
             "  \"latency\": {\"count\": 0, \"sum_ns\": 0, \"max_ns\": 0, \"buckets\": []},"
             "  \"device_counters\": {\"tx_packets\": 7, \"rx_bytes\": 1500}},"
             " {\"name\": \"vbd 9/1 q0\", \"device\": \"not listed\", \"domid\": 9}]",
             sc_hist_bucket(0), sc_hist_bucket(600), sc_hist_bucket(1000),
             sc_hist_bucket(UINT64_C(1) << 36));
    f->v.queues = load(queues);
    f->v.devices = load(
        "[{\"name\": \"vbd 5/51712\", \"type\": \"vbd\", \"devid\": 51712,"
        "  \"queues\": [{\"name\": \"vbd 5/51712 q0\"}, {\"name\": \"vbd 5/51712 q1\"}]},"
        " {\"name\": \"vif 5/0\", \"type\": \"vif\", \"devid\": 0, \"queues\": []}]");
    f->v.status = load("{\"version\": \"0.3\\\"x\\\\y\\nz\", \"platform\": \"xensim\","
                       " \"mode\": \"poll\", \"uptime_s\": 12.5, \"devices\": 2,"
                       " \"queue_failures\": 1,"
                       " \"memory\": {\"budget_bytes\": 1000, \"reserved_bytes\": 200,"
                       "             \"refused\": 3}}");
    f->v.cores = load("[{\"name\": \"sc0\", \"rounds\": 10, \"busy_rounds\": 4,"
                      "  \"busy_ns\": 1500000000, \"idle_ns\": 250, \"sleep_ns\": 2000000000,"
                      "  \"sleeps\": 1, \"wakeups\": 1, \"kicks\": 3, \"stray_kicks\": 0,"
                      "  \"io_submitted\": 5, \"io_completed\": 5, \"commands\": 2,"
                      "  \"failed\": 0, \"queues\": 2, \"active\": true,"
                      "  \"poll_window_ns\": 200000}]");
    f->v.guests = load("[{\"domid\": 5, \"class\": \"vbd\", \"weight\": 200,"
                       "  \"reservation_iops\": 0, \"reservation_bps\": 0,"
                       "  \"limit_iops\": 1000, \"limit_bps\": 0, \"devices\": 1, \"queues\": 2,"
                       "  \"mem_reserved_bytes\": 4096, \"read_throttled\": 6,"
                       "  \"write_throttled\": 0,"
                       "  \"sched\": {\"visits\": 11, \"reservation_visits\": 0,"
                       "             \"requests\": 4, \"bytes\": 16384, \"cost\": 20000,"
                       "             \"reservation_cost\": 0, \"throttled\": 8,"
                       "             \"skipped\": 0}}]");
    f->v.age_s = 0.5;
}

static void fixture_free(struct fixture *f)
{
    json_decref(f->v.queues);
    json_decref(f->v.devices);
    json_decref(f->v.status);
    json_decref(f->v.cores);
    json_decref(f->v.guests);
}

static const char *const le_text[SC_METRICS_LE_COUNT] = {
    "0.000000511", "0.000001023", "0.000002047", "0.000004095", "0.000008191",
    "0.000016383", "0.000032767", "0.000065535", "0.000131071", "0.000262143",
    "0.000524287", "0.001048575", "0.002097151", "0.004194303", "0.008388607",
    "0.016777215", "0.033554431", "0.067108863", "0.134217727", "0.268435455",
    "0.536870911", "1.073741823", "2.147483647", "4.294967295", "8.589934591",
    "17.179869183", "34.359738367",
};

static void small_snapshot_gives_exactly_these_samples(void **state)
{
    (void)state;
    struct fixture f;
    fixture_build(&f);
    char *text = render(&f.v);
    char *got = samples_of(text);

    char expect[16384];
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(expect + n, sizeof(expect) - n, __VA_ARGS__)
    ADD("sidecore_build_info{version=\"0.3\\\"x\\\\y\\nz\",platform=\"xensim\",mode=\"poll\"} 1\n"
        "sidecore_metrics_age_seconds 0.5\n"
        "sidecore_uptime_seconds 12.5\n"
        "sidecore_devices 2\n"
        "sidecore_queue_failures_total 1\n"
        "sidecore_mem_budget_bytes 1000\n"
        "sidecore_mem_reserved_bytes 200\n"
        "sidecore_mem_refused_total 3\n");
    ADD("sidecore_core_busy_seconds_total{core=\"sc0\"} 1.5\n"
        "sidecore_core_idle_seconds_total{core=\"sc0\"} 0.00000025\n"
        "sidecore_core_sleep_seconds_total{core=\"sc0\"} 2\n"
        "sidecore_core_rounds_total{core=\"sc0\"} 10\n"
        "sidecore_core_busy_rounds_total{core=\"sc0\"} 4\n"
        "sidecore_core_sleeps_total{core=\"sc0\"} 1\n"
        "sidecore_core_wakeups_total{core=\"sc0\"} 1\n"
        "sidecore_core_kicks_total{core=\"sc0\"} 3\n"
        "sidecore_core_stray_kicks_total{core=\"sc0\"} 0\n"
        "sidecore_core_io_submitted_total{core=\"sc0\"} 5\n"
        "sidecore_core_io_completed_total{core=\"sc0\"} 5\n"
        "sidecore_core_commands_total{core=\"sc0\"} 2\n"
        "sidecore_core_failed_queues_total{core=\"sc0\"} 0\n"
        "sidecore_core_queues{core=\"sc0\"} 2\n"
        "sidecore_core_active{core=\"sc0\"} 1\n"
        "sidecore_core_poll_window_seconds{core=\"sc0\"} 0.0002\n");
    /* the third queue's device is not in the devices view: left out */
    const char *vbd = "type=\"vbd\",domid=\"5\",devid=\"51712\",queue=\"1\"";
    const char *vif = "type=\"vif\",domid=\"5\",devid=\"0\",queue=\"0\"";
    static const struct {
        const char *name, *a, *b;
    } q[] = {
        { "requests_total", "4", "7" },     { "bytes_total", "16384", "1500" },
        { "errors_total", "1", "0" },       { "kicks_total", "2", "0" },
        { "notifies_total", "3", "0" },     { "busy_polls_total", "4", "1" },
        { "empty_polls_total", "9", "0" },  { "busy_seconds_total", "1.5", "0.00000002" },
        { "failed", "0", "1" },             { "load_ratio", "0.25", "0" },
        { "mem_reserved_bytes", "4096", "0" },
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++)
        ADD("sidecore_queue_%s{%s} %s\nsidecore_queue_%s{%s} %s\n", q[i].name, vbd, q[i].a,
            q[i].name, vif, q[i].b);
    ADD("sidecore_queue_info{%s,core=\"sc0\"} 1\nsidecore_queue_info{%s,core=\"\"} 1\n", vbd,
        vif);
    /* 0 ns <= 511 ns; 600 and 1000 <= 1023 ns; two beyond every bound */
    for (unsigned k = 0; k < SC_METRICS_LE_COUNT; k++)
        ADD("sidecore_queue_latency_seconds_bucket{%s,le=\"%s\"} %u\n", vbd, le_text[k],
            k == 0 ? 1u : 3u);
    ADD("sidecore_queue_latency_seconds_bucket{%s,le=\"+Inf\"} 5\n"
        "sidecore_queue_latency_seconds_sum{%s} 0.123456789\n"
        "sidecore_queue_latency_seconds_count{%s} 5\n", vbd, vbd, vbd);
    for (unsigned k = 0; k < SC_METRICS_LE_COUNT; k++)
        ADD("sidecore_queue_latency_seconds_bucket{%s,le=\"%s\"} 0\n", vif, le_text[k]);
    ADD("sidecore_queue_latency_seconds_bucket{%s,le=\"+Inf\"} 0\n"
        "sidecore_queue_latency_seconds_sum{%s} 0\n"
        "sidecore_queue_latency_seconds_count{%s} 0\n", vif, vif, vif);
    ADD("sidecore_vif_tx_packets_total{%s} 7\nsidecore_vif_rx_bytes_total{%s} 1500\n", vif,
        vif);
    const char *g = "type=\"vbd\",domid=\"5\"";
    ADD("sidecore_guest_requests_total{%s} 4\n"
        "sidecore_guest_bytes_total{%s} 16384\n"
        "sidecore_guest_cost_bytes_total{%s} 20000\n"
        "sidecore_guest_reservation_cost_bytes_total{%s} 0\n"
        "sidecore_guest_visits_total{%s} 11\n"
        "sidecore_guest_reservation_visits_total{%s} 0\n"
        "sidecore_guest_throttled_total{%s} 8\n"
        "sidecore_guest_skipped_turns_total{%s} 0\n"
        "sidecore_guest_read_throttled_total{%s} 6\n"
        "sidecore_guest_write_throttled_total{%s} 0\n"
        "sidecore_guest_weight{%s} 200\n"
        "sidecore_guest_reservation_iops{%s} 0\n"
        "sidecore_guest_reservation_bytes_per_second{%s} 0\n"
        "sidecore_guest_limit_iops{%s} 1000\n"
        "sidecore_guest_limit_bytes_per_second{%s} 0\n"
        "sidecore_guest_devices{%s} 1\n"
        "sidecore_guest_queues{%s} 2\n"
        "sidecore_guest_mem_reserved_bytes{%s} 4096\n",
        g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g, g);
#undef ADD
    assert_true(n < sizeof(expect));
    assert_string_equal(got, expect);
    free(got);
    free(text);
    fixture_free(&f);
}

/* The metric name of a sample or a # line's family. */
static void name_of(const char *line, char *out, size_t len)
{
    size_t n = strcspn(line, "{ \n");
    snprintf(out, len, "%.*s", (int)n, line);
}

static void every_sample_follows_its_help_and_type(void **state)
{
    (void)state;
    struct fixture f;
    fixture_build(&f);
    char *text = render(&f.v);
    char family[128] = "", type[32] = "";
    unsigned families = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128];
        if (strncmp(line, "# HELP ", 7) == 0) {
            name_of(line + 7, family, sizeof(family));
            type[0] = '\0';
            families++;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            name_of(line + 7, name, sizeof(name));
            assert_string_equal(name, family);
            snprintf(type, sizeof(type), "%s", line + 8 + strlen(name));
            assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                        strcmp(type, "histogram") == 0);
            continue;
        }
        name_of(line, name, sizeof(name));
        assert_true(strncmp(name, "sidecore_", 9) == 0);
        assert_true(type[0]);
        if (strcmp(type, "histogram") == 0) {
            size_t fl = strlen(family);
            assert_memory_equal(name, family, fl);
            const char *suffix = name + fl;
            assert_true(strcmp(suffix, "_bucket") == 0 || strcmp(suffix, "_sum") == 0 ||
                        strcmp(suffix, "_count") == 0);
        } else {
            assert_string_equal(name, family);
        }
        if (strcmp(type, "counter") == 0) {
            size_t nl = strlen(name);
            assert_true(nl > 6 && strcmp(name + nl - 6, "_total") == 0);
        }
    }
    assert_true(families > 40);
    free(text);
    fixture_free(&f);
}

static void missing_views_leave_their_samples_out(void **state)
{
    (void)state;
    struct sc_metrics_views v = { .age_s = 2 };
    char *text = render(&v);
    char *got = samples_of(text);
    /* the families are all there, for a scraper's sake, but no samples */
    assert_string_equal(got, "sidecore_metrics_age_seconds 2\n");
    assert_non_null(strstr(text, "# TYPE sidecore_queue_latency_seconds histogram\n"));
    assert_non_null(strstr(text, "# TYPE sidecore_core_rounds_total counter\n"));
    free(got);
    free(text);
}

static void bounds_are_exact_bucket_edges(void **state)
{
    (void)state;
    /* each bound is the last value of one of our buckets, so cumulative
     * counts need no interpolation */
    for (unsigned k = 0; k < SC_METRICS_LE_COUNT; k++) {
        uint64_t le = sc_metrics_le_ns(k);
        assert_int_equal(sc_hist_bucket_high(sc_hist_bucket(le)), le);
        assert_int_not_equal(sc_hist_bucket(le), sc_hist_bucket(le + 1));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_snapshot_gives_exactly_these_samples),
        cmocka_unit_test(every_sample_follows_its_help_and_type),
        cmocka_unit_test(missing_views_leave_their_samples_out),
        cmocka_unit_test(bounds_are_exact_bucket_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
