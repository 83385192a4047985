#!/bin/bash
# blkbench - sidecore's block benchmark (make bench): N guests with a null
# disk each, served by three backends in the same run:
#   sidecore  sidecored --mode poll   (polling sidecores, kicks off while polling)
#   event     sidecored --mode event  (a thread per queue woken by its event
#                                      channel: the Linux blkback model)
#   floor     echoback                (same daemon and poll loop, answers
#                                      OKAY with no validation and no I/O)
#
#   tools/bench/blkbench.sh [--guests 1,4,16,64] [--seconds 5] [--bs 4k]
#       [--qd 16] [--rw randread|randwrite|seqread|seqwrite|mix|mix:R]
#       [--backends sidecore,event,floor] [--rounds 1] [--cores 1]
#       [--pin yes|no] [--json FILE] [--keep DIR] [--profile DIR]
#
# --pin yes (the default with 2 CPUs or more): the backend process, all its
# threads, runs on the last CPU and the guests on the others, as a driver
# domain with a dedicated vCPU; without it 64 guest processes and one
# polling thread share the CPUs as equals, and the scheduler, not the
# backend, decides the figures.
# Each cell (guest count x backend x round) is a fresh xensim world: N
# guests created, each given `null:1G` with xensimctl vbd-attach, the backend
# started, then N blkguest processes (tools/bench/blkguest.c: simblkfront's
# frontend library with a start barrier, no data copied, no verification)
# connect, and once all are connected are released together to run the
# workload for S seconds.
# Cells run interleaved (for each guest count, every backend in turn; even
# rounds reverse the order) so the machine's noise hits all alike.
# Measured per cell:
#   IOPS, MB/s          sum over guests (all ran over the same S seconds)
#   backend CPU s       utime+stime of the backend process (all its threads)
#                       from /proc/PID/stat, from the release of the guests
#                       until the last one finished its I/O
#   requests/CPU-s      completed requests / backend CPU seconds
#   kicks/req           frontend kicks sent / requests (sum over guests)
#   notifies/rsp        backend notifications (kicks the frontends received)
#                       / responses
#   p50, p99            median over guests of each guest's own percentile
#   Jain                Jain's fairness index over per-guest IOPS
#   core busy ns/req    the sidecores' busy_ns (sidecorectl cores: the wall
#                       time of rounds that moved a request or reaped a
#                       completion) over the same span / requests; echoback
#                       runs the same loop and answers sidecorectl too, so
#                       sidecore/floor compares like with like.  (wall) as
#                       counted; (on-CPU est.) scaled by the core thread's
#                       on-CPU share of its rounds' time (schedstat), which
#                       takes out time preempted by other processes
#   core CPU ns/req     the sidecore threads' on-CPU time (schedstat) / req.
#                       (idle polling included)
#   core busy %         busy_ns / (busy + idle + sleep ns)
#   requests/busy round requests / busy rounds: the batch a round handles
# (No core figures for event mode: its threads end with their queue, and
# the guests disconnect before the second snapshot.)
# --profile DIR: perf record -e cpu-clock -g of the sidecore threads over
# each cell's I/O span, into DIR/CELL.perf.data (tools/bench/profile.sh
# drives it and summarises; perf's own cost then weighs on that cell).
# Prints one table per guest count (backends side by side, ratios sidecore
# vs event and vs floor) and, with --json, every cell and aggregate.
# Cleans up every process and world on exit (also on Ctrl-C).
# Needs: the built programs in $SC_BUILD/bin (default ./build), perl.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=benchlib.sh
. "$HERE/benchlib.sh"

GUESTS=1,4,16,64
SECONDS_PER_CELL=5
BS=4k
QD=16
RW=randread
BACKENDS=sidecore,event,floor
ROUNDS=1
CORES=1
JSON_OUT=""
GUEST_MEM=16

bl_parse_opts --guests=GUESTS --seconds=SECONDS_PER_CELL --bs=BS --qd=QD --rw=RW \
    --backends=BACKENDS --rounds=ROUNDS --cores=CORES --json=JSON_OUT --keep=KEEP --pin=PIN \
    --profile=PROFILE -- "$@"
