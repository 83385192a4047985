#!/bin/bash
# blkbench_smoke_test: the block benchmark (make bench) in a tiny
# configuration, so it cannot rot: 1 and 2 guests, 1 s per cell, all three
# backends (sidecored poll, sidecored event, echoback).  Checks that it
# exits 0, prints a table per guest count, writes JSON that parses, and that
# every cell moved I/O with no guest lost and no error answered, and that
# the latency histograms count every request.
. "$(dirname "$0")/../tools/simworld.sh"

OUT=$(mktemp -d "${TMPDIR:-/tmp}/blkbench-smoke.XXXXXX")
smoke_cleanup() { rm -rf "$OUT"; }
SIM_CLEANUP_HOOKS="smoke_cleanup"

# Generous: 6 cells of 1 s take ~10 s, but a loaded machine stretches set-up.
SC_BUILD=$SC_BUILD timeout 150 "$(dirname "$0")/../../tools/bench/blkbench.sh" \
    --guests 1,2 --seconds 1 --json "$OUT/bench.json" >"$OUT/stdout" 2>"$OUT/stderr"
rc=$?
is "blkbench exits 0" "$rc" 0
if [ "$rc" -ne 0 ]; then # on stderr, so prove shows it
    { echo "# exit status $rc"; sed 's/^/# /' "$OUT/stderr" | tail -20; } >&2
fi

ok "a table for 1 guest" grep -q '^## 1 guest:' "$OUT/stdout"
ok "a table for 2 guests" grep -q '^## 2 guests:' "$OUT/stdout"
ok "tables compare sidecore with event and floor" \
    grep -q '| metric | sidecore | event | floor | sidecore/event | sidecore/floor |' "$OUT/stdout"
ok "no warning in the report" bash -c "! grep -q WARNING '$OUT/stdout'"

# One line per (guests, backend): requests, failed guests, errors, CPU, Jain.
summary=$(perl -MJSON::PP -e '
    local $/; open(my $f, "<", $ARGV[0]) or die "open: $!";
    my $j = decode_json(<$f>);
    for my $n (sort { $a <=> $b } keys %{ $j->{results} }) {
        for my $b (qw(sidecore event floor)) {
            my $r = $j->{results}{$n}{$b} or do { print "$n $b missing\n"; next };
            printf "%d %s %s %d %d %s %s\n", $n, $b, $r->{requests} > 0 ? "moved" : "idle",
                $r->{failed_guests}, $r->{errors}, $r->{backend_cpu_s} > 0 ? "cpu" : "nocpu",
                ($r->{jain} > 0 && $r->{jain} <= 1.0000001) ? "jain" : "badjain";
        }
    }
    printf "cells %d\n", scalar @{ $j->{cells} };
' "$OUT/bench.json" 2>&1)
ok "the JSON parses" test -n "$summary"
for n in 1 2; do
    for b in sidecore event floor; do
        is "$n guest(s), $b: I/O moved, no guest lost, no error, CPU measured, Jain in (0,1]" \
            "$(grep "^$n $b " <<<"$summary")" "$n $b moved 0 0 cpu jain"
    done
done
is "six cells" "$(grep '^cells' <<<"$summary")" "cells 6"
# Frontends of the poll-mode backends send (almost) no kicks: the rings are
# polled.  The event model is kicked for every batch.
kpr=$(perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]); my $j = decode_json(<$f>);
    my $r = $j->{results}{2}; printf "%d", $r->{sidecore}{kicks_per_request} < $r->{event}{kicks_per_request}' \
    "$OUT/bench.json")
is "sidecore: fewer frontend kicks per request than event mode" "$kpr" 1
# The latency histograms (for plot.pl's CDFs): per (guests, backend) every
# request counted once, bucket bounds rising.
hist=$(perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]); my $j = decode_json(<$f>);
    my $good = 0;
    for my $n (keys %{ $j->{results} }) {
        for my $r (values %{ $j->{results}{$n} }) {
            my $h = $r->{latency_hist_us} or next;
            my ($le, $c) = ($h->{le}, $h->{n});
            my $sum = 0; $sum += $_ for @$c;
            my $rising = !grep { $le->[$_] <= $le->[$_ - 1] } 1 .. $#$le;
            $good++ if @$le && @$le == @$c && $rising && $sum == $r->{requests};
        }
    }
    print $good' "$OUT/bench.json")
is "latency histograms: every request once, bounds rising (6 of 6)" "$hist" 6
done_testing
