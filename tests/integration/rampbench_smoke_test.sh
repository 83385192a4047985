#!/bin/bash
# rampbench_smoke_test: the load-ramp benchmark (make bench) in a tiny
# configuration, so it cannot rot: 1 busy guest, 2 s steps, one probe at a
# 2 ms think time for 1 s, 1 s idle windows.  Checks that it exits 0,
# prints its tables, and that its JSON has every figure the docs quote
# (the ramp's active cores, idle CPU, the probes against a sleeping and a
# polling sidecore, the floor, the goal's verdict).  Measures nothing.
. "$(dirname "$0")/../tools/simworld.sh"
[ -n "$SC_SAN" ] && { echo "1..0 # SKIP a benchmark under a sanitizer measures nothing"; exit 0; }

OUT=$(mktemp -d "${TMPDIR:-/tmp}/rampbench-smoke.XXXXXX")
smoke_cleanup() { rm -rf "$OUT"; }
SIM_CLEANUP_HOOKS="smoke_cleanup"

SC_BUILD=$SC_BUILD timeout 150 "$(dirname "$0")/../../tools/bench/rampbench.sh" \
    --guests 1 --step 2 --think-us 2000 --probe-seconds 1 --idle-seconds 1 --interval-ms 200 \
    --json "$OUT/bench.json" >"$OUT/stdout" 2>"$OUT/stderr"
rc=$?
is "rampbench exits 0" "$rc" 0
if [ "$rc" -ne 0 ]; then
    { echo "# exit status $rc"; sed 's/^/# /' "$OUT/stderr" | tail -20; } >&2
fi
ok "its ramp table" grep -q '^| 1 | [12] of 2 |' "$OUT/stdout"
ok "its latency table" grep -q '^| 1 | 2 ms | [0-9]' "$OUT/stdout"
# every figure the docs quote, present and numeric (or a boolean)
fields=$(perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or exit 1;
    my $j = decode_json(<$f>); my $r = $j->{rounds}[0] or exit 1;
    my ($m, $l) = ($r->{ramp}, $r->{latency}[0]);
    my @v = ($m->{max_active}, $m->{min_cores}, $m->{idle_cpu_pct_before},
             $m->{idle_cpu_pct_after}, $m->{peak_iops}, $l->{think_us}, $l->{sleeping}{p50},
             $l->{sleeping}{p99}, $l->{sleeping}{kicks_per_req}, $l->{polling}{p50},
             $l->{polling}{p99}, $l->{added_p50_us}, $l->{floor}{wake}{p50},
             $l->{floor}{round_trip}{p50}, $j->{summary}{added_p50_us_median});
    my $n = grep { defined && /^-?[0-9.]+(e[-+]?[0-9]+)?$/ } @v;
    my $b = grep { JSON::PP::is_bool($_) } $m->{returned_to_min}, $j->{summary}{goal_met};
    my $t = ref $m->{timeline} eq "ARRAY" && @{ $m->{timeline} } > 2;
    print "$n/" . scalar(@v) . " $b $t"' "$OUT/bench.json" 2>/dev/null)
is "the JSON's figures" "$fields" "15/15 2 1"
ok "the probes made requests" perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or exit 1;
    my $l = decode_json(<$f>)->{rounds}[0]{latency}[0];
    exit !($l->{sleeping}{ios} > 0 && $l->{polling}{ios} > 0)' "$OUT/bench.json"

done_testing
