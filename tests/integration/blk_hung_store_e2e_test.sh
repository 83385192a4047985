#!/bin/bash
# blk_hung_store_e2e_test.sh - one guest's backing store stops answering
# (simhangfs: a FUSE file whose reads, writes and fsyncs are parked on
# demand) and nothing else notices: in poll and event mode,
#  - with that guest's I/O stuck, 16 other guests connect, run verified I/O
#    and disconnect, while `sidecorectl status` and `devices` keep answering
#    within a second or two (a liveness bound, not a benchmark);
#  - the hung disk's detach leaves it Closing (its I/O cannot drain), and
#    meanwhile the 16 reconnect, verify again and disconnect, a disk attached
#    now connects, and the control socket still answers;
#  - once the store answers again the hung disk drains and reaches Closed;
#  - SIGTERM with another guest's I/O stuck in the store: sidecored exits
#    within 10 s.
# Everything it starts (daemon, guests, the FUSE server and its mount, the
# control-socket sampler) is stopped on any exit.  Needs /dev/fuse and the
# right to mount (root); skips otherwise.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

SIMHANGFS="$SC_BUILD/bin/simhangfs"
NOTHERS=16
# The bound on one sidecorectl call (ms).  A call takes milliseconds on an
# idle daemon; the bound only has to tell "answers" from "blocked behind
# the lifecycle", on a loaded 2-core machine.
CTL_BOUND_MS=${CTL_BOUND_MS:-2000}
HANG_MNT=""
HANG_PID=""
SAMPLER_PID=""
SAMPLER_STOP=""

# Every sidecorectl call is bounded: on a daemon whose control thread is
# stuck, the lib's helpers (dev_field, dev_count_in) then fail instead of
# hanging the test.
ctl() { timeout -k 1 5 "$SIDECORECTL" "$@"; }

# wait_until SECONDS CMD...: like wait_for, but bounded in time even when
# CMD itself is slow (each try may take up to a ctl timeout).
wait_until() {
    local end=$((SECONDS + $1)); shift
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        [ "$SECONDS" -ge "$end" ] && return 1
        sleep 0.1
    done
}

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }

# ---- the FUSE store ----

# Kills the sampler, then the FUSE server (it fails what it parked, so
# nothing stays blocked on the mount), then the mount itself; first of the
# cleanup hooks, so the daemon's stop afterwards finds no stuck I/O.
hang_cleanup() {
    sampler_stop
    hangfs_stop
    return 0
}
SIM_CLEANUP_HOOKS="hang_cleanup $SIM_CLEANUP_HOOKS"

skip_all() { echo "1..0 # SKIP $1"; exit 0; }

# hangfs_start: a fresh simhangfs (64M data file) mounted on HANG_MNT.
hangfs_start() {
    HANG_MNT=$(mktemp -d "${TMPDIR:-/tmp}/simhangfs.XXXXXX") || return 1
    rm -f "$SIMDIR/hangfs.ready"
    "$SIMHANGFS" "$HANG_MNT" --size 64M --ready-fd 3 3>"$SIMDIR/hangfs.ready" \
        2>>"$SIMDIR/simhangfs.log" &
    HANG_PID=$!
    wait_for 5 grep -q ready "$SIMDIR/hangfs.ready" && test -f "$HANG_MNT/disk"
}

# hangfs_stop: SIGTERM (bounded wait, then SIGKILL), then the mount goes
# (lazily: nothing waits for a user of it) and its directory.  Returns the
# server's exit code.
hangfs_stop() {
    local status=0 _
    if [ -n "$HANG_PID" ]; then
        kill -TERM "$HANG_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$HANG_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$HANG_PID" 2>/dev/null
        wait "$HANG_PID" 2>/dev/null
        status=$?
        HANG_PID=""
    fi
    if [ -n "$HANG_MNT" ]; then
        if mountpoint -q "$HANG_MNT" 2>/dev/null || grep -q " $HANG_MNT " /proc/mounts; then
            fusermount3 -u -z "$HANG_MNT" 2>/dev/null || umount -l "$HANG_MNT" 2>/dev/null
        fi
        rmdir "$HANG_MNT" 2>/dev/null
        HANG_MNT=""
    fi
    return "$status"
}

