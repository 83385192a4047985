#!/bin/bash
# adaptive_cores_e2e_test.sh - an adaptive number of sidecores (--cores 2
# --cores-min 1): one sidecore takes the queues at first; when two guests
# keep it above 75% busy (each request costs it CPU: null disks with
# spin=NS), the balancer makes the second one active and moves a queue to
# it; when the load is gone, it moves the queues off the idlest and parks
# it (no queue left on it, so it sleeps).  The cores view and the status
# say so; I/O goes on without an error throughout.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start
log="$SIMDIR/sidecored.log"
rb() { ctl status --json 2>/dev/null | jget "\$j->{rebalance}{$1}"; }
active_is() { [ "$(rb active_cores)" = "$1" ]; }
queue_core() {
    ctl queues --json 2>/dev/null |
        jget 'my ($q) = grep { $_->{name} eq "vbd '"$1/$2"' q0" } @$j; $q ? $q->{core} : ""'
}

ok "sidecored starts (2 sidecores, 1 active at first)" \
    sc_start --mode poll --cores 2 --cores-min 1 --rebalance-interval-ms 200
ok "one sidecore active" wait_for 2 active_is 1
ok "... the cores view says which" \
    eval 'ctl cores --json | jget "join q{,}, map { \$_->{active} ? 1 : 0 } @\$j" | grep -qx "1,0"'
g1=$(guest_new busy1) && d1=$(disk_attach "$g1" null:256M,spin=20000)
g2=$(guest_new busy2) && d2=$(disk_attach "$g2" null:256M,spin=20000)
# The runs' bound is one the checks under their load never reach (a 6 s run
# could end before a slow machine saw the queue move, and a closed device
# has no core); SIGUSR1 ends them once the move is seen.  Their I/O waits
# for a byte each on fd 5 (--start-fd) until both are seen on sc0: under
# load the balancer adds sc1 and moves a queue within about a second,
# sooner than a loaded sanitizer build's two sidecorectl calls answer.
go="$SIMDIR/go.fifo"
mkfifo "$go"
exec 5<>"$go"
front_bg "$SIMDIR/b1" "$g1" "$d1" --queues 1 --rw read --qd 32 --seconds 120 --start-fd 5
p1=$FRONT_PID
front_bg "$SIMDIR/b2" "$g2" "$d2" --queues 1 --rw read --qd 32 --seconds 120 --start-fd 5
p2=$FRONT_PID
ok "two guests connect" wait_for 10 eval 'be_state_is "$g1" "$d1" 4 && be_state_is "$g2" "$d2" 4'
ok "... both on sc0, the only active sidecore" \
    eval '[ "$(queue_core "$g1" "$d1")" = sc0 ] && [ "$(queue_core "$g2" "$d2")" = sc0 ]'
printf xx >&5 # both busy from now on
exec 5>&-
added() { [ "$(rb cores_added)" -ge 1 ] 2>/dev/null; }
ok "sc0 busy: a second sidecore is added" wait_for 5 added
ok "... logged" grep -q "sc1 added: every active sidecore above" "$log"
apart() { [ "$(queue_core "$g1" "$d1")" != "$(queue_core "$g2" "$d2")" ]; }
ok "... and a queue moved to it" wait_for 5 apart
kill -USR1 "$p1" "$p2"
ok "the runs end without an error" \
    eval 'front_wait "$p1" && report_ok "$SIMDIR/b1" && front_wait "$p2" && report_ok "$SIMDIR/b2"'
parked() { [ "$(rb cores_parked)" -ge 1 ] 2>/dev/null && active_is 1; }
ok "idle again: one sidecore parked" wait_for 10 parked
ok "... logged" grep -q "parked: the active sidecores' loads" "$log"
ok "no sanitizer report" sc_log_clean

done_testing
