#!/bin/bash
# blk_scale_e2e_test.sh - many guests on sidecored at once: 32 guests with a
# null disk each, in poll and event mode, all connected together and all
# finishing cleanly; then a fairness smoke test: two guests weighted 100 and
# 300 on one saturated sidecore get IOPS in roughly that ratio (loose bounds:
# a test, not a benchmark).
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start
NGUESTS=32
be_connected_count() {
    xs0 xenstore-ls -f /local/domain/0/backend/vbd | grep -c '/state = "4"$'
}

guests=()
disks=()
for i in $(seq 1 "$NGUESTS"); do
    g=$(guest_new "many$i")
    guests+=("$g")
    disks+=("$(disk_attach "$g" null:256M)")
done
is "$NGUESTS guests with a null disk each" "${#guests[@]}/${#disks[@]}" "$NGUESTS/$NGUESTS"

for mode in poll event; do
    ok "$mode: sidecored starts (2 cores)" sc_start --mode "$mode" --cores 2
    # The second daemon adopts the devices the first left Closed.
    waiting() { [ $(($(dev_count_in InitWait) + $(dev_count_in Closed))) = "$NGUESTS" ]; }
    ok "$mode: all $NGUESTS devices are found, waiting for their frontends" wait_for 10 waiting
    pids=()
    # The guests connect first and start their I/O together: connecting is
    # the control thread's work, a few xenstore round trips each, and 32
    # guests already loading two CPUs (in event mode with a thread per
    # queue) would starve it, making "all connected at once" a race.
    # One byte each on the go FIFO (held open read-write on fd 5, so neither
    # side's open blocks) releases them.
    go="$SIMDIR/go-$mode.fifo"
    mkfifo "$go"
    exec 5<>"$go"
    for i in "${!guests[@]}"; do
        # One simblkfront per guest: one process acts as one domain.
        front_bg "$SIMDIR/many-$mode-$i" "${guests[$i]}" "${disks[$i]}" \
            --seconds 8 --queues 1 --qd 2 --rw mix:30 --timeout-ms 30000 --start-fd 5
        pids+=("$FRONT_PID")
    done
    ok "$mode: xenstore: all $NGUESTS backends Connected at once" \
        wait_for 20 eval '[ "$(be_connected_count)" = "$NGUESTS" ]'
    ok "$mode: sidecorectl lists all $NGUESTS Connected" \
        wait_for 10 eval '[ "$(dev_count_in Connected)" = "$NGUESTS" ]'
    printf "%${NGUESTS}s" "" >&5
    exec 5>&-
    ok "$mode: ... and still all $NGUESTS under load" \
        test "$(dev_count_in Connected)" = "$NGUESTS"
    ok "$mode: ... each with its own queues" \
        test "$(ctl queues --json | jget 'scalar @$j')" -ge "$NGUESTS"
    failed=0
    for i in "${!pids[@]}"; do
        front_wait "${pids[$i]}" && report_ok "$SIMDIR/many-$mode-$i" || {
            failed=$((failed + 1))
            echo "# guest ${guests[$i]}: $(cat "$SIMDIR/many-$mode-$i.err" "$SIMDIR/many-$mode-$i")"
        }
    done
    is "$mode: every guest's run finishes with exit 0 and no error" "$failed" 0
    ok "$mode: all $NGUESTS are Closed afterwards" \
        wait_for 5 test "$(dev_count_in Closed)" = "$NGUESTS"
    ok "$mode: no queue failed" \
        test "$(ctl status --json | jget '$j->{queue_failures}')" = 0
    sc_stop
    is "$mode: sidecored exits 0" "$?" 0
done

# ---- fairness: weights 100 and 300 on one sidecore ----
# The sidecore must be the bottleneck for weights to matter: 128k writes
# through persistent grants whose cache (1056 a queue) is far smaller than
# what 256 requests in flight use, so every segment costs a map and unmap
# on the sidecore while the frontends do little per request.
ok "sidecored starts with one core" sc_start --mode poll --cores 1
light=$(guest_new light)
heavy=$(guest_new heavy)
ok "set-tenant weight=100" quiet ctl set-tenant "$light" weight=100
ok "set-tenant weight=300" quiet ctl set-tenant "$heavy" weight=300
dl=$(disk_attach "$light" "$(disk_file_mem 64M)")
dh=$(disk_attach "$heavy" "$(disk_file_mem 64M)")
ok "both disks wait for their frontends" \
    wait_for 5 eval 'be_state_is "$light" "$dl" 2 && be_state_is "$heavy" "$dh" 2'
load="--seconds 4 --queues 1 --bs 128k --rw write --qd 256"
front_bg "$SIMDIR/light" "$light" "$dl" $load
lp=$FRONT_PID
front_bg "$SIMDIR/heavy" "$heavy" "$dh" $load
hp=$FRONT_PID
# How busy the sidecore was while both ran (its counters are cumulative).
core_ns() { ctl cores --json | jget '"$j->[0]{busy_ns} " . ($j->[0]{busy_ns} + $j->[0]{idle_ns} + $j->[0]{sleep_ns})'; }
sleep 1
read -r b1 t1 <<<"$(core_ns)"
sleep 2
read -r b2 t2 <<<"$(core_ns)"
busy=$(perl -e 'print int(100 * ($ARGV[2] - $ARGV[0]) / (($ARGV[3] - $ARGV[1]) || 1))' \
    "$b1" "$t1" "$b2" "$t2")
front_wait "$lp"
is "the weight-100 guest finishes cleanly (0)" "$?" 0
front_wait "$hp"
is "the weight-300 guest finishes cleanly (0)" "$?" 0
li=$(report_field "$SIMDIR/light" '$j->{iops}')
hi=$(report_field "$SIMDIR/heavy" '$j->{iops}')
ratio=$(perl -e 'printf "%.2f", $ARGV[1] / ($ARGV[0] || 1)' "$li" "$hi")
echo "# IOPS: weight 100 $li, weight 300 $hi, ratio $ratio; sidecore busy $busy%"
TAP_N=$((TAP_N + 1))
nios=$(perl -e 'print int($ARGV[0] + $ARGV[1])' \
    "$(report_field "$SIMDIR/light" '$j->{ios}')" "$(report_field "$SIMDIR/heavy" '$j->{ios}')")
if [ "$nios" -lt 2000 ]; then
    # A machine loaded by something else starves the frontends themselves.
    echo "ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 # SKIP only $nios requests: machine too busy to judge"
elif [ "$busy" -ge 0 ] && [ "$busy" -lt 75 ]; then
    echo "ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 # SKIP sidecore not saturated ($busy% busy)"
elif perl -e 'exit !($ARGV[0] >= 2 && $ARGV[0] <= 4.5)' "$ratio"; then
    echo "ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 ($ratio)"
else
    echo "not ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 ($ratio)"
    TAP_FAILED=$((TAP_FAILED + 1))
fi
sc_stop

done_testing
