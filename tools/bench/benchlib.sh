# shellcheck shell=bash disable=SC2034  # (a library: its variables are the callers')
# benchlib.sh - the pieces blkbench.sh, idlebench.sh and profile.sh share:
# a xensim world with N guests (a null disk each), a backend on its own CPU,
# blkguest processes behind a start barrier, and snapshots of the backend's
# sidecores.  Sourced (bash), not run.
#
# The caller sets BIN (the built programs), WORK (a scratch directory) and
# BE_TASKSET / GUEST_TASKSET (arrays, possibly empty: the taskset prefixes
# for the backend and the guests), and calls bl_stop_world from its exit
# trap.  State kept here, one world at a time:
#   SIM_PID BE_PID GUEST_PIDS  the processes of the world
#   DOMIDS                     the guests' domain ids, in creation order
#   SIM                        the world's directory ($XENSIM_DIR)
#   GOT                        what the last bl_read_signals counted
# Guests talk to the caller through two FIFOs held open read-write here
# (so no open blocks and nothing written is lost): fd 6, where each guest
# writes "c" once connected ("f" if it failed) and "d" when its I/O ended,
# and fd 5, one byte of which releases a guest.  A guest never released
# stays connected with idle rings: the idle benchmark's guests.

SIM_PID=""
BE_PID=""
GUEST_PIDS=()
DOMIDS=()
SIM=""
GOT=0
CLK_TCK=$(getconf CLK_TCK)

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
# GUEST_MEM MiB (default 16), each given a null:1G disk as xvda (vdev
# 51712).  Exports XENSIM_DIR; sets SIM_PID, SIM, DOMIDS.
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
        "$BIN/xensimctl" vbd-attach "$domid" --backend-domid 0 --target null:1G --vdev xvda \
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
# JSON goes to OUTDIR/guest-DOMID.json.  Appends to GUEST_PIDS.
bl_guests_start() {
    local out=$1 domid
    shift
    local ready=$SIM/ready.fifo go=$SIM/go.fifo
    mkfifo "$ready" "$go"
    exec 5<>"$go" 6<>"$ready"
    for domid in "${DOMIDS[@]}"; do
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
