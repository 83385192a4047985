#!/bin/bash
# rebalance_e2e_test.sh - queues moved between sidecores under verified
# I/O: by hand (sidecorectl move-queue, back and forth many times), by
# sidecorectl rebalance, and by the balancer itself when the busy queues
# share one core.  Every guest's run verifies every request and reads its
# disk back; a move must lose, repeat or fail nothing.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start
log="$SIMDIR/sidecored.log"

# queue_core G D: the core serving disk D of guest G's queue 0
queue_core() {
    ctl queues --json 2>/dev/null |
        jget 'my ($q) = grep { $_->{name} eq "vbd '"$1/$2"' q0" } @$j; $q ? $q->{core} : ""'
}
other() { [ "$1" = sc0 ] && echo sc1 || echo sc0; }

# busy_pair TAG: verified runs on guest 1's and guest 3's disks (pids in
# P1, P3; reports $SIMDIR/TAG1, TAG3), both connected, then both queues put
# on guest 1's core (C1).  The runs last until pair_ok ends them (SIGUSR1):
# the checks under their load are sidecorectl calls, slow on a loaded
# sanitizer build, and an 8 s run could end before a move was planned.
busy_pair() {
    front_bg "$SIMDIR/${1}1" "$g1" "$d1" --queues 1 --verify --rw mix:50 --qd 32 --seconds 120
    P1=$FRONT_PID
    front_bg "$SIMDIR/${1}3" "$g3" "$d3" --queues 1 --verify --rw mix:50 --qd 32 --seconds 120
    P3=$FRONT_PID
    wait_for 10 eval 'be_state_is "$g1" "$d1" 4 && be_state_is "$g3" "$d3" 4' || return 1
    C1=$(queue_core "$g1" "$d1")
    [ "$(queue_core "$g3" "$d3")" = "$C1" ] || quiet ctl move-queue "vbd $g3/$d3 q0" "$C1"
}
together() { [ "$(queue_core "$g3" "$d3")" = "$C1" ]; }
apart() { [ "$(queue_core "$g1" "$d1")" != "$(queue_core "$g3" "$d3")" ]; }
pair_ok() { kill -USR1 "$P1" "$P3"; front_wait "$P1" && report_ok "$SIMDIR/${1}1" && front_wait "$P3" && report_ok "$SIMDIR/${1}3"; }

# ---- moved by hand, many times, under verified I/O ----
# The spread is 5% of a core, not the default 25%: how busy two verified
# runs keep a sidecore depends on the machine (30% here, under 25% on a
# slower CI machine), and the test is about moving, not about the threshold.
ok "sidecored starts (2 sidecores, rebalancing off)" \
    sc_start --mode poll --cores 2 --rebalance off --rebalance-interval-ms 200 \
    --rebalance-spread 5
g1=$(guest_new mover) && d1=$(disk_attach "$g1" "$(disk_file 32M)")
g2=$(guest_new still) && d2=$(disk_attach "$g2" "$(disk_file 32M)")
# Runs bounded far beyond the moves (a sanitizer build moves slowly), ended
# by SIGUSR1 once the moves are done.
front_bg "$SIMDIR/moved" "$g1" "$d1" --queues 1 --verify --readback --rw mix:50 --qd 16 --seconds 120
moved_pid=$FRONT_PID
front_bg "$SIMDIR/still" "$g2" "$d2" --queues 1 --no-persistent --verify --readback --rw mix:50 --qd 8 --seconds 120
still_pid=$FRONT_PID
ok "both guests connect" wait_for 10 eval 'be_state_is "$g1" "$d1" 4 && be_state_is "$g2" "$d2" 4'
moves=0 stopped=""
stop_at=$(($(date +%s) + 30))
for _ in $(seq 1 30); do
    [ "$(date +%s)" -lt "$stop_at" ] || { stopped="30 s up"; break; }
    c=$(queue_core "$g1" "$d1")
    [ -n "$c" ] || { stopped="no core"; break; }
    quiet ctl move-queue "vbd $g1/$d1 q0" "$(other "$c")" || { stopped="refused"; break; }
    landed() { [ "$(queue_core "$g1" "$d1")" = "$(other "$c")" ]; }
    wait_for 5 landed || { stopped="did not land"; break; }
    moves=$((moves + 1))
    sleep 0.1
