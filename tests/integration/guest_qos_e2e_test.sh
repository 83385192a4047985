#!/bin/bash
# guest_qos_e2e_test.sh - a guest's limit is the guest's, not each core's:
# a disk with two queues, one on each of two sidecores, limited to 2000
# IOPS does about 2000 in all (each core is given its part by where the
# guest's load is, re-divided twice a second), not 2000 per core; and a
# guest whose load moves to one queue gets the whole limit there; in event
# mode too.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start
ok "sidecored starts (2 sidecores)" sc_start --mode poll --cores 2 --rebalance off
g=$(guest_new limited) && d=$(disk_attach "$g" null:1G)
ok "a limit of 2000 IOPS for the guest" quiet ctl set-tenant "$g" lim_iops=2000
iops() { report_field "$1" 'int($j->{iops})'; }
# Two queues: above the limit is the failure that matters (2000 per core
# would be about 4000); their lower bound, 55% as in dir_limits, only shows
# the limit is not a stall: a loaded ASan build ran them at 1211 of 2000.
# One queue keeps 1500: there the lower bound is the claim (half the limit
# per core would be 1000), and it ran at 1842 the same way.

ok "two queues, loaded alike" \
    eval 'front "$g" "$d" --queues 2 --rw read --qd 16 --seconds 4 >"$SIMDIR/two.json"'
n=$(iops "$SIMDIR/two.json")
ok "... about 2000 IOPS in all, not 2000 per core ($n)" \
    eval '[ "$n" -ge 1100 ] && [ "$n" -le 2500 ]'
ok "one queue: about 2000 there ($(front "$g" "$d" --queues 1 --rw read --qd 16 --seconds 3 \
    >"$SIMDIR/one.json"; iops "$SIMDIR/one.json"))" \
    eval '[ "$(iops "$SIMDIR/one.json")" -ge 1500 ] && [ "$(iops "$SIMDIR/one.json")" -le 2500 ]'
ok "no sanitizer report" sc_log_clean
sc_stop

# Event mode: each queue has a thread (a core) of its own, made at connect;
# the guest's limit is divided among its queues' cores alike.
ok "sidecored starts (event mode)" sc_start --mode event --vbd.max-queues 2
ok "a limit of 2000 IOPS for the guest" quiet ctl set-tenant "$g" lim_iops=2000
ok "event mode, two queues" \
    eval 'front "$g" "$d" --queues 2 --rw read --qd 16 --seconds 4 >"$SIMDIR/ev.json"'
n=$(iops "$SIMDIR/ev.json")
nq=$(report_field "$SIMDIR/ev.json" '$j->{negotiated}{queues}')
# the new cores start with the whole limit for up to one split (0.5 s)
ok "... two queues, about 2000 IOPS in all, not 2000 per queue ($nq, $n)" \
    eval '[ "$nq" = 2 ] && [ "$n" -ge 1100 ] && [ "$n" -le 2700 ]'
ok "no sanitizer report (event mode)" sc_log_clean

done_testing
