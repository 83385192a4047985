#!/bin/bash
# rebalbench - what rebalancing buys (make bench): N guests whose busy queues
# all start on one sidecore of two, where each request costs the sidecore
# CPU (a null disk with spin=NS per request: the core is the bottleneck),
# in three cells of the same run:
#   unbalanced  --rebalance off: they stay on one core
#   rebalanced  --rebalance on (interval 500 ms, a plan held twice): the
#               balancer moves some to the other core
#   placed      the pool's own placement at connect (fewest queues per core):
#               the ceiling
#
#   tools/bench/rebalbench.sh [--guests 4] [--seconds 8] [--spin-ns 20000]
#       [--qd 16] [--rounds 1] [--json FILE] [--keep DIR]
#
# The two sidecores are pinned to CPUs 0 and 1, the guests are not.  Each
# cell samples the sum of the queues' requests (sidecorectl queues) every
# 250 ms; reported: the unbalanced cell's IOPS, the rebalanced cell's IOPS
# after its last move (and the time from the start of I/O to that move),
# the placed cell's IOPS, and the ratios.  Needs 2 CPUs or more.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/benchlib.sh

N=4 SECONDS_RUN=8 SPIN=20000 QD=16 ROUNDS=1 JSON=""
while [ $# -gt 0 ]; do
    case $1 in
    --guests) N=$2; shift 2 ;;
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --spin-ns) SPIN=$2; shift 2 ;;
    --qd) QD=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) bl_die "unknown option $1 (--help)" ;;
    esac
done
[ "$NCPU" -ge 2 ] || bl_die "needs 2 CPUs or more"
PIN=no
bl_prepare xensimd xensimctl sidecored sidecorectl blkguest
BL_TARGET="null:1G,spin=$SPIN"
export BL_TARGET

ctl() { "$BIN/sidecorectl" "$@"; }

# queue cores as "name=core" lines
queue_cores() { ctl queues --json | perl -MJSON::PP -0e '
    print "$_->{name}=$_->{core}\n" for @{decode_json(<STDIN>)}'; }

# all_on sc0: moves every queue there and waits until they are
all_on() {
    local line name core
    while IFS= read -r line; do
        name=${line%=*} core=${line##*=}
        [ "$core" = "$1" ] || ctl move-queue "$name" "$1" >/dev/null
    done < <(queue_cores)
    for _ in $(seq 100); do
        ! queue_cores | grep -qv "=$1\$" && return 0
        sleep 0.05
    done
    return 1
}

# total requests of every queue now, with the time: "ns requests"
sample() {
    local ns
    ns=$(bl_now_ns)
    ctl queues --json | perl -MJSON::PP -0e '
        my $s = 0; $s += $_->{requests} for @{decode_json(<STDIN>)}; print "'"$ns"' $s $ARGV[0]\n";' \
        "$(ctl status --json | perl -MJSON::PP -0e 'print decode_json(<STDIN>)->{rebalance}{moves}')"
}

# run_cell NAME REBALANCE PLACE: one cell; its samples in CELL_DIR/samples
run_cell() {
    local name=$1 rebalance=$2 place=$3
    CELL=$name CELL_DIR=$WORK/cells/$name
    bl_world_start "$CELL" "$N" "$CELL_DIR" || return 1
    bl_backend_start "$CELL_DIR/sidecored.log" "$BIN/sidecored" --mode poll --cores 2 \
        --cpus 0,1 --rebalance "$rebalance" --rebalance-interval-ms 500 || return 1
    bl_guests_start "$CELL_DIR" --qd "$QD" --seconds "$SECONDS_RUN" --queues 1 --workload rand --rw read
    bl_wait_connected "$N" 30 || return 1
    if [ "$place" = one ]; then
        all_on sc0 || { echo "$BL_NAME: could not put every queue on sc0" >&2; return 1; }
    fi
    bl_release "$N"
    local end=$(($(date +%s) + SECONDS_RUN))
    : >"$CELL_DIR/samples"
    while [ "$(date +%s)" -lt "$end" ]; do
        sample >>"$CELL_DIR/samples"
        sleep 0.25
    done
    bl_read_signals "$N" d 30 || true
    bl_stop_world
}

for r in $(seq 1 "$ROUNDS"); do
    for cell in unbalanced rebalanced placed; do
        echo "$BL_NAME: round $r, $cell" >&2
        case $cell in
        unbalanced) run_cell "$cell-r$r" off one ;;
        rebalanced) run_cell "$cell-r$r" on one ;;
        placed) run_cell "$cell-r$r" off pool ;;
        esac
    done
done

perl -MJSON::PP -e '
    my ($work, $rounds, $json, $n, $spin) = @ARGV;
    sub load { my @s; open(my $f, "<", "$work/cells/$_[0]/samples") or return ();
               while (<$f>) { push @s, [split] } return @s }
    # IOPS between the samples at index a and b
    sub rate { my ($s, $a, $b) = @_; return 0 if $b <= $a;
               ($s->[$b][1] - $s->[$a][1]) / (($s->[$b][0] - $s->[$a][0]) / 1e9) }
    my @rows;
    for my $r (1 .. $rounds) {
        my @u = load("unbalanced-r$r"); my @b = load("rebalanced-r$r"); my @p = load("placed-r$r");
        next unless @u > 4 && @b > 4 && @p > 4;
        # skip the first second (guests ramping up) and the last sample
        my $u = rate(\@u, 4, $#u - 1);
        my $pl = rate(\@p, 4, $#p - 1);
        my ($last_move) = grep { $b[$_][2] > ($b[$_ - 1][2] // 0) } reverse 1 .. $#b;
        my $moves = $b[-1][2];
        my $after = defined $last_move ? rate(\@b, $last_move + 2, $#b - 1) : 0;
        my $t_move = defined $last_move ? ($b[$last_move][0] - $b[0][0]) / 1e9 : undef;
        push @rows, { round => $r, unbalanced_iops => $u, rebalanced_iops => $after,
                      placed_iops => $pl, moves => $moves, seconds_to_last_move => $t_move,
                      ratio_rebalanced => $u ? $after / $u : 0, ratio_placed => $u ? $pl / $u : 0 };
    }
    printf "%d guests, each request %d ns of sidecore CPU, 2 sidecores (CPUs 0,1)\n", $n, $spin;
    printf "| round | unbalanced IOPS | rebalanced IOPS (after) | placed IOPS | rebalanced/unbalanced | placed/unbalanced | moves | s to last move |\n";
    printf "|---|---|---|---|---|---|---|---|\n";
    for my $x (@rows) {
        printf "| %d | %.0f | %.0f | %.0f | %.2f | %.2f | %d | %s |\n", $x->{round},
            $x->{unbalanced_iops}, $x->{rebalanced_iops}, $x->{placed_iops},
            $x->{ratio_rebalanced}, $x->{ratio_placed}, $x->{moves},
            defined $x->{seconds_to_last_move} ? sprintf("%.2f", $x->{seconds_to_last_move}) : "-";
    }
    if ($json) { open(my $f, ">", $json) or die "$json: $!"; print $f encode_json(\@rows) }
' "$WORK" "$ROUNDS" "$JSON" "$N" "$SPIN"
