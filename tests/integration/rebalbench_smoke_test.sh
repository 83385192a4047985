#!/bin/bash
# rebalbench_smoke_test: the rebalancing benchmark (make bench) in a tiny
# configuration, so it cannot rot: 2 guests, 8 s per cell (on a loaded machine
# the move comes late, and the rebalanced rate is measured after it).  Checks that it
# exits 0, prints its table and JSON, that every cell moved I/O, and that
# the rebalanced cell's balancer moved a queue (it starts with both busy
# queues on one core of two).  Speed is not judged here.
. "$(dirname "$0")/../tools/simworld.sh"
[ -n "$SC_SAN" ] && { echo "1..0 # SKIP a benchmark under a sanitizer measures nothing"; exit 0; }

OUT=$(mktemp -d "${TMPDIR:-/tmp}/rebalbench-smoke.XXXXXX")
smoke_cleanup() { rm -rf "$OUT"; }
SIM_CLEANUP_HOOKS="smoke_cleanup"

SC_BUILD=$SC_BUILD timeout 150 "$(dirname "$0")/../../tools/bench/rebalbench.sh" \
    --guests 2 --seconds 8 --spin-ns 10000 --json "$OUT/bench.json" >"$OUT/stdout" 2>"$OUT/stderr"
rc=$?
is "rebalbench exits 0" "$rc" 0
if [ "$rc" -ne 0 ]; then
    { echo "# exit status $rc"; sed 's/^/# /' "$OUT/stderr" | tail -20; } >&2
fi
ok "its table" grep -q '^| 1 | [0-9]' "$OUT/stdout"
row=$(perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or exit 1;
    my $r = decode_json(<$f>)->[0] or exit 1;
    printf "%d %d %d %d", $r->{unbalanced_iops} > 0, $r->{rebalanced_iops} > 0,
        $r->{placed_iops} > 0, $r->{moves}' "$OUT/bench.json" 2>/dev/null)
is "every cell moved I/O" "${row% *}" "1 1 1"
ok "the balancer moved a queue (${row##* })" test "${row##* }" -ge 1 2>/dev/null

done_testing
