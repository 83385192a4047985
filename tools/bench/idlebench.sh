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
# shellcheck source-path=SCRIPTDIR source=benchlib.sh
. "$HERE/benchlib.sh"

GUESTS=0,1,16,64
WINDOW=3
ROUNDS=1
BACKENDS=sidecore,floor
POLL_IDLE_US=10000000
JSON_OUT=""

bl_parse_opts --guests=GUESTS --seconds=WINDOW --rounds=ROUNDS --backends=BACKENDS \
    --poll-idle-us=POLL_IDLE_US --json=JSON_OUT --keep=KEEP --pin=PIN --profile=PROFILE -- "$@"
[[ $WINDOW =~ ^[1-9][0-9]*$ ]] || bl_die "--seconds: a whole number of seconds, 1 or more"
[[ $POLL_IDLE_US =~ ^[1-9][0-9]*$ ]] || bl_die "--poll-idle-us: a positive number"
bl_cell_lists 0 0,1,16 sidecore floor
bl_prepare xensimd xensimctl sidecored sidecorectl echoback blkguest

# core_field KEY: KEY of the first core in `sidecorectl cores --json`.
core_field() {
    "$BIN/sidecorectl" cores --json 2>/dev/null |
        perl -MJSON::PP -0777 -ne 'my $j = eval { decode_json($_) } or exit 1;
            exit 1 unless @$j; print $j->[0]{'"$1"'} // 0'
}

# run_cell N BACKEND ROUND: the backend and N idle guests in the world
# bl_run_cells started, two snapshots --seconds apart into CELL_DIR.
run_cell() {
    local n=$1 backend=$2 round=$3
    local prog=sidecored
    [ "$backend" = floor ] && prog=echoback
    local t_ready rc=0 poked=0
    bl_backend_start "$CELL_DIR/backend.log" "$BIN/$prog" --mode poll --cores 1 \
        --poll-idle-us "$POLL_IDLE_US" --log-level warn || return 1
    t_ready=$(bl_now_ns)
    if [ "$n" -gt 0 ]; then
        # blkguest connects, says "c", then blocks on the start barrier:
        # never released, its rings stay idle until it is killed.
        bl_guests_start "$CELL_DIR" --seconds 1
        bl_wait_connected "$n" 120 || return 1
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
        [ "$asleep" = 1 ] || echo "idlebench: $CELL: the core never slept" >&2
        "$BIN/sidecorectl" set-tenant "${DOMIDS[0]:-0}" weight=100 >/dev/null ||
            echo "idlebench: $CELL: could not wake the core" >&2
        poked=1
    fi
    bl_perf_start first
    bl_sample "$CELL_DIR/s0"
    sleep "$WINDOW"
    bl_sample "$CELL_DIR/s1"
    bl_stop_perf
    local alive=1
    kill -0 "$BE_PID" 2>/dev/null || { echo "idlebench: $backend died" >&2; alive=0; rc=1; }
    cat >"$CELL_DIR/meta.json" <<EOF
{"guests":$n,"backend":"$backend","round":$round,"connect_ms":$connect_ms,"poked":$poked,"poll_idle_us":$POLL_IDLE_US,"backend_alive":$alive}
EOF
    return $rc
}

echo "idlebench: ${GUESTS} idle guests x {${BACKENDS}} x $ROUNDS round(s): $NCELLS cells," \
     "windows of $WINDOW s, poll window $POLL_IDLE_US us, $NCPU CPUs, pinned: $PIN" >&2
status=0
bl_run_cells "idle guests" || status=1

perl "$HERE/idlebench-report.pl" --seconds "$WINDOW" --pin "$PIN" --json "$JSON_OUT" \
    "$WORK/cells" || status=1
exit $status
