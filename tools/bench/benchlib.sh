# shellcheck shell=bash disable=SC2034  # (a library: its variables are the callers')
# benchlib.sh - the pieces blkbench.sh, idlebench.sh and profile.sh share:
# the command line (bl_parse_opts, bl_usage, bl_die), a xensim world with N
# guests (a null disk each), a backend on its own CPU, blkguest processes
# behind a start barrier, snapshots of the backend's sidecores, perf over a
# cell, and the loop over the cells.  Sourced (bash), not run.
#
# Sets BIN ($SC_BUILD/bin, default ./build/bin) and the defaults of PIN,
# PROFILE and KEEP, options the caller may set before bl_prepare; the
# caller sets GUESTS, BACKENDS and ROUNDS before bl_cell_lists, and
# defines run_cell for bl_run_cells.  bl_prepare sets WORK (a scratch
# directory), BE_TASKSET / GUEST_TASKSET (arrays, possibly empty: the
# taskset prefixes for the backend and the guests) and the exit trap that
# stops everything.  State kept here, one world at a time:
#   SIM_PID BE_PID GUEST_PIDS  the processes of the world
#   DOMIDS                     the guests' domain ids, in creation order
#   SIM                        the world's directory ($XENSIM_DIR)
#   GOT                        what the last bl_read_signals counted
#   CELL CELL_DIR PERF_PID     the cell bl_run_cells runs, perf over it
# Guests talk to the caller through two FIFOs held open read-write here
# (so no open blocks and nothing written is lost): fd 6, where each guest
# writes "c" once connected ("f" if it failed) and "d" when its I/O ended,
# and fd 5, one byte of which releases a guest.  A guest never released
# stays connected with idle rings: the idle benchmark's guests.

BL_NAME=$(basename "$0" .sh)    # what messages start with
SC_BUILD=${SC_BUILD:-$(pwd)/build}
BIN=$SC_BUILD/bin               # the built programs
SIM_PID=""
BE_PID=""
GUEST_PIDS=()
DOMIDS=()
SIM=""
GOT=0
CELL=""
CELL_DIR=""
PERF_PID=""
WORK=""
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
# The options bl_prepare reads, with their defaults:
PIN=$([ "$NCPU" -ge 2 ] && echo yes || echo no)   # the backend on a CPU of its own
PROFILE=""                                        # perf.data files go there
KEEP=""                                           # the cells are copied there

# The script's header comment, from line 2 to `set -euo`, as its help.
bl_usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

bl_die() { echo "$BL_NAME: $*" >&2; exit 2; }

