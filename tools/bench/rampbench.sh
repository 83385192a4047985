#!/bin/bash
# rampbench - a load ramp, 0 -> saturation -> 0, against an adaptive number
# of sidecores (make bench): are sidecores added as the load rises and
# parked when it is gone, what does the daemon cost at idle, and what
# latency does a core that went to sleep add to a guest's request.
#
#   tools/bench/rampbench.sh [--guests 3] [--step 4] [--spin-ns 20000]
#       [--qd 16] [--think-us 2000,10000] [--probe-seconds 4]
#       [--idle-seconds 4] [--interval-ms 500] [--rounds 1] [--json FILE]
#       [--keep DIR]
#
# Each round has three parts.
#  ramp   sidecored --mode poll --cores 2 --cores-min 1 --cpus 0,1
#         --rebalance-interval-ms MS; every guest connected first (their
#         queues all on sc0, the one active core), then
#           idle:  no I/O for --idle-seconds: the daemon's CPU (the sum
#                  of its threads' on-CPU ns, /proc/PID/task/*/schedstat)
#                  as % of one CPU, and the sidecore threads' part of it;
#           probe: one probe guest per --think-us value (a null:1G disk,
#                  no spin), pinned to CPU 1 (sc1's, parked), alone for
#                  --probe-seconds: blkguest
#                  --think-us T (one 4 KiB read every T us at qd 1): with
#                  T far above the polling window (200 us) sc0 sleeps in
#                  epoll before each request and the guest kicks it;
#           ramp:  --guests busy guests (null:1G,spin=NS disks: each
#                  request costs the sidecore NS of CPU; blkguest qd
#                  --qd), one more every --step seconds, then one fewer
#                  every --step seconds (1, 2, .. N, .. 2, 1), sampled
#                  every 250 ms: active cores (sidecorectl status),
#                  each core's busy % (sidecorectl cores), IOPS;
#           idle:  once the cores are back to the minimum (or 20 s), the
#                  daemon's CPU again.
#  poll   the same daemon with --poll-window fixed --poll-idle-us 1000000
#         (sc0 polls through every gap) and the same probes: the latency
#         with no wake-up on the backend's side.  The difference of the
#         two is what sleeping adds.
#  floor  tools/bench/wakefloor.c, waker on CPU 1, sleeper (in epoll) on
#         CPU 0, after the same think times: one wake-up of a sleeping
#         thread, and a round trip of two, on this machine.
# Printed: per round the ramp (max active cores, seconds to add and to
# park, whether it came back to the minimum, idle CPU before and after,
# peak IOPS, active cores second by second) and the latencies (p50/p99 of
# the probes against a sleeping and a polling sidecore, their difference,
# the guest's kicks per request, the floor); --json FILE gets every round
# with its samples.  Needs 2 CPUs or more, perl.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/benchlib.sh

NBUSY=3 STEP=4 SPIN=20000 QD=16 THINK=2000,10000 PROBE_S=4 IDLE_S=4 INTERVAL_MS=500
ROUNDS=1 JSON=""
while [ $# -gt 0 ]; do
    case $1 in
    --guests) NBUSY=$2; shift 2 ;;
    --step) STEP=$2; shift 2 ;;
    --spin-ns) SPIN=$2; shift 2 ;;
    --qd) QD=$2; shift 2 ;;
    --think-us) THINK=$2; shift 2 ;;
    --probe-seconds) PROBE_S=$2; shift 2 ;;
    --idle-seconds) IDLE_S=$2; shift 2 ;;
    --interval-ms) INTERVAL_MS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    -h|--help) bl_usage; exit 0 ;;
    *) bl_die "unknown option $1 (--help)" ;;
    esac
