#!/bin/bash
# weightbench - fair share by weight where the sidecore is the bottleneck
# (make bench): 3 guests with weights 1:2:4 (100, 200, 400) on one
# sidecore, each request costing the sidecore CPU (a null disk with
# spin=NS), every guest with more requests in flight than its share can
# serve.  Each guest's share of the requests served should be its weight's
# share (1/7, 2/7, 4/7).
#
#   tools/bench/weightbench.sh [--seconds 8] [--spin-ns 20000] [--qd 128]
#       [--rounds 3] [--weights 100,200,400] [--warmup S] [--window S]
#       [--json FILE] [--keep DIR]
#
# The sidecore runs on the last CPU, the guests on the others (--pin yes).
# Reported per round: each guest's IOPS and share over the whole run (the
# guests' own count, start-up and wind-down included), and mid-run: its
# requests served by the sidecore over a steady window (sidecorectl guests,
# from --warmup seconds after the start [seconds/4] for --window seconds
# [seconds/2]); the share its weight asks for, and the relative errors; then
# the largest error per round and the median over rounds, of both.
# --json FILE: one object per guest and round (round, weight, iops, share,
# want, rel_err, and mid_iops, mid_share, mid_rel_err: null if the window's
# snapshots failed).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/benchlib.sh

SECONDS_RUN=8 SPIN=20000 QD=128 ROUNDS=3 WEIGHTS=100,200,400 JSON="" WARMUP="" WINDOW=""
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --spin-ns) SPIN=$2; shift 2 ;;
    --qd) QD=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --weights) WEIGHTS=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) bl_die "unknown option $1 (--help)" ;;
    esac
