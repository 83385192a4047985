#!/bin/bash
# blk_lifecycle_e2e_test.sh - a block device's life with sidecored end to
# end: connect, disconnect (frontend Closed -> backend Closed), reconnect,
# unplug (vbd-detach, idle and with I/O running), a guest destroyed with I/O
# in flight while another guest's I/O goes on, a frontend killed and started
# again, and sidecored restarted (SIGTERM) under a guest's running I/O,
# which must finish without an error; in poll and event mode.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start

tasks() { ls "/proc/$SC_PID/task" | wc -l; }
dev_queue_count() {
    ctl devices --json |
        jget 'scalar @{(grep { $_->{name} eq "vbd '"$1/$2"'" } @$j)[0]{queues} // []}'
}
fe_state_is() { [ "$(xs0 xenstore-read "$(fe_path "$1" "$2")/state" 2>/dev/null)" = "$3" ]; }
be_gone() { ! xs0 xenstore-read "$(be_path "$1" "$2")" >/dev/null 2>&1; }

for mode in poll event; do
    ok "$mode: sidecored starts (2 cores)" sc_start --mode "$mode" --cores 2
    base_tasks=$(tasks)

    # ---- connect, disconnect, reconnect ----
    g=$(guest_new "life-$mode")
    d=$(disk_attach "$g" "$(disk_file 64M)")
    ok "$mode: InitWait before the frontend comes" wait_for 5 be_state_is "$g" "$d" 2
    # Each run checked while it runs has a bound no check reaches (a loaded
    # sanitizer build takes a second or two per sidecorectl call) and ends
    # by SIGUSR1 once those checks are done.
    front_bg "$SIMDIR/c1" "$g" "$d" --seconds 120 --verify --rw mix:50
    ok "$mode: connect: sidecorectl shows it Connected" wait_for 5 dev_state_is "$g" "$d" Connected
    is "$mode: ... backend state 4 in xenstore" "$(be_key "$g" "$d" state)" 4
    is "$mode: ... the frontend's view" "$(dev_field "$g" "$d" frontend_state)" Connected
    ok "$mode: ... with its queues" test "$(dev_queue_count "$g" "$d")" -ge 1
    kill -USR1 "$FRONT_PID"
    front_wait "$FRONT_PID"
    is "$mode: the run finishes and verifies (0)" "$?" 0
    ok "$mode: ... verified sectors" \
        test "$(report_field "$SIMDIR/c1" '$j->{verified_sectors}')" -gt 0
    ok "$mode: disconnect: the frontend Closed" fe_state_is "$g" "$d" 6
    ok "$mode: ... the backend Closed" wait_for 5 be_state_is "$g" "$d" 6
    ok "$mode: ... sidecorectl agrees, no queue left" \
        eval 'dev_state_is "$g" "$d" Closed && [ "$(dev_queue_count "$g" "$d")" = 0 ]'
    [ "$mode" = event ] && ok "event: the queue threads ended" wait_for 5 test "$(tasks)" = "$base_tasks"
    status=0
    for i in 1 2 3 4 5; do
        front "$g" "$d" --ios 1000 --verify --rw mix:50 >"$SIMDIR/re$i" 2>&1 || status=$?
    done
    is "$mode: reconnect five times on the same vdev, each verifies (0)" "$status" 0
    ok "$mode: ... and ends Closed" wait_for 5 be_state_is "$g" "$d" 6
    [ "$mode" = event ] && ok "event: no thread left after them" wait_for 5 test "$(tasks)" = "$base_tasks"

    # ---- unplug ----
    ok "$mode: unplug: vbd-detach of the closed disk" \
        quiet "$XENSIMCTL" vbd-detach "$g" "$d" --timeout 5
    ok "$mode: ... the backend dir is removed" be_gone "$g" "$d"
    ok "$mode: ... sidecorectl no longer lists it" wait_for 5 dev_gone "$g" "$d"
    d2=$(disk_attach "$g" "$(disk_file 32M)")
    front_bg "$SIMDIR/u1" "$g" "$d2" --seconds 20 --verify --rw mix:50
    ok "$mode: unplug under I/O: connected first" wait_for 5 dev_state_is "$g" "$d2" Connected
    ok "$mode: ... vbd-detach completes" quiet "$XENSIMCTL" vbd-detach "$g" "$d2" --timeout 10
    front_ended() { ! kill -0 "$FRONT_PID" 2>/dev/null; }
    ok "$mode: ... the frontend is told and stops" wait_for 10 front_ended
    front_wait "$FRONT_PID"
    ok "$mode: ... without a verification error" \
        test "$(report_field "$SIMDIR/u1" '$j->{verify_errors}')" = 0
    ok "$mode: ... the device is gone from the daemon" wait_for 5 dev_gone "$g" "$d2"
    ok "$mode: ... and from xenstore" be_gone "$g" "$d2"

    # ---- a guest destroyed with I/O in flight ----
    victim=$(guest_new "victim-$mode")
    vd=$(disk_attach "$victim" "$(disk_file 32M)")
    other=$(guest_new "other-$mode")
    od=$(disk_attach "$other" "$(disk_file 32M)")
    front_bg "$SIMDIR/v" "$victim" "$vd" --seconds 20 --verify --rw mix:50
    victim_pid=$FRONT_PID
    front_bg "$SIMDIR/o" "$other" "$od" --seconds 120 --verify --rw mix:50
    other_pid=$FRONT_PID
    ok "$mode: two guests connected" \
        wait_for 5 eval 'dev_state_is "$victim" "$vd" Connected && dev_state_is "$other" "$od" Connected'
    sleep 1
    ok "$mode: xensimctl destroy --cleanup of one with I/O in flight" \
        quiet "$XENSIMCTL" destroy "$victim" --cleanup
    ok "$mode: ... its device leaves the daemon" wait_for 5 dev_gone "$victim" "$vd"
    ok "$mode: ... sidecored stays up" sc_alive
    ok "$mode: ... and logged the disconnect" \
        grep -Eq "vbd $victim/$vd: .*(disconnect|removed|gone)" "$SIMDIR/sidecored.log"
    kill "$victim_pid" 2>/dev/null
    kill -USR1 "$other_pid"
    front_wait "$victim_pid"
    front_wait "$other_pid"
    is "$mode: the other guest's run finishes and verifies (0)" "$?" 0
    ok "$mode: ... a clean report" report_ok "$SIMDIR/o"
    ok "$mode: ... still Closed, still served" wait_for 5 dev_state_is "$other" "$od" Closed

    # ---- a frontend killed and started again (a guest's driver reload) ----
    front_bg "$SIMDIR/k" "$other" "$od" --seconds 20 --verify --rw mix:50
    ok "$mode: a frontend that will be killed connects" \
        wait_for 5 dev_state_is "$other" "$od" Connected
    sleep 0.5
    kill -KILL "$FRONT_PID"
    front_wait "$FRONT_PID" 2>/dev/null # no "Killed" notice
    front "$other" "$od" --ios 1000 --verify --rw mix:50 --timeout-ms 5000 \
        >"$SIMDIR/k2" 2>"$SIMDIR/k2.err"
    is "$mode: ... the next frontend on that vdev connects and verifies (0)" "$?" 0
    ok "$mode: ... sidecored stays up" sc_alive

    # ---- sidecored restarted under a guest's I/O ----
    rg=$(guest_new "restart-$mode")
    rd=$(disk_attach "$rg" "$(disk_file 64M)")
    front_bg "$SIMDIR/r" "$rg" "$rd" --seconds 120 --verify --rw mix:50
    ok "$mode: a guest connected for the restart" wait_for 5 dev_state_is "$rg" "$rd" Connected
    sleep 1.5
    sc_stop
    is "$mode: sidecored stops on SIGTERM under I/O (0)" "$?" 0
    ok "$mode: ... leaving the backend Connected for its successor" be_state_is "$rg" "$rd" 4
    ok "$mode: sidecored starts again" sc_start --mode "$mode" --cores 2
    ok "$mode: ... and adopts the connected device" wait_for 5 dev_state_is "$rg" "$rd" Connected
    sleep 1 # I/O served by the successor too
    kill -USR1 "$FRONT_PID"
    front_wait "$FRONT_PID"
    is "$mode: the guest's run finishes without an error across the restart (0)" "$?" 0
    ok "$mode: ... its report is clean and verified" \
        eval 'report_ok "$SIMDIR/r" && [ "$(report_field "$SIMDIR/r" "\$j->{verified_sectors}")" -gt 0 ]'
    ok "$mode: ... it disconnects cleanly from the new daemon" wait_for 5 be_state_is "$rg" "$rd" 6
    sc_stop
    is "$mode: sidecored exits 0" "$?" 0
done

ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
