#!/bin/bash
# idlebench - what an empty round of a sidecore's poll loop costs, as a
# whole and per polled queue, with 0, 1, 16, 64 connected guests whose
# rings stay idle (make bench).
#
#   tools/bench/idlebench.sh [--guests 0,1,16,64] [--seconds 3] [--rounds 1]
#       [--backends sidecore,floor] [--poll-idle-us 10000000] [--pin yes|no]
#       [--json FILE] [--keep DIR] [--profile DIR]
#
# Each cell (guest count x backend x round) is a fresh xensim world: N
# guests with a null:1G disk each, the backend in poll mode with one
# sidecore and a poll window of --poll-idle-us (so it keeps polling and
# never sleeps), N blkguest processes that connect and are never released
# from their start barrier (benchlib.sh): N queues connected, no request.
# Then two snapshots of the sidecore (sidecorectl cores --json and its
# thread's on-CPU time from /proc/PID/task/TID/schedstat), --seconds apart.
#   sidecore  sidecored --mode poll --cores 1 (blkback's queues)
#   floor     echoback --mode poll --cores 1  (same loop, a minimal queue)
# Measured per cell, over the window:
#   CPU ns/round      the sidecore thread's on-CPU ns (schedstat) / rounds:
#                     the whole loop, accounting and poll-window check
#                     included, blind to time spent preempted
#   wall ns/round     idle_ns / idle rounds: the loop's own account of a
#                     round's wall time (sidecore_loop.c: clock read at the
#                     top of a round to clock read at its end); it counts
#                     preemption, so on a loaded machine compare CPU ns
#   .../queue         per round / N
#   marginal .../queue (per round at N - per round at 0) / N: what one more
#                     polled queue adds, without the fixed cost of a round
#   CPU % of wall     the thread's on-CPU share of the window: below ~95,
#                     something else shared the backend's CPU
# A window in which the core slept or found work is reported (WARNING): its
# figures are not an empty loop's.  The poll window counts from the core's
# last wake or work: if the guests took too long to connect for the window
# to fit, the script waits for the core to sleep once, then wakes it with a
# no-op command (sidecorectl set-tenant DOMID weight=100, the default).
# --profile DIR: perf record -e cpu-clock -g of the sidecore thread over
# each window, into DIR/CELL.perf.data (tools/bench/profile.sh --idle N
# drives it; perf's sampling then adds to the figures of that run).
# Prints one table and, with --json, every cell and aggregate.
# Needs: the built programs in $SC_BUILD/bin (default ./build), perl.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SC_BUILD=${SC_BUILD:-$(pwd)/build}
BIN=$SC_BUILD/bin

GUESTS=0,1,16,64
WINDOW=3
ROUNDS=1
BACKENDS=sidecore,floor
POLL_IDLE_US=10000000
JSON_OUT=""
KEEP=""
PROFILE=""
NCPU=$(nproc)
PIN=$([ "$NCPU" -ge 2 ] && echo yes || echo no)

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

die() { echo "idlebench: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
    --guests) GUESTS=$2; shift 2 ;;
    --seconds) WINDOW=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --backends) BACKENDS=$2; shift 2 ;;
    --poll-idle-us) POLL_IDLE_US=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    --pin) PIN=$2; shift 2 ;;
    --profile) PROFILE=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (--help)" ;;
    esac
done

[[ $GUESTS =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--guests: a list like 0,1,16"
[[ $WINDOW =~ ^[1-9][0-9]*$ ]] || die "--seconds: a whole number of seconds, 1 or more"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds: a positive number"
[[ $POLL_IDLE_US =~ ^[1-9][0-9]*$ ]] || die "--poll-idle-us: a positive number"
IFS=, read -r -a GUEST_LIST <<<"$GUESTS"
IFS=, read -r -a BACKEND_LIST <<<"$BACKENDS"
for b in "${BACKEND_LIST[@]}"; do
    case $b in sidecore|floor) ;; *) die "--backends: sidecore, floor" ;; esac
done
for n in "${GUEST_LIST[@]}"; do
    [ "$n" -le 1000 ] || die "--guests: 0..1000 each"
done
case $PIN in yes|no) ;; *) die "--pin: yes or no" ;; esac
BE_TASKSET=()
GUEST_TASKSET=()
if [ "$PIN" = yes ]; then
    [ "$NCPU" -ge 2 ] || die "--pin yes needs 2 CPUs or more"
    BE_TASKSET=(taskset -c $((NCPU - 1)))
    GUEST_TASKSET=(taskset -c 0-$((NCPU - 2)))
fi
for p in xensimd xensimctl sidecored sidecorectl echoback blkguest; do
    [ -x "$BIN/$p" ] || die "$BIN/$p is missing (run make first, or set SC_BUILD)"
done
command -v perl >/dev/null || die "perl is needed for the report"
if [ -n "$PROFILE" ]; then
    command -v perf >/dev/null || die "--profile needs perf (Debian: apt-get install linux-perf)"
    mkdir -p "$PROFILE" && PROFILE=$(cd "$PROFILE" && pwd)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/idlebench.XXXXXX")