# hangfs_unmount: the clean end: unmount, the server exits by itself.
hangfs_unmount() {
    local _
    # Busy for a moment while the last user's file references go.
    wait_until 5 eval 'fusermount3 -u "$HANG_MNT" || umount "$HANG_MNT"' || return 1
    for _ in $(seq 1 100); do kill -0 "$HANG_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$HANG_PID" 2>/dev/null && return 1
    wait "$HANG_PID"
    local status=$?
    HANG_PID=""
    rmdir "$HANG_MNT" 2>/dev/null
    HANG_MNT=""
    return "$status"
}

hangfs_say() { echo "$1" >"$HANG_MNT/ctl"; }
hangfs_field() { grep -o "$1=[a-z0-9]*" "$HANG_MNT/ctl" 2>/dev/null | cut -d= -f2; }
hangfs_parked() { local n; n=$(hangfs_field parked); [ "${n:-0}" -ge "${1:-1}" ]; }
hangfs_served_over() { local n; n=$(hangfs_field served); [ "${n:-0}" -gt "$1" ]; }

# ---- the control socket's liveness ----

# sampler_start LABEL: `sidecorectl status` and `devices`, each timed,
# every 0.2 s in the background until sampler_stop; one line per call
# ("status|devices EXIT MS") in $SIMDIR/ctl-LABEL.
sampler_start() {
    SAMPLE_OUT="$SIMDIR/ctl-$1"
    SAMPLER_STOP="$SIMDIR/ctl-$1.stop"
    : >"$SAMPLE_OUT"
    rm -f "$SAMPLER_STOP"
    (
        while [ ! -e "$SAMPLER_STOP" ]; do
            for cmd in status devices; do
                t0=$(now_ms)
                timeout -k 1 5 "$SIDECORECTL" "$cmd" >/dev/null 2>&1
                rc=$?
                echo "$cmd $rc $(($(now_ms) - t0))" >>"$SAMPLE_OUT"
            done
            sleep 0.2
        done
    ) &
    SAMPLER_PID=$!
}

sampler_stop() {
    [ -n "$SAMPLER_PID" ] || return 0
    touch "$SAMPLER_STOP"
    local _
    for _ in $(seq 1 120); do kill -0 "$SAMPLER_PID" 2>/dev/null || break; sleep 0.1; done
    kill "$SAMPLER_PID" 2>/dev/null
    wait "$SAMPLER_PID" 2>/dev/null
    SAMPLER_PID=""
    return 0
}