done
IFS=, read -r -a W <<<"$WEIGHTS"
N=${#W[@]}
[ "$N" -ge 2 ] || bl_die "--weights: two or more"
WARMUP=${WARMUP:-$(awk -v s="$SECONDS_RUN" 'BEGIN { print s / 4 }')}
WINDOW=${WINDOW:-$(awk -v s="$SECONDS_RUN" 'BEGIN { print s / 2 }')}
# the window must end before the guests do, or it measures their wind-down
awk -v s="$SECONDS_RUN" -v a="$WARMUP" -v w="$WINDOW" 'BEGIN { exit !(a >= 0 && w > 0 && a + w < s) }' ||
    bl_die "--warmup + --window must be below --seconds"
bl_prepare xensimd xensimctl sidecored blkguest
export BL_TARGET="null:1G,spin=$SPIN"

for r in $(seq 1 "$ROUNDS"); do
    echo "$BL_NAME: round $r" >&2
    CELL=r$r CELL_DIR=$WORK/cells/r$r
    bl_world_start "$CELL" "$N" "$CELL_DIR"
    tenants=()
    for i in $(seq 0 $((N - 1))); do tenants+=(--tenant "${DOMIDS[i]}:weight=${W[i]}"); done
    bl_backend_start "$CELL_DIR/sidecored.log" "$BIN/sidecored" --mode poll --cores 1 \
        "${tenants[@]}"
    bl_guests_start "$CELL_DIR" --qd "$QD" --seconds "$SECONDS_RUN" --queues 1 --workload rand \
        --rw read
    bl_wait_connected "$N" 30
    bl_release "$N"
    # mid-run: the sidecore's count of each guest's requests, around a
    # window clear of the start (rings filling, guests starting one by
    # one) and of the end (guests stopping one by one)
    sleep "$WARMUP"
    bl_now_ns >"$CELL_DIR/mid0.t"
    "$BIN/sidecorectl" guests --json >"$CELL_DIR/mid0.json" 2>>"$CELL_DIR/mid.err" || true
    sleep "$WINDOW"
    bl_now_ns >"$CELL_DIR/mid1.t"
    "$BIN/sidecorectl" guests --json >"$CELL_DIR/mid1.json" 2>>"$CELL_DIR/mid.err" || true
    "$BIN/sidecorectl" cores --json >"$CELL_DIR/mid1.cores.json" 2>>"$CELL_DIR/mid.err" || true
    bl_read_signals "$N" d $((SECONDS_RUN + 30)) || true
    i=0
    for d in "${DOMIDS[@]}"; do echo "${W[i]} $d" >>"$CELL_DIR/weights"; i=$((i + 1)); done
    bl_stop_world
done

perl -MJSON::PP -e '
    my ($work, $rounds, $json, $spin, $warm, $win) = @ARGV;
    my (@rows, @errs, @merrs, @shifts);
    # a guests --json snapshot: domid -> requests served
    sub snap {
        my ($file) = @_;
        open(my $f, "<", $file) or return undef;
        local $/; my $j = eval { decode_json(<$f>) };
        return undef unless ref $j eq "ARRAY";
        # the rows of disks (a guest has one per device class)
        return { map { $_->{domid} => $_->{sched}{requests} }
                 grep { ($_->{class} // "vbd") eq "vbd" } @$j };
    }
    sub slurp { open(my $f, "<", $_[0]) or return undef; my $x = <$f>; chomp $x; $x }
    for my $r (1 .. $rounds) {
        my $dir = "$work/cells/r$r";
        open(my $wf, "<", "$dir/weights") or next;
        my @g = map { [split] } <$wf>;
        my ($m0, $m1) = (snap("$dir/mid0.json"), snap("$dir/mid1.json"));
        my ($t0, $t1) = (slurp("$dir/mid0.t"), slurp("$dir/mid1.t"));
        my $mid = $m0 && $m1 && $t1 > $t0;
        my ($wsum, $isum, $msum) = (0, 0, 0);
        for my $x (@g) {
            open(my $f, "<", "$dir/guest-$x->[1].json") or die "guest $x->[1]: $!";
            local $/; my $j = decode_json(<$f>);
            my $d = $mid ? ($m1->{$x->[1]} // 0) - ($m0->{$x->[1]} // 0) : 0;
            push @$x, $j->{iops}, $d / (($t1 - $t0) / 1e9 || 1);
            $wsum += $x->[0]; $isum += $j->{iops}; $msum += $d;
        }
        $mid &&= $msum > 0;
        my ($maxerr, $maxmerr) = (0, 0);
        for my $x (@g) {
            my ($share, $want) = ($isum ? $x->[2] / $isum : 0, $x->[0] / $wsum);
            my $err = abs($share - $want) / $want;
            $maxerr = $err if $err > $maxerr;
            my ($ms, $merr);
            if ($mid) {
                my $tot = 0; $tot += $_->[3] for @g;
                $ms = $x->[3] / $tot;
                $merr = abs($ms - $want) / $want;
                $maxmerr = $merr if $merr > $maxmerr;
            }
            push @rows, { round => $r, weight => $x->[0], iops => $x->[2], share => $share,
                          want => $want, rel_err => $err,
                          mid_iops => $mid ? $x->[3] : undef, mid_share => $ms,
                          mid_rel_err => $merr };
        }
        push @errs, $maxerr;
        push @merrs, $maxmerr if $mid;
        # short turns (sched.h): the turn shift of the core at the end of the window
        my $c = eval { open(my $f, "<", "$dir/mid1.cores.json") or die;
                       local $/; decode_json(<$f>) };
        push @shifts, ref $c eq "ARRAY" ? $c->[0]{turn_shift} // "-" : "-";
    }
    printf "each request %d ns of sidecore CPU, 1 sidecore on its own CPU; " .
           "mid-run: %gs to %gs after the start\n", $spin, $warm, $warm + $win;
    print "| round | weight | IOPS | share | mid-run IOPS | mid-run share | weight share " .
          "| error | mid-run error |\n|---|---|---|---|---|---|---|---|---|\n";
    my $f3 = sub { defined $_[0] ? sprintf("%.3f", $_[0]) : "-" };
    my $f0 = sub { defined $_[0] ? sprintf("%.0f", $_[0]) : "-" };
    my $fp = sub { defined $_[0] ? sprintf("%.1f%%", 100 * $_[0]) : "-" };
    printf "| %d | %d | %.0f | %.3f | %s | %s | %.3f | %.1f%% | %s |\n",
        @$_{qw(round weight iops share)}, $f0->($_->{mid_iops}), $f3->($_->{mid_share}),
        $_->{want}, 100 * $_->{rel_err}, $fp->($_->{mid_rel_err}) for @rows;
    for ([ "whole run", \@errs ], [ "mid-run", \@merrs ]) {
        my ($what, $e) = @$_;
        my @s = sort { $a <=> $b } @$e;
        printf "%s, largest error per round: %s; median %.1f%%\n", $what,
            join(", ", map { sprintf "%.1f%%", 100 * $_ } @$e), 100 * $s[$#s / 2] if @s;
    }
    print "turn shift at the end of the window, per round: ", join(", ", @shifts), "\n";
    if ($json) { open(my $f, ">", $json) or die; print $f encode_json(\@rows) }
' "$WORK" "$ROUNDS" "$JSON" "$SPIN" "$WARMUP" "$WINDOW"