# shellcheck source-path=SCRIPTDIR source=benchlib.sh
. "$HERE/benchlib.sh"

cleanup() {
    bl_stop_world
    if [ -n "$KEEP" ]; then
        mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/ && echo "idlebench: cells kept in $KEEP" >&2
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# core_field KEY: KEY of the first core in `sidecorectl cores --json`.
core_field() {
    "$BIN/sidecorectl" cores --json 2>/dev/null |
        perl -MJSON::PP -0777 -ne 'my $j = eval { decode_json($_) } or exit 1;
            exit 1 unless @$j; print $j->[0]{'"$1"'} // 0'
}

# run_cell N BACKEND ROUND: one fresh world, results in $WORK/cells/...
run_cell() {
    local n=$1 backend=$2 round=$3
    local cell=n$n-$backend-r$round
    local dir=$WORK/cells/$cell
    bl_world_start "$cell" "$n" "$dir" || return 1
    local prog=sidecored
    [ "$backend" = floor ] && prog=echoback
    local t_ready rc=0 poked=0
    bl_backend_start "$dir/backend.log" "$BIN/$prog" --mode poll --cores 1 \
        --poll-idle-us "$POLL_IDLE_US" --log-level warn || return 1
    t_ready=$(bl_now_ns)
    if [ "$n" -gt 0 ]; then
        # blkguest connects, says "c", then blocks on the start barrier:
        # never released, its rings stay idle until it is killed.
        bl_guests_start "$dir" --seconds 1
        if ! bl_read_signals "$n" c 120; then
            echo "idlebench: only $GOT of $n guests connected" >&2
            return 1
        fi
    fi
    local connect_ms=$((($(bl_now_ns) - t_ready) / 1000000))
    # The window must end within the poll window, which runs from the core's
    # start (or last wake): otherwise let it sleep once and wake it.
    if [ $((connect_ms * 1000 + (WINDOW + 1) * 1000000)) -gt "$POLL_IDLE_US" ]; then
        # asleep: its rounds stop (the sleeps counter moves only on waking)
        local i r0 r1 asleep=0
        r0=$(core_field rounds || echo 0)
        for i in $(seq $((POLL_IDLE_US / 250000 + 20))); do
            sleep 0.25
            r1=$(core_field rounds || echo 0)
            [ "$r1" = "$r0" ] && { asleep=1; break; }
            r0=$r1
        done
        [ "$asleep" = 1 ] || echo "idlebench: $cell: the core never slept" >&2
        "$BIN/sidecorectl" set-tenant "${DOMIDS[0]:-0}" weight=100 >/dev/null ||
            echo "idlebench: $cell: could not wake the core" >&2
        poked=1
    fi
    local perf_pid="" tid
    if [ -n "$PROFILE" ]; then
        tid=$(bl_core_threads "$BE_PID" | awk 'NR == 1 {print $1}')
        perf record -q -e cpu-clock -g -t "$tid" -o "$PROFILE/$cell.perf.data" \
            2>"$dir/perf.log" &
        perf_pid=$!
        sleep 0.5 # perf attaches
    fi
    bl_sample "$dir/s0"
    sleep "$WINDOW"
    bl_sample "$dir/s1"
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" 2>/dev/null || true
    fi
    local alive=1
    kill -0 "$BE_PID" 2>/dev/null || { echo "idlebench: $backend died" >&2; alive=0; rc=1; }
    cat >"$dir/meta.json" <<EOF
{"guests":$n,"backend":"$backend","round":$round,"connect_ms":$connect_ms,"poked":$poked,"poll_idle_us":$POLL_IDLE_US,"backend_alive":$alive}
EOF
    bl_stop_world
    return $rc
}

NCELLS=$((${#GUEST_LIST[@]} * ${#BACKEND_LIST[@]} * ROUNDS))
echo "idlebench: ${GUESTS} idle guests x {${BACKENDS}} x $ROUNDS round(s): $NCELLS cells," \
     "windows of $WINDOW s, poll window $POLL_IDLE_US us, $NCPU CPUs, pinned: $PIN" >&2
cell=0
status=0
for n in "${GUEST_LIST[@]}"; do
    for round in $(seq 1 "$ROUNDS"); do
        order=("${BACKEND_LIST[@]}")
        if [ $((round % 2)) -eq 0 ]; then
            order=()
            for ((i = ${#BACKEND_LIST[@]} - 1; i >= 0; i--)); do order+=("${BACKEND_LIST[i]}"); done
        fi
        for backend in "${order[@]}"; do
            cell=$((cell + 1))
            printf 'idlebench: [%d/%d] %d idle guests, %s, round %d\n' "$cell" "$NCELLS" "$n" \
                "$backend" "$round" >&2
            run_cell "$n" "$backend" "$round" || status=1
            bl_stop_world # also after a cell that failed half-way
        done
    done
done

perl "$HERE/idlebench-report.pl" --seconds "$WINDOW" --pin "$PIN" --json "$JSON_OUT" \
    "$WORK/cells" || status=1
exit $status
