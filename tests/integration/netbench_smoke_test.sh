#!/bin/bash
# netbench_smoke_test: the network benchmark (make bench) in a tiny
# configuration, so it cannot rot: every scenario (switch, tap-tx, tap-rx,
# tcp), 64-byte frames, 2 guests, 1 s per cell, every backend (sidecored
# poll, sidecored event, netecho; veth for tcp).  Checks that it exits 0,
# prints its tables and the goals, writes JSON that parses with the fields
# the report promises, and that every cell moved packets with no guest lost.
# It measures nothing: needs root and network namespaces (skipped without),
# iperf3 for the tcp part, and the plain build (skipped under a sanitizer,
# like blkbench_smoke_test).
. "$(dirname "$0")/../tools/simworld.sh"

[ -n "$SC_SAN" ] && { echo "1..0 # SKIP a benchmark under a sanitizer measures nothing"; exit 0; }
if [ "$(id -u)" != 0 ] || ! ip netns add "nbsmoke$$" 2>/dev/null; then
    echo "1..0 # SKIP needs root and network namespaces"
    exit 0
fi
ip netns del "nbsmoke$$"
HAVE_IPERF=$(command -v iperf3 >/dev/null && echo 1 || echo 0)

OUT=$(mktemp -d "${TMPDIR:-/tmp}/netbench-smoke.XXXXXX")
smoke_cleanup() { rm -rf "$OUT"; }
SIM_CLEANUP_HOOKS="smoke_cleanup"

# 12 cells of about 3 s; generous for a loaded machine.
SC_BUILD=$SC_BUILD timeout 240 "$(dirname "$0")/../../tools/bench/netbench.sh" \
    --sizes 64 --guests 2 --seconds 1 --tcp-seconds 1 --json "$OUT/bench.json" \
    >"$OUT/stdout" 2>"$OUT/stderr"
rc=$?
is "netbench exits 0" "$rc" 0
if [ "$rc" -ne 0 ]; then # on stderr, so prove shows it
    { echo "# exit status $rc"; sed 's/^/# /' "$OUT/stderr" | tail -20; sed 's/^/# /' "$OUT/stdout" | grep WARNING; } >&2
fi

ok "a guest -> guest table" grep -q '^## Guest -> guest through the switch' "$OUT/stdout"
ok "a guest <-> host table" grep -q '^## Guest <-> host through a TAP vif' "$OUT/stdout"
ok "the switch table has all three backends" \
    bash -c "grep -q '^| 64 | 2 | sidecore |' '$OUT/stdout' && grep -q '^| 64 | 2 | event |' '$OUT/stdout' &&
             grep -q '^| 64 | 2 | floor (tx only) |' '$OUT/stdout'"
ok "the goals are stated" grep -q '^| 64 B guest<->guest packets per backend CPU-second' "$OUT/stdout"
ok "no warning in the report" bash -c "! grep -q WARNING '$OUT/stdout'"

# One line per cell group: packets moved, CPU, kicks/notifies and the rest present.
summary=$(perl -MJSON::PP -e '
    local $/; open(my $f, "<", $ARGV[0]) or die "open: $!";
    my $j = decode_json(<$f>);
    my $r = $j->{results};
    sub line {
        my ($what, $x, @keys) = @_;
        return print "$what missing\n" unless $x;
        my @miss = grep { !defined $x->{$_} } @keys;
        printf "%s %s %s %d %s\n", $what, $x->{packets} > 0 ? "moved" : "idle",
            @miss ? "missing:@miss" : "fields", $x->{failed_guests} + $x->{backend_died},
            $x->{pps_per_cpu_s} > 0 ? "cpu" : "nocpu";
    }
    my @k = qw(pps pps_per_cpu_s backend_cpu_pct kicks_per_packet notifies_per_packet backend_drops);
    line("switch $_", $r->{switch}{64}{2}{$_}, @k, "jain") for qw(sidecore event floor);
    line("tap-tx $_", $r->{"tap-tx"}{64}{1}{$_}, @k) for qw(sidecore event floor);
    line("tap-rx $_", $r->{"tap-rx"}{64}{1}{$_}, @k) for qw(sidecore event);
    if ($ARGV[1]) {
        for my $b (qw(sidecore event veth veth-cpu0)) {
            my $x = $r->{tcp}{0}{2}{$b};
            printf "tcp %s %s\n", $b, $x && $x->{gbit_per_s} > 0 ? "moved" : "idle";
        }
    }
    my %g = map { $_->{name} => $_ } @{ $j->{goals} };
    printf "goals %d %s\n", scalar @{ $j->{goals} },
        join(",", map { defined $_->{value} && defined $_->{goal} && defined $_->{met} ? "ok" : "bad" }
                  @{ $j->{goals} });
    printf "cells %d\n", scalar @{ $j->{cells} };
    printf "params %s\n", defined $j->{params}{seconds} && defined $j->{params}{load_average} ? "ok" : "bad";
' "$OUT/bench.json" "$HAVE_IPERF" 2>&1)
ok "the JSON parses" test -n "$summary"
for b in sidecore event floor; do
    is "switch, $b: packets moved, every field, no guest lost, CPU measured" \
        "$(grep "^switch $b " <<<"$summary")" "switch $b moved fields 0 cpu"
    is "guest -> host, $b: packets moved, every field, no guest lost, CPU measured" \
        "$(grep "^tap-tx $b " <<<"$summary")" "tap-tx $b moved fields 0 cpu"
done
for b in sidecore event; do
    is "host -> guest, $b: packets moved, every field, no guest lost, CPU measured" \
        "$(grep "^tap-rx $b " <<<"$summary")" "tap-rx $b moved fields 0 cpu"
done
if [ "$HAVE_IPERF" = 1 ]; then
    for b in sidecore event veth veth-cpu0; do
        is "tcp, $b: throughput measured" "$(grep "^tcp $b " <<<"$summary")" "tcp $b moved"
    done
    is "both goals, each with value, goal and verdict" "$(grep '^goals' <<<"$summary")" "goals 2 ok,ok"
    is "twelve cells" "$(grep '^cells' <<<"$summary")" "cells 12"
else
    echo "# iperf3 missing: the tcp scenario was skipped"
    is "the packet goal, with value, goal and verdict" "$(grep '^goals' <<<"$summary")" "goals 1 ok"
    is "eight cells" "$(grep '^cells' <<<"$summary")" "cells 8"
fi
is "the run's parameters" "$(grep '^params' <<<"$summary")" "params ok"
done_testing