case $RW in
randread) WL=rand; FRW="read" ;;
randwrite) WL=rand; FRW="write" ;;
seqread) WL=seq; FRW="read" ;;
seqwrite) WL=seq; FRW="write" ;;
mix) WL=rand; FRW=mix:70 ;;
mix:*) WL=rand; FRW=$RW ;;
*) bl_die "--rw: randread, randwrite, seqread, seqwrite, mix or mix:READPCT" ;;
esac
[[ $SECONDS_PER_CELL =~ ^[0-9]+(\.[0-9]+)?$ ]] || bl_die "--seconds: a number"
[[ $QD =~ ^[1-9][0-9]*$ ]] || bl_die "--qd: a positive number"
bl_cell_lists 1 1,4,16 sidecore event floor
bl_prepare xensimd xensimctl sidecored echoback blkguest

# run_cell N BACKEND ROUND: the backend and N guests in the world
# bl_run_cells started, released together; results in CELL_DIR.
run_cell() {
    local n=$1 backend=$2 round=$3
    local be_cmd
    case $backend in
    sidecore) be_cmd=("$BIN/sidecored" --mode poll --cores "$CORES") ;;
    event) be_cmd=("$BIN/sidecored" --mode event) ;;
    floor) be_cmd=("$BIN/echoback" --mode poll --cores "$CORES") ;;
    esac
    bl_backend_start "$CELL_DIR/backend.log" "${be_cmd[@]}" --log-level warn || return 1

    # Each guest connects, says "c" and blocks on the barrier; once all are
    # connected one byte each releases them together; "d": its I/O ended.
    bl_guests_start "$CELL_DIR" --workload "$WL" --rw "$FRW" --bs "$BS" --qd "$QD" \
        --seconds "$SECONDS_PER_CELL"
    local c0 t0 c1 t1 rc=0 failed=0 p connect_ms
    t0=$(bl_now_ns)
    bl_wait_connected "$n" 90 || rc=1
    connect_ms=$((($(bl_now_ns) - t0) / 1000000))
    # event mode's threads exist once their queue is connected: now
    bl_perf_start all
    bl_sample "$CELL_DIR/s0"
    c0=$(bl_cpu_ticks "$BE_PID")
    t0=$(bl_now_ns)
    bl_release "$n"
    bl_read_signals "$GOT" d $((${SECONDS_PER_CELL%.*} + 30)) || rc=1
    c1=$(bl_cpu_ticks "$BE_PID")
    t1=$(bl_now_ns)
    bl_sample "$CELL_DIR/s1"
    bl_stop_perf
    for p in "${GUEST_PIDS[@]}"; do
        wait "$p" || failed=$((failed + 1))
    done
    GUEST_PIDS=()
    local alive=1
    kill -0 "$BE_PID" 2>/dev/null || { echo "blkbench: $backend died" >&2; alive=0; rc=1; }
    cat >"$CELL_DIR/meta.json" <<EOF
{"guests":$n,"backend":"$backend","round":$round,"cpu_ticks":$((c1 - c0)),"clk_tck":$CLK_TCK,"wall_ns":$((t1 - t0)),"failed_guests":$failed,"connect_ms":$connect_ms,"backend_alive":$alive}
EOF
    return $rc
}

echo "blkbench: ${GUESTS} guests x {${BACKENDS}} x $ROUNDS round(s): $NCELLS cells of" \
     "${SECONDS_PER_CELL} s, $BS $RW qd $QD, null:1G disks, $NCPU CPUs, pinned: $PIN" >&2
status=0
bl_run_cells guests || status=1

perl "$HERE/blkbench-report.pl" \
    --bs "$BS" --rw "$RW" --qd "$QD" --seconds "$SECONDS_PER_CELL" --cores "$CORES" --pin "$PIN" \
    --json "$JSON_OUT" "$WORK/cells" || status=1
exit $status
