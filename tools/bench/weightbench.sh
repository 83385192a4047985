#!/bin/bash
# weightbench - fair share by weight where the sidecore is the bottleneck
# (make bench): 3 guests with weights 1:2:4 (100, 200, 400) on one
# sidecore, each request costing the sidecore CPU (a null disk with
# spin=NS), every guest with more requests in flight than its share can
# serve.  Each guest's share of the requests served should be its weight's
# share (1/7, 2/7, 4/7).
#
#   tools/bench/weightbench.sh [--seconds 8] [--spin-ns 20000] [--qd 128]
#       [--rounds 3] [--weights 100,200,400] [--json FILE] [--keep DIR]
#
# The sidecore runs on the last CPU, the guests on the others (--pin yes).
# Reported per round: each guest's IOPS, its share, the share its weight
# asks for, and the largest relative error; then the median over rounds.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/benchlib.sh

SECONDS_RUN=8 SPIN=20000 QD=128 ROUNDS=3 WEIGHTS=100,200,400 JSON=""
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --spin-ns) SPIN=$2; shift 2 ;;
    --qd) QD=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --weights) WEIGHTS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) bl_die "unknown option $1 (--help)" ;;
    esac
done
IFS=, read -r -a W <<<"$WEIGHTS"
N=${#W[@]}
[ "$N" -ge 2 ] || bl_die "--weights: two or more"
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
    bl_read_signals "$N" d $((SECONDS_RUN + 30)) || true
    i=0
    for d in "${DOMIDS[@]}"; do echo "${W[i]} $d" >>"$CELL_DIR/weights"; i=$((i + 1)); done
    bl_stop_world
done

perl -MJSON::PP -e '
    my ($work, $rounds, $json, $spin) = @ARGV;
    my (@rows, @errs);
    for my $r (1 .. $rounds) {
        my $dir = "$work/cells/r$r";
        open(my $wf, "<", "$dir/weights") or next;
        my @g = map { [split] } <$wf>;
        my ($wsum, $isum) = (0, 0);
        for my $x (@g) {
            open(my $f, "<", "$dir/guest-$x->[1].json") or die "guest $x->[1]: $!";
            local $/; my $j = decode_json(<$f>);
            push @$x, $j->{iops};
            $wsum += $x->[0]; $isum += $j->{iops};
        }
        my $maxerr = 0;
        for my $x (@g) {
            my ($share, $want) = ($isum ? $x->[2] / $isum : 0, $x->[0] / $wsum);
            my $err = abs($share - $want) / $want;
            $maxerr = $err if $err > $maxerr;
            push @rows, { round => $r, weight => $x->[0], iops => $x->[2], share => $share,
                          want => $want, rel_err => $err };
        }
        push @errs, $maxerr;
    }
    printf "each request %d ns of sidecore CPU, 1 sidecore on its own CPU\n", $spin;
    print "| round | weight | IOPS | share | weight share | error |\n|---|---|---|---|---|---|\n";
    printf "| %d | %d | %.0f | %.3f | %.3f | %.1f%% |\n", @$_{qw(round weight iops share want)},
        100 * $_->{rel_err} for @rows;
    my @s = sort { $a <=> $b } @errs;
    printf "largest error per round: %s; median %.1f%%\n",
        join(", ", map { sprintf "%.1f%%", 100 * $_ } @errs), 100 * $s[$#s / 2] if @s;
    if ($json) { open(my $f, ">", $json) or die; print $f encode_json(\@rows) }
' "$WORK" "$ROUNDS" "$JSON" "$SPIN"
