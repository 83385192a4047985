#!/bin/bash
# noisybench_smoke_test: the noisy-neighbour benchmark (make bench) in a
# tiny configuration, so it cannot rot: 2 quiet guests and the noisy one,
# 1 s per cell, both persistent-grant configurations.  Checks that it exits
# 0, prints its table, and writes a JSON row per configuration with every
# field, the quiet guests and the noisy one having done I/O.  Latency is
# not judged here.
. "$(dirname "$0")/../tools/simworld.sh"
[ -n "$SC_SAN" ] && { echo "1..0 # SKIP a benchmark under a sanitizer measures nothing"; exit 0; }

OUT=$(mktemp -d "${TMPDIR:-/tmp}/noisybench-smoke.XXXXXX")
smoke_cleanup() { rm -rf "$OUT"; }
SIM_CLEANUP_HOOKS="smoke_cleanup"

SC_BUILD=$SC_BUILD timeout 150 "$(dirname "$0")/../../tools/bench/noisybench.sh" \
    --quiet 2 --seconds 1 --noisy-qd 32 --max-persistent 64,1056 --json "$OUT/bench.json" \
    >"$OUT/stdout" 2>"$OUT/stderr"
rc=$?
is "noisybench exits 0" "$rc" 0
if [ "$rc" -ne 0 ]; then
    { echo "# exit status $rc"; sed 's/^/# /' "$OUT/stderr" | tail -20; } >&2
fi
ok "its table" grep -q '^| 64 | 1 | [0-9]' "$OUT/stdout"
ok "its verdict" grep -q '^max-persistent 1056: median p99 ratio' "$OUT/stdout"
rows=$(perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or exit 1;
    my $rows = decode_json(<$f>);
    my @keys = qw(max_persistent round quiet_p99_solo_us quiet_p99_noisy_us ratio
                  worst_p99_solo_us worst_p99_noisy_us worst_ratio quiet_iops_solo
                  quiet_iops_noisy noisy_iops noisy_mb_s noisy_visit_us
                  noisy_requests_per_visit);
    my $good = grep { my $r = $_; !grep({ !defined $r->{$_} } @keys) &&
                      $r->{quiet_iops_solo} > 0 && $r->{quiet_iops_noisy} > 0 &&
                      $r->{noisy_iops} > 0 && $r->{ratio} > 0 } @$rows;
    printf "%d %d", scalar @$rows, $good' "$OUT/bench.json" 2>/dev/null)
is "a row per configuration, every field, I/O in every cell" "$rows" "2 2"
[ "$rows" = "2 2" ] || { sed 's/^/# /' "$OUT/stdout"; sed 's/^/# /' "$OUT/stderr" | tail -20; } >&2

done_testing