# sampler_ok LABEL: at least 4 calls of each kind, every one exit 0 within
# CTL_BOUND_MS; prints a summary as a TAP comment.
sampler_ok() {
    perl -e '
        my ($bound, %n, %bad, $max) = ($ARGV[0]);
        open(my $f, "<", $ARGV[1]) or die;
        while (<$f>) {
            my ($cmd, $rc, $ms) = split;
            $n{$cmd}++;
            $max = $ms if !defined $max || $ms > $max;
            $bad{$cmd}++ if $rc != 0 || $ms > $bound;
        }
        my @k = ("status", "devices");
        printf "#   %s\n", join(", ", map { sprintf "%s: %d calls, %d late or failed",
            $_, $n{$_} // 0, $bad{$_} // 0 } @k) . sprintf(", slowest %d ms", $max // 0);
        exit((grep { ($n{$_} // 0) < 4 || $bad{$_} } @k) ? 1 : 0);
    ' "$CTL_BOUND_MS" "$SIMDIR/ctl-$1"
}

# ---- the other guests ----

# round LABEL ARGS...: one simblkfront run on each of the NOTHERS disks at
# once, ARGS added; sets ROUND_FAILED to how many did not finish with a
# clean verified report (why, as TAP comments, for the first few).  Not in
# a subshell: the runs stay in FRONT_PIDS for the cleanup.
round() {
    local label=$1; shift
    local i pids=()
    ROUND_FAILED=0
    for i in "${!others[@]}"; do
        front_bg "$SIMDIR/$label-$i" "${others[$i]}" "${odisks[$i]}" "$@"
        pids+=("$FRONT_PID")
        # The guests' own CPU use is not what the liveness check is about:
        # on 2 cores, let the daemon and sidecorectl go first.
        renice -n 10 -p "$FRONT_PID" >/dev/null 2>&1
    done
    for i in "${!pids[@]}"; do
        if ! front_wait "${pids[$i]}" || ! report_ok "$SIMDIR/$label-$i" ||
            [ "$(report_field "$SIMDIR/$label-$i" '$j->{verified_sectors}')" -le 0 ]; then
            ROUND_FAILED=$((ROUND_FAILED + 1))
            [ "$ROUND_FAILED" -le 3 ] && echo "# guest ${others[$i]}:" \
                "$(tail -c 300 "$SIMDIR/$label-$i.err" | tr '\n' ' ')" \
                "$(jget '"errors $j->{errors}, verify $j->{verify_errors}, ios $j->{ios}"' \
                    <"$SIMDIR/$label-$i" 2>/dev/null)"
        fi
    done
}

others_closed() {
    local i
    for i in "${!others[@]}"; do be_state_is "${others[$i]}" "${odisks[$i]}" 6 || return 1; done
}

# sc_stop_within SECONDS: SIGTERM, then at most SECONDS for the daemon to
# exit; SIGKILL after that.  Returns its exit code, or 255 if it had to be
# killed.
sc_stop_within() {
    local pid=$SC_PID limit=$1 _ status
    SC_PID=""
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 $((limit * 10))); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 255
    fi
    wait "$pid" 2>/dev/null
    status=$?
    return "$status"
}

front_ended() { ! kill -0 "$1" 2>/dev/null; }
# closed_or_gone GUEST DEVID: sidecorectl answers and lists the disk Closed,
# or no longer lists it (a detached disk is forgotten once Closed).
closed_or_gone() {
    local j st
    j=$(ctl devices --json) || return 1
    st=$(jget '(grep { $_->{name} eq "vbd '"$1/$2"'" } @$j)[0]{state}' <<<"$j")
    [ -z "$st" ] || [ "$st" = Closed ]
}

[ -x "$SIMHANGFS" ] || skip_all "no $SIMHANGFS (make all)"
[ -c /dev/fuse ] || skip_all "/dev/fuse is not available"
command -v fusermount3 >/dev/null || [ "$(id -u)" = 0 ] || skip_all "cannot mount FUSE"

simworld_start
hangfs_start || skip_all "simhangfs cannot mount ($(tail -c 200 "$SIMDIR/simhangfs.log"))"
hangfs_stop

# The normal guests' runs: verified, 400 requests each on a 2M disk (small,
# so that reads often meet blocks the run wrote and verify them), few in
# flight (16 guests at once on 2 cores), a bound on every wait for the backend.
IO="--verify --rw mix:50 --qd 4 --ios 400 --timeout-ms 10000"

for mode in poll event; do
    ok "$mode: simhangfs mounts its 64M file" hangfs_start
    is "$mode: ... which has its size" "$(stat -c %s "$HANG_MNT/disk" 2>/dev/null)" 67108864
    ok "$mode: sidecored starts (2 cores)" sc_start --mode "$mode" --cores 2

    # ---- the hung guest ----
    h1=$(guest_new "hung-$mode")
    h1d=$(disk_attach "$h1" "$HANG_MNT/disk")
    others=()
    odisks=()
    for i in $(seq 1 "$NOTHERS"); do
        g=$(guest_new "$mode-$i")
        others+=("$g")
        odisks+=("$(disk_attach "$g" "$(disk_file 2M)")")
    done
    ok "$mode: all $((NOTHERS + 1)) disks wait for their frontends" \
        wait_until 15 eval '[ "$(dev_count_in InitWait)" = $((NOTHERS + 1)) ]'
    # Its frontend gives up 3 s after the backend starts closing (its own
    # close waits that long for Closed), so it ends soon after the detach.
    front_bg "$SIMDIR/h1" "$h1" "$h1d" --verify --rw mix:50 --qd 8 --seconds 300 \
        --timeout-ms 3000
    h1_pid=$FRONT_PID
    ok "$mode: the hung-store guest connects" wait_until 10 dev_state_is "$h1" "$h1d" Connected
    ok "$mode: ... and its I/O reaches the FUSE store" wait_until 10 hangfs_served_over 50
    hangfs_say hang
    ok "$mode: the store hangs: requests are parked, unanswered" wait_until 10 hangfs_parked 1
    echo "#   simhangfs: $(cat "$HANG_MNT/ctl")"

    # ---- while it is stuck and still Connected ----
    sampler_start "$mode-stuck"
    round "$mode-r1" $IO
    is "$mode: $NOTHERS other guests connect, verify and finish meanwhile" "$ROUND_FAILED" 0
    ok "$mode: ... and all of them disconnect (Closed)" wait_until 10 others_closed
    sampler_stop
    ok "$mode: sidecorectl status/devices answered all along (< ${CTL_BOUND_MS} ms each)" \
        sampler_ok "$mode-stuck"
    ok "$mode: the hung guest's I/O is still stuck" hangfs_parked 1

    # ---- the hung disk detached: Closing until its I/O drains ----
    sampler_start "$mode-closing"
    fails "$mode: vbd-detach of the hung disk does not complete (not Closed in 2 s)" \
        "$XENSIMCTL" vbd-detach "$h1" "$h1d" --timeout 2
    ok "$mode: ... its frontend sees Closing and gives up" wait_until 15 front_ended "$h1_pid"
    kill "$h1_pid" 2>/dev/null
    front_wait "$h1_pid"
    is "$mode: ... the frontend is Closed" \
        "$(xs0 xenstore-read "$(fe_path "$h1" "$h1d")/state" 2>/dev/null)" 6
    is "$mode: ... sidecorectl shows the hung disk Closing" "$(dev_field "$h1" "$h1d" state)" Closing
    is "$mode: ... the backend stays Closing (5) in xenstore" "$(be_key "$h1" "$h1d" state)" 5

    round "$mode-r2" $IO
    is "$mode: meanwhile the $NOTHERS reconnect, verify and finish" "$ROUND_FAILED" 0
    ok "$mode: ... and disconnect again (Closed)" wait_until 10 others_closed
    late=$(guest_new "late-$mode")
    lated=$(disk_attach "$late" "$(disk_file 2M)")
    front "$late" "$lated" $IO >"$SIMDIR/late-$mode" 2>"$SIMDIR/late-$mode.err"
    is "$mode: ... a disk attached now connects and verifies (0)" "$?" 0
    sampler_stop
    ok "$mode: sidecorectl status/devices answered all along (< ${CTL_BOUND_MS} ms each)" \
        sampler_ok "$mode-closing"
    is "$mode: the hung disk is still Closing" "$(dev_field "$h1" "$h1d" state)" Closing
    ok "$mode: ... its backend not Closed" test "$(be_key "$h1" "$h1d" state)" != 6
    ok "$mode: ... sidecored is up" sc_alive

    # ---- the store answers again: the disk drains and closes ----
    hangfs_say ok
    ok "$mode: the store answers again: the parked requests are served" \
        wait_until 5 eval '[ "$(hangfs_field parked)" = 0 ]'
    ok "$mode: ... the hung disk's backend reaches Closed" wait_until 10 be_state_is "$h1" "$h1d" 6
    ok "$mode: ... sidecorectl has it Closed or forgotten" wait_until 10 closed_or_gone "$h1" "$h1d"

    # ---- SIGTERM with I/O stuck in the store ----
    h2=$(guest_new "hung2-$mode")
    h2d=$(disk_attach "$h2" "$HANG_MNT/disk")
    front_bg "$SIMDIR/h2" "$h2" "$h2d" --verify --rw mix:50 --qd 8 --seconds 300 \
        --timeout-ms 3000
    h2_pid=$FRONT_PID
    ok "$mode: another guest on the same store connects" \
        wait_until 10 dev_state_is "$h2" "$h2d" Connected
    served=$(hangfs_field served)
    ok "$mode: ... and its I/O is served" wait_until 10 hangfs_served_over "$served"
    hangfs_say hang
    ok "$mode: the store hangs again under its I/O" wait_until 10 hangfs_parked 1
    t0=$(now_ms)
    sc_stop_within 10
    status=$?
    echo "#   sidecored's exit after SIGTERM: status $status, $(($(now_ms) - t0)) ms"
    ok "$mode: SIGTERM: sidecored exits within 10 s with I/O stuck in a store" \
        test "$status" != 255
    is "$mode: ... with status 0" "$status" 0
    kill "$h2_pid" 2>/dev/null
    front_wait "$h2_pid"

    # ---- the end of the store ----
    hangfs_say ok
    ok "$mode: simhangfs exits 0 on the unmount" hangfs_unmount
    hangfs_stop
    for g in "$h1" "$h2" "$late" "${others[@]}"; do
        quiet "$XENSIMCTL" destroy "$g" --cleanup
    done
done

done_testing
