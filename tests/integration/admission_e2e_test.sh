#!/bin/bash
# admission_e2e_test.sh - a reservation the sidecores cannot honour is
# refused, with the reason: against a configured capacity
# (--core-capacity), against the capacity the balancer measured under
# load, at start (a config that over-reserves does not start), and never
# with --core-capacity off.  Lowering a reservation is always allowed.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start
log="$SIMDIR/sidecored.log"
adm() { ctl status --json | jget "\$j->{admission}{$1}"; }

# ---- a configured capacity: 10,000 IOPS per sidecore, 90% reservable ----
ok "sidecored starts (1 sidecore, capacity 10k IOPS)" \
    sc_start --mode poll --cores 1 --core-capacity iops=10k
is "capacity configured" "$(adm capacity)" configured
is "... 9000 IOPS reservable" "$(adm reservable_iops)" 9000
ok "guest 5 reserves 5000 IOPS for its disks" quiet ctl set-tenant 5 vbd.res_iops=5000
ctl set-tenant 6 vbd.res_iops=5000 >"$SIMDIR/refused.out" 2>&1
ok "guest 6 may not reserve 5000 more" test $? -ne 0
ok "... and is told why" grep -q "reservation of 5000 requests/s refused: the other guests reserve 5000" \
    "$SIMDIR/refused.out"
ok "... which is logged" grep -q "tenant 6: an IOPS reservation of 5000" "$log"
is "the refused one is not counted" "$(adm reserved_iops)" 5000
ok "guest 6 reserves 4000 (what is left)" quiet ctl set-tenant 6 vbd.res_iops=4000
is "9000 reserved" "$(adm reserved_iops)" 9000
ok "guest 6 may not raise it by one" eval '! quiet ctl set-tenant 6 vbd.res_iops=4001'
ok "... nor reserve for its vifs" eval '! quiet ctl set-tenant 6 vif.res_iops=1'
ok "guest 5 lowers its own" quiet ctl set-tenant 5 vbd.res_iops=1000
ok "... and then guest 6 can raise" quiet ctl set-tenant 6 vbd.res_iops=7000
# a plain key is each class's: disks and vifs reserve 500 each
ok "a plain reservation counts once per class" quiet ctl set-tenant 8 res_iops=500
is "9000 reserved" "$(adm reserved_iops)" 9000
ok "a weight or limit alone is never refused" quiet ctl set-tenant 7 weight=400 lim_iops=50000
ok "sidecorectl status shows the reservations" \
    eval 'ctl status | grep -q "^reserved .*9.0k IOPS of 9.0k.*capacity configured"'
ok "sidecored still serving, log clean" eval 'sc_alive && sc_log_clean'
sc_stop

# ---- a command line that over-reserves does not start ----
fails "guests reserving 6000 + 6000 of 9000 do not start" \
    sc_start --mode poll --cores 1 --core-capacity iops=10k --tenant 5:vbd.res_iops=6000 \
    --tenant 6:vif.res_iops=6000
ok "... said in the log" grep -q "tenant 6: an IOPS reservation of 6000 requests/s refused" "$log"
SC_PID=""

# ---- measured under load ----
ok "sidecored starts (capacity measured)" \
    sc_start --mode poll --cores 1 --rebalance-interval-ms 200
is "nothing measured at first" "$(adm capacity)" "not measured yet"
ok "... so a large reservation is admitted" quiet ctl set-tenant 5 res_iops=1000000
ok "... and lowered again" quiet ctl set-tenant 5 res_iops=0
g=$(guest_new busy) && d=$(disk_attach "$g" null:1G,spin=20000)
front_bg "$SIMDIR/busy.json" "$g" "$d" --queues 1 --rw read --qd 16 --seconds 4
measured() { [ "$(adm capacity)" = measured ]; }
ok "a busy guest's service gets measured" wait_for 10 measured
cap=$(adm core_iops)
# each request costs the sidecore 20 us of spinning, plus the request
ok "... under 50k IOPS per sidecore, as 20 us per request allows ($cap)" \
    eval '[ "$cap" -gt 5000 ] && [ "$cap" -le 50000 ]'
ok "a reservation above it is refused" eval '! quiet ctl set-tenant 9 res_iops=$((cap * 2))'
ok "... one within it admitted" quiet ctl set-tenant 9 res_iops=$((cap / 4))
ok "the busy guest's run was fine" eval 'front_wait "$FRONT_PID" && report_ok "$SIMDIR/busy.json"'
ok "sidecored still serving, log clean" eval 'sc_alive && sc_log_clean'
sc_stop

# ---- off ----
ok "sidecored starts (--core-capacity off)" \
    sc_start --mode poll --cores 1 --core-capacity off --tenant 5:res_iops=90000000
is "capacity off" "$(adm capacity)" off
ok "any reservation is admitted" quiet ctl set-tenant 6 res_iops=90000000
ok "no sanitizer report" sc_log_clean

done_testing
