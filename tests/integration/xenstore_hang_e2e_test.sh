#!/bin/bash
# xenstore_hang_e2e_test.sh - xenstored alive but not answering (xensimd,
# xensim's xenstored, stopped with SIGSTOP) under a running sidecored:
# libxenstore's calls have no timeout, so the control thread waits in one.
# The daemon must say so within a few seconds, keep its control socket
# answering, keep serving the connected guest, say when xenstored is back;
# and a SIGTERM during such a hang must end it at once (status 1) without
# losing a request: a successor answers what was in flight.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

# A failing check must not leave xensimd stopped for the cleanup.
sim_continue() { [ -n "$SIM_PID" ] && kill -CONT "$SIM_PID" 2>/dev/null; return 0; }
SIM_CLEANUP_HOOKS="sim_continue $SIM_CLEANUP_HOOKS"

simworld_start
log="$SIMDIR/sidecored.log"
ok "sidecored starts" sc_start --mode event --cores 1
g=$(guest_new hang)
d=$(disk_attach "$g" "$(disk_file 16M)")

# ---- a hang, then xenstored answers again ----
front_bg "$SIMDIR/run1" "$g" "$d" --verify --rw mix:50 --qd 4 --seconds 6
run1=$FRONT_PID
ok "the guest connects" wait_for 5 be_state_is "$g" "$d" 4
kill -STOP "$SIM_PID"
stuck() { grep -q "control thread has been stuck" "$log"; }
ok "xenstored stopped: the hang is logged within 4 s" wait_for 4 stuck
ok "... naming the step it hangs in" grep -q "stuck for .* in the views, connect limits and xenstored's ping" "$log"
ok "the control socket answers meanwhile (a snapshot)" \
    eval 'ctl status --json | jget "defined \$j->{snapshot_age_ms} ? 1 : 0" | grep -qx 1'
ok "sidecored is still running" sc_alive
kill -CONT "$SIM_PID"
back() { grep -q "control thread is back after" "$log"; }
ok "xenstored answers again: logged" wait_for 4 back
ok "the guest's verified run went through the hang" front_wait "$run1"
ok "... without an error" report_ok "$SIMDIR/run1"

# ---- a stop during a hang ----
front_bg "$SIMDIR/run2" "$g" "$d" --verify --readback --rw mix:50 --qd 4 --seconds 5
run2=$FRONT_PID
ok "the guest connects again" wait_for 5 be_state_is "$g" "$d" 4
sleep 0.5
kill -STOP "$SIM_PID"
stuck_twice() { [ "$(grep -c "control thread has been stuck" "$log")" -ge 2 ]; }
ok "stopped again: the hang is logged" wait_for 4 stuck_twice
pid=$SC_PID
SC_PID=""
kill -TERM "$pid"
gone() { ! pid_running "$pid"; }
ok "SIGTERM during the hang: sidecored exits within 2 s" wait_for 2 gone
wait "$pid"
status=$?
ok "... with status 1 ($status)" test "$status" -eq 1
ok "... saying why" grep -q "a stop signal while the control thread is stuck" "$log"
kill -CONT "$SIM_PID"
ok "a successor starts" sc_start --mode event --cores 1
ok "the guest's run finishes, every request answered once" front_wait "$run2"
ok "... verified, the whole disk read back at the end" report_ok "$SIMDIR/run2"
ok "no sanitizer report" sc_log_clean
[ -n "${SC_TEST_SHOW_LOG:-}" ] && sed "s/^/# /" "$log"

done_testing