done
kill -USR1 "$moved_pid" "$still_pid"
# A move is three sidecorectl calls or more: a loaded sanitizer build
# manages fewer than 10 in the 30 s (6 seen under ASan beside another
# test).  Then what it managed counts, if no move failed and there were a
# few; a move refused or not landed fails this at any speed.
ok "a queue moved under I/O, 10 to 30 times, or 3 or more in 30 s ($moves${stopped:+, stopped: $stopped})" \
    eval '[ "$moves" -ge 10 ] || { [ "$stopped" = "30 s up" ] && [ "$moves" -ge 3 ]; }'
ok "the moved guest's run verified every request and its whole disk" \
    eval 'front_wait "$moved_pid" && report_ok "$SIMDIR/moved"'
ok "the other guest's too" eval 'front_wait "$still_pid" && report_ok "$SIMDIR/still"'
ok "each move logged" test "$(grep -c "vbd $g1/$d1 q0: moved from" "$log")" -eq "$moves"
ok "move-queue refuses an unknown queue" eval '! quiet ctl move-queue "vbd 999/1 q0" sc0'
ok "... and the core it is on" \
    eval '! quiet ctl move-queue "vbd $g1/$d1 q0" "$(queue_core "$g1" "$d1")"'

# ---- sidecorectl rebalance: the busy queues on one core ----
# Place two more disks so that both busy ones share a core: the pool puts a
# new queue on the core with the fewest queues, then we move by hand.
g3=$(guest_new busy3) && d3=$(disk_attach "$g3" "$(disk_file 32M)")
ok "two busy guests connect" busy_pair b
ok "both busy queues on $C1" wait_for 5 together
sleep 1 # a measured interval or more with them together
# A plan is made from the last interval's loads (200 ms): on a loaded
# machine the two frontends get the CPU unevenly, and one interval's loads
# may call for no move (a move must gain 5% of a core).  A plan that moves
# nothing changes nothing, so each is asked again until one moves, for 5 s.
planned() {
    ctl rebalance --dry-run --json >"$SIMDIR/plan.json" &&
        [ "$(jget 'scalar @{$j->{moves}}' <"$SIMDIR/plan.json")" -ge 1 ]
}
ok "rebalance --dry-run plans a move off $C1 and moves nothing" \
    eval 'wait_for 5 planned &&
          [ "$(jget "\$j->{moves}[0]{from}" <"$SIMDIR/plan.json")" = "$C1" ] && together'
echo "# the plan's loads: $(jget 'join q{ }, map { "$_->{name}=$_->{load}" } @{$j->{cores}}' \
    <"$SIMDIR/plan.json" 2>/dev/null)"
rebalanced() {
    ctl rebalance --json >"$SIMDIR/done.json" &&
        [ "$(jget 'scalar @{$j->{moves}}' <"$SIMDIR/done.json")" -ge 1 ]
}
ok "rebalance moves one of them to $(other "$C1")" wait_for 5 rebalanced
echo "# the loads it moved by: $(jget 'join q{ }, map { "$_->{name}=$_->{load}" } @{$j->{cores}}' \
    <"$SIMDIR/done.json" 2>/dev/null)"
ok "... and then they are apart" wait_for 5 apart
ok "... the queue says why it moved" \
    eval 'ctl queues --json | jget "join q{ }, map { \$_->{placed} } @\$j" | grep -q "asked"'
ok "both busy runs verified" pair_ok b
ok "sidecored still serving, log clean" eval 'sc_alive && sc_log_clean'
sc_stop

# ---- the balancer by itself ----
ok "sidecored starts (rebalancing on, 200 ms intervals)" \
    sc_start --mode poll --cores 2 --rebalance on --rebalance-interval-ms 200 \
    --rebalance-spread 5
ok "two busy guests connect again, on one core" busy_pair a
by_itself() { [ "$(ctl status --json | jget '$j->{rebalance}{moves}')" -ge 1 ] 2>/dev/null; }
ok "put together, the balancer moves one apart within 5 s" wait_for 5 by_itself
ok "... and they are apart" wait_for 5 apart
ok "... logged as by load" grep -q "rebalance (by load)" "$log"
ok "both runs verified" pair_ok a
ok "no sanitizer report" sc_log_clean

done_testing
