#!/bin/bash
# xenstore_loss_e2e_test.sh - xenstored goes away under a running sidecored
# (xensimd, which is xensim's xenstored, killed): the daemon must notice
# within 2 s, log it and exit non-zero, so that its service manager starts
# it again (libxenstore's watch descriptor does not report a closed
# connection; the control loop pings xenstored twice a second).
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start
ok "sidecored starts" sc_start --mode poll --cores 1
g=$(guest_new loss)
d=$(disk_attach "$g" "$(disk_file 16M)")
ok "a disk waits for its frontend (InitWait)" wait_for 5 be_state_is "$g" "$d" 2

pid=$SC_PID
kill -KILL "$SIM_PID"
wait "$SIM_PID" 2>/dev/null
SIM_PID=""
t0=$(date +%s%N)
gone() { ! kill -0 "$pid" 2>/dev/null; }
ok "xenstored killed: sidecored exits within 2 s" wait_for 2 gone
ms=$((($(date +%s%N) - t0) / 1000000))
wait "$pid"
status=$?
SC_PID=""
ok "... with a non-zero status ($status, after $ms ms)" test "$status" -ne 0
ok "... saying why in its log" grep -q "xenstore connection lost" "$SIMDIR/sidecored.log"
ok "... and not by a crash (no sanitizer or signal report)" \
    eval '! grep -Eq "Sanitizer|Segmentation|Aborted" "$SIMDIR/sidecored.log"'

done_testing