done
for v in NBUSY STEP SPIN QD PROBE_S IDLE_S INTERVAL_MS ROUNDS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || bl_die "$v: a positive whole number"
done
[[ $THINK =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || bl_die "--think-us: a list like 2000,10000"
IFS=, read -r -a THINKS <<<"$THINK"
[ "$NCPU" -ge 2 ] || bl_die "needs 2 CPUs or more"
PIN=no
bl_prepare xensimd xensimctl sidecored sidecorectl blkguest wakefloor
export BL_TARGET="null:1G,spin=$SPIN"
NPROBE=${#THINKS[@]}
SD_ARGS=(--mode poll --cores 2 --cores-min 1 --cpus "0,1" --rebalance-interval-ms "$INTERVAL_MS")

ctl() { "$BIN/sidecorectl" "$@"; }

# The daemon's threads' on-CPU ns (schedstat), summed.
proc_cpu_ns() {
    local t ns rest sum=0
    for t in /proc/"$1"/task/*; do
        read -r ns rest <"$t/schedstat" 2>/dev/null || continue
        sum=$((sum + ns))
    done
    echo "$sum"
}

# The sidecore threads' on-CPU ns (schedstat), summed.
cores_cpu_ns() { bl_core_threads "$1" | awk '{ s += $3 } END { printf "%d\n", s }'; }

# idle_window OUT: the daemon's CPU over IDLE_S seconds: "wall_ns cpu_ns
# sidecores_cpu_ns" into OUT, and the cores' snapshots before and after.
idle_window() {
    local t0 c0 s0 t1 c1 s1
    ctl cores --json >"$1.cores0.json" 2>/dev/null || true
    t0=$(bl_now_ns) c0=$(proc_cpu_ns "$BE_PID") s0=$(cores_cpu_ns "$BE_PID")
    sleep "$IDLE_S"
    t1=$(bl_now_ns) c1=$(proc_cpu_ns "$BE_PID") s1=$(cores_cpu_ns "$BE_PID")
    ctl cores --json >"$1.cores1.json" 2>/dev/null || true
    echo "$((t1 - t0)) $((c1 - c0)) $((s1 - s0))" >"$1"
}

# start_guest DOMID ARGS...: a blkguest for DOMID behind its own start
# FIFO (go-DOMID, released by release_guest), "c"/"d" on fd 6.
start_guest() {
    local d=$1
    shift
    mkfifo "$SIM/go-$d"
    "${GPREFIX[@]}" "$BIN/blkguest" --dir "$SIM" --domid "$d" --vdev 51712 --ready-fd 6 --start-fd 7 "$@" \
        7<>"$SIM/go-$d" >"$CELL_DIR/guest-$d.json" 2>"$CELL_DIR/guest-$d.err" &
    GUEST_PIDS+=($!)
}
GPREFIX=()
release_guest() { printf x >"$SIM/go-$1"; }

# A cell's world: NB busy guests (a null:1G,spin=NS disk each; busy guest
# k, from 0, runs 2 NBUSY - 1 - 2 k steps) and NPROBE probe guests (a plain
# null:1G disk: a probe's latency is the wake-ups', not the spin's; pinned
# to CPU 1), PROBE_IDS their domain ids, the daemon with ARGS, every guest
# connected.  world NAME NB ARGS...
PROBE_IDS=()
world() {
    local name=$1 nb=$2 i d k
    shift 2
    CELL=$name CELL_DIR=$WORK/cells/$name
    bl_world_start "$CELL" "$nb" "$CELL_DIR" || return 1
    PROBE_IDS=()
    for i in $(seq 1 "$NPROBE"); do
        d=$("$BIN/xensimctl" create "probe$i" --mem "${GUEST_MEM:-16}") || return 1
        "$BIN/xensimctl" vbd-attach "$d" --backend-domid 0 --target null:1G --vdev xvda \
            >/dev/null || return 1
        PROBE_IDS+=("$d")
    done
    bl_backend_start "$CELL_DIR/sidecored.log" "$BIN/sidecored" "$@" || return 1
    mkfifo "$SIM/ready.fifo"
    exec 6<>"$SIM/ready.fifo"
    for k in $(seq 0 $((nb - 1))); do
        d=${DOMIDS[k]}
        echo "$d $k" >>"$CELL_DIR/busy"
        start_guest "$d" --qd "$QD" --seconds $(((2 * NBUSY - 1 - 2 * k) * STEP)) \
            --rw read --workload rand --queues 1
    done
    GPREFIX=(taskset -c 1)
    for i in $(seq 0 $((NPROBE - 1))); do
        d=${PROBE_IDS[i]}
        echo "$d ${THINKS[i]}" >>"$CELL_DIR/probes"
        start_guest "$d" --qd 1 --think-us "${THINKS[i]}" --seconds "$PROBE_S" --rw read \
            --workload rand
    done
    GPREFIX=()
    bl_wait_connected $((nb + NPROBE)) 60
}

# probes: each probe guest in turn, alone; sc0's counters around each.
probes() {
    local i d
    for i in $(seq 0 $((NPROBE - 1))); do
        d=${PROBE_IDS[i]}
        ctl cores --json >"$CELL_DIR/probe-$d.cores0.json" 2>/dev/null || true
        release_guest "$d"
        bl_read_signals 1 d $((PROBE_S + 30)) || { echo "$BL_NAME: probe $d did not end" >&2; return 1; }
        ctl cores --json >"$CELL_DIR/probe-$d.cores1.json" 2>/dev/null || true
    done
}

# sample T_MS GUESTS: one line of the ramp's samples (rampbench-report.pl
# says what is in it).
sample() {
    perl -MJSON::PP -e '
        my ($t, $g, $st, $co, $qu) = @ARGV;
        my ($s, $c, $q) = map { eval { decode_json($_) } } $st, $co, $qu;
        exit 0 unless $s && $c && $q;
        my $rb = $s->{rebalance};
        my $req = 0; $req += $_->{requests} // 0 for @$q;
        print join(" ", $t, $g, $rb->{active_cores}, $rb->{cores_added}, $rb->{cores_parked},
            $req, map({ ($_->{active} ? 1 : 0, $_->{busy_ns}, $_->{busy_ns} + $_->{idle_ns}
                         + $_->{sleep_ns}, $_->{queues}) } @$c),
            map { (my $n = $_->{name}) =~ s/\s+/_/g; "$n=" . ($_->{requests} // 0) } @$q), "\n";' \
        "$1" "$2" "$(ctl status --json 2>/dev/null)" "$(ctl cores --json 2>/dev/null)" \
        "$(ctl queues --json 2>/dev/null)"
}

active_cores() { ctl status --json 2>/dev/null | perl -MJSON::PP -0777 -ne \
    'my $j = eval { decode_json($_) } or exit 1; print $j->{rebalance}{active_cores}'; }

# The ramp: release busy guest k at k steps; sample until every busy guest
# ended and the cores are back to the minimum (at most 20 s after).
ramp() {
    local t0 now ms k=0 g=0 ticks_per_step=$((STEP * 4)) tick=0 end_ms ended=0
    local -a busy=("${DOMIDS[@]}")
    end_ms=$(((2 * NBUSY - 1) * STEP * 1000))
    t0=$(bl_now_ns)
    echo "$t0" >"$CELL_DIR/ramp.t0"
    : >"$CELL_DIR/samples"
    while :; do
        if [ "$k" -lt "$NBUSY" ] && [ $((tick % ticks_per_step)) -eq 0 ]; then
            release_guest "${busy[k]}"
            k=$((k + 1))
        fi
        now=$(bl_now_ns)
        ms=$(((now - t0) / 1000000))
        # busy guests running by the schedule: up k, then down
        local s=$((ms / (STEP * 1000)))
        if [ "$s" -lt "$NBUSY" ]; then g=$((s + 1)); else g=$((2 * NBUSY - 1 - s)); fi
        [ "$g" -ge 0 ] || g=0
        sample "$ms" "$g" >>"$CELL_DIR/samples"
        if [ "$ms" -ge "$end_ms" ]; then
            [ "$ended" = 1 ] || { bl_read_signals "$NBUSY" d 30 || true; ended=1; }
            # back to the minimum: one last sample says so
            if [ "$(active_cores || echo 0)" = 1 ] || [ "$ms" -ge $((end_ms + 20000)) ]; then
                sample $((($(bl_now_ns) - t0) / 1000000)) 0 >>"$CELL_DIR/samples"
                break
            fi
        fi
        tick=$((tick + 1))
        sleep "$(perl -e 'my $d = ($ARGV[0] * 250 - ($ARGV[1] - $ARGV[2]) / 1e6) / 1000;
            printf "%.3f", $d > 0 ? $d : 0' "$tick" "$(bl_now_ns)" "$t0")"
    done
    bl_now_ns >"$CELL_DIR/ramp.t1"
}

status=0
for r in $(seq 1 "$ROUNDS"); do
    echo "$BL_NAME: round $r: ramp (idle, probes, $NBUSY busy guests up and down, idle)" >&2
    if world "ramp-r$r" "$NBUSY" "${SD_ARGS[@]}"; then
        sleep 1
        idle_window "$CELL_DIR/idle-before" &&
            probes && ramp && idle_window "$CELL_DIR/idle-after" || status=1
        ctl status --json >"$CELL_DIR/status.json" 2>/dev/null || true
    else
        status=1
    fi
    bl_stop_world
    echo "$BL_NAME: round $r: probes against a polling sidecore" >&2
    if world "poll-r$r" 0 "${SD_ARGS[@]}" --poll-window fixed --poll-idle-us 1000000; then
        sleep 1
        probes || status=1
    else
        status=1
    fi
    bl_stop_world
    echo "$BL_NAME: round $r: floor (wakefloor)" >&2
    mkdir -p "$WORK/cells/floor-r$r"
    for t in "${THINKS[@]}"; do
        "$BIN/wakefloor" --think-us "$t" --seconds "$PROBE_S" --cpus 1,0 \
            >"$WORK/cells/floor-r$r/floor-$t.json" || status=1
    done
done

perl tools/bench/rampbench-report.pl --rounds "$ROUNDS" --json "$JSON" --guests "$NBUSY" \
    --step "$STEP" --spin-ns "$SPIN" --interval-ms "$INTERVAL_MS" "$WORK/cells" || status=1
exit $status