# bl_parse_opts --NAME=VAR... -- ARGS...: each --NAME of ARGS takes a value,
# stored in VAR (a global); -h/--help prints bl_usage and exits 0; anything
# else is a usage error.
bl_parse_opts() {
    local -A bl_var=()
    while [ "$1" != -- ]; do
        bl_var[${1%%=*}]=${1#*=}
        shift
    done
    shift
    while [ $# -gt 0 ]; do
        case $1 in -h|--help) bl_usage; exit 0 ;; esac
        [[ -n $1 && -n ${bl_var[$1]:-} ]] || bl_die "unknown option '$1' (--help)"
        [ $# -ge 2 ] || bl_die "$1 needs a value"
        printf -v "${bl_var[$1]}" '%s' "$2"
        shift 2
    done
}

# bl_cell_lists MIN_GUESTS EXAMPLE BACKEND...: GUEST_LIST and BACKEND_LIST
# from GUESTS and BACKENDS (comma lists: guest counts from MIN_GUESTS to
# 1000, EXAMPLE shown when malformed; backends among the BACKENDs), ROUNDS
# checked, NCELLS the number of cells (guest count x backend x round).
bl_cell_lists() {
    local min=$1 example=$2 b n allowed
    shift 2
    allowed=$(printf '%s, ' "$@")
    [[ $GUESTS =~ ^[0-9]+(,[0-9]+)*$ ]] || bl_die "--guests: a list like $example"
    [[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || bl_die "--rounds: a positive number"
    IFS=, read -r -a GUEST_LIST <<<"$GUESTS"
    IFS=, read -r -a BACKEND_LIST <<<"$BACKENDS"
    for b in "${BACKEND_LIST[@]}"; do
        [[ " $* " == *" $b "* ]] || bl_die "--backends: ${allowed%, }"
    done
    for n in "${GUEST_LIST[@]}"; do
        if [ "$n" -lt "$min" ] || [ "$n" -gt 1000 ]; then bl_die "--guests: $min..1000 each"; fi
    done
    NCELLS=$((${#GUEST_LIST[@]} * ${#BACKEND_LIST[@]} * ROUNDS))
}

# bl_prepare PROG...: checks PIN and sets the tasksets, checks that the
# programs PROG are built and perl is there (and perf with PROFILE, made
# absolute), creates WORK and sets the traps: on exit everything started
# here is stopped, WORK copied to KEEP (if set) and removed.
bl_prepare() {
    local p
    case $PIN in yes|no) ;; *) bl_die "--pin: yes or no" ;; esac
    BE_TASKSET=()
    GUEST_TASKSET=()
    if [ "$PIN" = yes ]; then
        [ "$NCPU" -ge 2 ] || bl_die "--pin yes needs 2 CPUs or more"
        BE_TASKSET=(taskset -c $((NCPU - 1)))
        GUEST_TASKSET=(taskset -c 0-$((NCPU - 2)))
    fi
    for p in "$@"; do
        [ -x "$BIN/$p" ] || bl_die "$BIN/$p is missing (run make first, or set SC_BUILD)"
    done
    command -v perl >/dev/null || bl_die "perl is needed for the report"
    if [ -n "$PROFILE" ]; then
        command -v perf >/dev/null ||
            bl_die "--profile needs perf (Debian: apt-get install linux-perf)"
        mkdir -p "$PROFILE" && PROFILE=$(cd "$PROFILE" && pwd)
    fi
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$BL_NAME.XXXXXX")
    trap bl_cleanup EXIT
    trap 'exit 130' INT TERM
}

bl_cleanup() {
    bl_stop_perf
    bl_stop_world
    if [ -n "$KEEP" ]; then
        mkdir -p "$KEEP" && cp -r "$WORK"/. "$KEEP"/ && echo "$BL_NAME: cells kept in $KEEP" >&2
    fi
    rm -rf "$WORK"
}

bl_stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    # give it 5 s to shut down cleanly, then insist
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Stops the guests, the backend and xensimd, closes the FIFOs, removes the
# world's directory.  Safe to call twice.
bl_stop_world() {
    local p
    for p in "${GUEST_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${GUEST_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    GUEST_PIDS=()
    bl_stop_pid "$BE_PID"; BE_PID=""
    bl_stop_pid "$SIM_PID"; SIM_PID=""
    exec 5>&- 6>&-
    unset XENSIM_DIR
    [ -z "$SIM" ] || rm -rf "$SIM"
    SIM=""
    DOMIDS=()
}

bl_wait_file() { # file pattern timeout_s
    local i
    for i in $(seq $(($3 * 20))); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

bl_now_ns() { date +%s%N; }

# utime + stime of a process (all its threads), in clock ticks.
bl_cpu_ticks() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    stat=${stat##*) }               # fields after "pid (comm) "
    # shellcheck disable=SC2086  # split into fields on purpose
    set -- $stat                    # $1 is field 3 (state)
    echo $((${12} + ${13}))         # fields 14 and 15
}

# bl_read_signals COUNT CHAR TIMEOUT_S: reads guest signals from fd 6 until
# COUNT of CHAR came ("f", a failed connect, counts as a guest gone).  Sets
# GOT to the number of CHAR seen; 1 if the time ran out or a guest failed.
bl_read_signals() {
    local want=$1 ch=$2 deadline=$(($(date +%s) + $3)) seen=0 c fails=0
    while [ $((seen + fails)) -lt "$want" ]; do
        [ "$(date +%s)" -lt "$deadline" ] || break
        IFS= read -r -N 1 -t 1 -u 6 c || continue
        if [ "$c" = "$ch" ]; then seen=$((seen + 1)); elif [ "$c" = f ]; then fails=$((fails + 1)); fi
    done
    GOT=$seen
    [ "$seen" -eq "$want" ]
}

# bl_world_start NAME N LOGDIR: xensimd in $WORK/sim-NAME and N guests of
# GUEST_MEM MiB (default 16), each given a null:1G disk (or $BL_TARGET) as
# xvda (vdev 51712).  Exports XENSIM_DIR; sets SIM_PID, SIM, DOMIDS.
bl_world_start() {
    local name=$1 n=$2 logdir=$3 i domid
    SIM=$WORK/sim-$name
    mkdir -p "$SIM" "$logdir"
    "$BIN/xensimd" --dir "$SIM" --dom0-mem 64 --exit-with-parent 3>"$SIM/ready" --ready-fd 3 \
        2>"$logdir/xensimd.log" &
    SIM_PID=$!
    bl_wait_file "$SIM/ready" ready 10 || { echo "bench: xensimd did not start" >&2; return 1; }
    export XENSIM_DIR=$SIM
    DOMIDS=()
    for i in $(seq 1 "$n"); do
        domid=$("$BIN/xensimctl" create "guest$i" --mem "${GUEST_MEM:-16}") || return 1
        "$BIN/xensimctl" vbd-attach "$domid" --backend-domid 0 --target "${BL_TARGET:-null:1G}" --vdev xvda \
            >/dev/null || return 1
        DOMIDS+=("$domid")
    done
}

# bl_backend_start LOG PROGRAM ARGS...: the backend on BE_TASKSET, waits for
# its readiness.  Sets BE_PID.
bl_backend_start() {
    local log=$1
    shift
    "${BE_TASKSET[@]}" "$@" 3>"$SIM/be-ready" --ready-fd 3 2>"$log" &
    BE_PID=$!
    bl_wait_file "$SIM/be-ready" ready 10 || { echo "bench: $1 did not start" >&2; return 1; }
}

# bl_guests_start OUTDIR BLKGUEST_ARGS...: one blkguest per guest on
# GUEST_TASKSET, behind the barrier (fds 5 and 6 opened here); each one's
# JSON goes to OUTDIR/guest-DOMID.json.  Appends to GUEST_PIDS.  With
# BL_ONLY set (domids, space-separated) only those guests; called again in
# one world, it starts more guests (other arguments) behind the same barrier.
bl_guests_start() {
    local out=$1 domid ids
    shift
    local ready=$SIM/ready.fifo go=$SIM/go.fifo
    if [ ! -p "$ready" ]; then
        mkfifo "$ready" "$go"
        exec 5<>"$go" 6<>"$ready"
    fi
    ids=("${DOMIDS[@]}")
    [ -z "${BL_ONLY:-}" ] || read -r -a ids <<<"$BL_ONLY"
    for domid in "${ids[@]}"; do
        "${GUEST_TASKSET[@]}" "$BIN/blkguest" --dir "$SIM" --domid "$domid" --vdev 51712 \
            --ready-fd 6 --start-fd 5 "$@" >"$out/guest-$domid.json" \
            2>"$out/guest-$domid.err" &
        GUEST_PIDS+=($!)
    done
}

# bl_release N: lets N guests start their I/O.
bl_release() { printf '%*s' "$1" '' >&5; }

# bl_core_threads PID: one line "tid comm on-cpu-ns" per sidecore thread of
# the process (named sc<i> in poll mode, ev<i> in event mode).  The on-CPU
# time is the scheduler's own account (/proc/.../schedstat, nanoseconds),
# finer than utime+stime's clock ticks and blind to time spent preempted.
bl_core_threads() {
    local t comm ns rest
    for t in /proc/"$1"/task/*; do
        comm=$(cat "$t/comm" 2>/dev/null) || continue
        [[ $comm =~ ^(sc|ev)[0-9]+$ ]] || continue
        read -r ns rest <"$t/schedstat" 2>/dev/null || continue
        echo "${t##*/} $comm $ns"
    done
}

# bl_sample PREFIX: a snapshot of the backend's sidecores: PREFIX.cores.json
# (sidecorectl cores --json: rounds, busy/idle/sleep ns...), PREFIX.threads
# (bl_core_threads) and PREFIX.t (monotonic-ish wall ns).  Both backends
# (sidecored and echoback) answer sidecorectl on $XENSIM_DIR/sidecored.sock.
bl_sample() {
    local prefix=$1
    bl_now_ns >"$prefix.t"
    "$BIN/sidecorectl" cores --json >"$prefix.cores.json" 2>"$prefix.cores.err" || true
    bl_core_threads "$BE_PID" >"$prefix.threads" || true
}

# bl_wait_connected N TIMEOUT_S: waits for the N guests' "c"; says how many
# connected and returns 1 if not all did in time.
bl_wait_connected() {
    bl_read_signals "$1" c "$2" && return 0
    echo "$BL_NAME: only $GOT of $1 guests connected" >&2
    return 1
}

# bl_perf_start first|all: with PROFILE set, perf record -e cpu-clock -g of
# the backend's first sidecore thread, or all of them, into
# PROFILE/CELL.perf.data, until bl_stop_perf.  Sets PERF_PID.
bl_perf_start() {
    [ -n "$PROFILE" ] || return 0
    local tids
    tids=$(bl_core_threads "$BE_PID" | awk '{print $1}' | paste -sd, -)
    [ "$1" = all ] || tids=${tids%%,*}
    [ -n "$tids" ] || return 0
    perf record -q -e cpu-clock ${BL_PERF_CG:--g} -t "$tids" -o "$PROFILE/$CELL.perf.data" \
        2>"$CELL_DIR/perf.log" &
    PERF_PID=$!
    sleep 0.5 # perf attaches
}

bl_stop_perf() {
    [ -n "$PERF_PID" ] || return 0
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
}

# bl_run_cells NOUN: every cell, interleaved so that the machine's noise
# hits all backends alike: for each guest count and round, every backend
# in turn, in reverse order on even rounds.  A cell is a fresh world
# (bl_world_start: CELL "nN-BACKEND-rROUND", its results in CELL_DIR,
# WORK/cells/CELL) in which the caller's run_cell N BACKEND ROUND runs;
# perf and the world are stopped after it, also when it failed half-way.
# Says "[i/NCELLS] N NOUN, BACKEND, round R" before each; returns 1 if a
# cell failed.
bl_run_cells() {
    local noun=$1 n round backend i k=0 status=0 order
    for n in "${GUEST_LIST[@]}"; do
        for round in $(seq 1 "$ROUNDS"); do
            order=("${BACKEND_LIST[@]}")
            if [ $((round % 2)) -eq 0 ]; then
                order=()
                for ((i = ${#BACKEND_LIST[@]} - 1; i >= 0; i--)); do
                    order+=("${BACKEND_LIST[i]}")
                done
            fi
            for backend in "${order[@]}"; do
                k=$((k + 1))
                printf '%s: [%d/%d] %d %s, %s, round %d\n' "$BL_NAME" "$k" "$NCELLS" "$n" "$noun" \
                    "$backend" "$round" >&2
                CELL=n$n-$backend-r$round
                CELL_DIR=$WORK/cells/$CELL
                if bl_world_start "$CELL" "$n" "$CELL_DIR"; then
                    run_cell "$n" "$backend" "$round" || status=1
                else
                    status=1
                fi
                bl_stop_perf
                bl_stop_world
            done
        done
    done
    return $status
}
