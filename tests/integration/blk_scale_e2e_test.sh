#!/bin/bash
# blk_scale_e2e_test.sh - many guests on sidecored at once:
#  - poll mode, 32 guests with a null disk each, released together once all
#    are connected: all 32 Connected at the same instant, all under load,
#    each with its own queues, all finishing cleanly;
#  - event mode (a thread per queue), 64 guests with a file disk each that
#    come as they please: each connects, runs a fixed amount of verified I/O
#    and disconnects, and every one of them succeeds;
# then a fairness smoke test: two guests weighted 100 and 300 on one
# saturated sidecore get IOPS in roughly that ratio (loose bounds: a test,
# not a benchmark).
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start
NPOLL=32
NEVENT=64
be_connected_count() {
    xs0 xenstore-ls -f /local/domain/0/backend/vbd | grep -c '/state = "4"$'
}

# ---- poll mode: 32 guests, all connected at the same instant ----
guests=()
disks=()
for i in $(seq 1 "$NPOLL"); do
    g=$(guest_new "many$i")
    guests+=("$g")
    disks+=("$(disk_attach "$g" null:256M)")
done
is "$NPOLL guests with a null disk each" "${#guests[@]}/${#disks[@]}" "$NPOLL/$NPOLL"

ok "poll: sidecored starts (2 cores)" sc_start --mode poll --cores 2
ok "poll: all $NPOLL devices are found, waiting for their frontends" \
    wait_for 10 eval '[ "$(dev_count_in InitWait)" = "$NPOLL" ]'
pids=()
# The barrier is kept here because it is what this run measures: 32 rings
# held at once, all Connected at the same instant and then all under load
# together, each on its own queues.  Without it the first guests could
# finish before the last connect, and "all at once" would be a race.  (It
# is not needed for the guests' correctness: the event-mode run below has
# none.)  One byte each on the go FIFO (held open read-write on fd 5, so
# neither side's open blocks) releases them.
go="$SIMDIR/go-poll.fifo"
mkfifo "$go"
exec 5<>"$go"
for i in "${!guests[@]}"; do
    # One simblkfront per guest: one process acts as one domain.
    front_bg "$SIMDIR/many-poll-$i" "${guests[$i]}" "${disks[$i]}" \
        --seconds 120 --queues 1 --qd 2 --rw mix:30 --timeout-ms 30000 --start-fd 5
    pids+=("$FRONT_PID")
done
ok "poll: xenstore: all $NPOLL backends Connected at once" \
    wait_for 20 eval '[ "$(be_connected_count)" = "$NPOLL" ]'
ok "poll: sidecorectl lists all $NPOLL Connected" \
    wait_for 10 eval '[ "$(dev_count_in Connected)" = "$NPOLL" ]'
printf "%${NPOLL}s" "" >&5
exec 5>&-
ok "poll: ... and still all $NPOLL under load" \
    test "$(dev_count_in Connected)" = "$NPOLL"
ok "poll: ... each with its own queues" \
    test "$(ctl queues --json | jget 'scalar @$j')" -ge "$NPOLL"
# The runs' bound is one these checks never reach, however slow the
# machine or the sanitizer (a 5 s run could end between two of them);
# SIGUSR1 ends them, as if their time were up, after a second more of load.
sleep 1
kill -USR1 "${pids[@]}"
failed=0
for i in "${!pids[@]}"; do
    front_wait "${pids[$i]}" && report_ok "$SIMDIR/many-poll-$i" || {
        failed=$((failed + 1))
        echo "# guest ${guests[$i]}: $(cat "$SIMDIR/many-poll-$i.err" "$SIMDIR/many-poll-$i")"
    }
done
is "poll: every guest's run finishes with exit 0 and no error" "$failed" 0
ok "poll: all $NPOLL are Closed afterwards" \
    wait_for 5 test "$(dev_count_in Closed)" = "$NPOLL"
ok "poll: no queue failed" \
    test "$(ctl status --json | jget '$j->{queue_failures}')" = 0
sc_stop
is "poll: sidecored exits 0" "$?" 0
for g in "${guests[@]}"; do quiet "$XENSIMCTL" destroy "$g" --cleanup; done

# ---- event mode: 64 guests, each on its own ----
# No barrier: each guest connects whenever the daemon gets to it and runs a
# fixed number of verified requests, so its result does not depend on when
# the others connect or finish.  That every guest reached Connected shows
# in its report: simblkfront starts I/O only once the backend says
# Connected, and reports the size it then read from the backend.  The
# disks are small files (in /dev/shm when there is one) so that reads
# often land on blocks the run wrote, which are verified.
guests=()
disks=()
for i in $(seq 1 "$NEVENT"); do
    g=$(guest_new "ev$i")
    guests+=("$g")
    disks+=("$(disk_attach "$g" "$(disk_file_mem 2M)")")
done
is "$NEVENT guests with a 2M file disk each" "${#guests[@]}/${#disks[@]}" "$NEVENT/$NEVENT"
ok "event: sidecored starts (2 cores)" sc_start --mode event --cores 2
ok "event: all $NEVENT devices are found, waiting for their frontends" \
    wait_for 20 eval '[ "$(dev_count_in InitWait)" = "$NEVENT" ]'
# How many were Connected at once, for the log only: no claim is made.
# (It ends with the test however that ends: the cleanup stops it.)
peak_file="$SIMDIR/event-peak"
echo 0 >"$peak_file"
peak_pid=""
peak_cleanup() { [ -n "$peak_pid" ] && kill "$peak_pid" 2>/dev/null; return 0; }
SIM_CLEANUP_HOOKS="peak_cleanup $SIM_CLEANUP_HOOKS"
(
    peak=0
    while [ ! -e "$peak_file.stop" ] && kill -0 $$ 2>/dev/null; do
        n=$(be_connected_count)
        [ "${n:-0}" -gt "$peak" ] && { peak=$n; echo "$peak" >"$peak_file"; }
        sleep 0.2
    done
) &
peak_pid=$!
pids=()
for i in "${!guests[@]}"; do
    front_bg "$SIMDIR/many-event-$i" "${guests[$i]}" "${disks[$i]}" \
        --ios 400 --queues 1 --qd 2 --rw mix:50 --verify --timeout-ms 60000
    pids+=("$FRONT_PID")
done
failed=0
unconnected=0
for i in "${!pids[@]}"; do
    out="$SIMDIR/many-event-$i"
    front_wait "${pids[$i]}"
    status=$?
    if [ "$(report_field "$out" '$j->{negotiated}{sectors}' 2>/dev/null)" != 4096 ]; then
        unconnected=$((unconnected + 1))
    fi
    if [ "$status" != 0 ] || ! report_ok "$out" ||
        [ "$(report_field "$out" '$j->{verified_sectors}')" -le 0 ]; then
        failed=$((failed + 1))
        [ "$failed" -le 5 ] && echo "# guest ${guests[$i]} (exit $status):" \
            "$(tail -c 300 "$out.err" | tr '\n' ' ') $(cat "$out" 2>/dev/null)"
    fi
done
touch "$peak_file.stop"
wait "$peak_pid" 2>/dev/null
peak_pid=""
echo "# event: at most $(cat "$peak_file") of $NEVENT Connected at the same time (seen every 0.2 s)"
is "event: all $NEVENT guests reached Connected (the backend's size in each report)" \
    "$unconnected" 0
is "event: every guest's verified run finishes with exit 0, no error, sectors verified" \
    "$failed" 0
ok "event: all $NEVENT are Closed afterwards" \
    wait_for 10 test "$(dev_count_in Closed)" = "$NEVENT"
ok "event: no queue failed" \
    test "$(ctl status --json | jget '$j->{queue_failures}')" = 0
sc_stop
is "event: sidecored exits 0" "$?" 0
for g in "${guests[@]}"; do quiet "$XENSIMCTL" destroy "$g" --cleanup; done

# ---- fairness: weights 100 and 300 on one sidecore ----
# The sidecore must be the bottleneck for weights to matter: null disks
# that spin 20 us of the sidecore's CPU per request (at most ~50k IOPS for
# both), 4 KiB reads at depth 32, which the frontends outrun.  A ring of 32
# holds less than the weight-300 guest's quantum: short turns must follow.
ok "sidecored starts with one core" sc_start --mode poll --cores 1
light=$(guest_new light)
heavy=$(guest_new heavy)
ok "set-tenant weight=100" quiet ctl set-tenant "$light" weight=100
ok "set-tenant weight=300" quiet ctl set-tenant "$heavy" weight=300
dl=$(disk_attach "$light" null:64M,spin=20000)
dh=$(disk_attach "$heavy" null:64M,spin=20000)
ok "both disks wait for their frontends" \
    wait_for 5 eval 'be_state_is "$light" "$dl" 2 && be_state_is "$heavy" "$dh" 2'
# The runs last until both samples are taken (SIGUSR1 then).
load="--seconds 120 --queues 1 --bs 4k --rw read --qd 32"
front_bg "$SIMDIR/light" "$light" "$dl" $load
lp=$FRONT_PID
front_bg "$SIMDIR/heavy" "$heavy" "$dh" $load
hp=$FRONT_PID
# How busy the sidecore was while both ran, and what each guest got of it
# (the counters are cumulative): sampled twice once both guests run, so
# neither the first one's head start nor a slow sanitizer start-up counts.
core_ns() { ctl cores --json | jget '"$j->[0]{busy_ns} " . ($j->[0]{busy_ns} + $j->[0]{idle_ns} + $j->[0]{sleep_ns})'; }
guest_reqs() {
    ctl guests --json | jget 'my %r = map { ($_->{domid} => $_->{sched}{requests}) } grep { $_->{class} eq "vbd" } @$j; ($r{'"$light"'} // 0) . " " . ($r{'"$heavy"'} // 0)'
}
# The weight-100 guest's polls that found its ring empty, and all its polls:
# weights only divide a sidecore between guests that both have a backlog.
light_polls() {
    ctl queues --json | jget 'my ($q) = grep { $_->{domid} == '"$light"' } @$j; "$q->{empty_polls} " . ($q->{empty_polls} + $q->{busy_polls})'
}
both_run() { read -r l h <<<"$(guest_reqs)"; [ "${l:-0}" -gt 0 ] && [ "${h:-0}" -gt 0 ]; }
wait_for 30 both_run
sleep 1
read -r b1 t1 <<<"$(core_ns)"
read -r l1 h1 <<<"$(guest_reqs)"
read -r e1 p1 <<<"$(light_polls)"
sleep 2
read -r b2 t2 <<<"$(core_ns)"
read -r l2 h2 <<<"$(guest_reqs)"
read -r e2 p2 <<<"$(light_polls)"
kill -USR1 "$lp" "$hp"
busy=$(perl -e 'print int(100 * ($ARGV[2] - $ARGV[0]) / (($ARGV[3] - $ARGV[1]) || 1))' \
    "$b1" "$t1" "$b2" "$t2")
front_wait "$lp"
is "the weight-100 guest finishes cleanly (0)" "$?" 0
front_wait "$hp"
is "the weight-300 guest finishes cleanly (0)" "$?" 0
li=$((l2 - l1))
hi=$((h2 - h1))
ratio=$(perl -e 'printf "%.2f", $ARGV[1] / ($ARGV[0] || 1)' "$li" "$hi")
empty=$(perl -e 'print int(100 * ($ARGV[1] - $ARGV[0]) / (($ARGV[3] - $ARGV[2]) || 1))' \
    "$e1" "$e2" "$p1" "$p2")
echo "# requests in the sampled 2 s: weight 100 $li, weight 300 $hi, ratio $ratio; sidecore busy $busy%; weight-100 ring empty at $empty% of its polls"
TAP_N=$((TAP_N + 1))
nios=$((li + hi))
if [ "$SC_SAN" = tsan ]; then
    # ThreadSanitizer slows each thread by its own factor (the frontends,
    # the sidecore and the control thread unevenly): the run checks the
    # weighted path for races, the plain and ASan flavours judge the ratio
    # (CI: twice outside 2..4.5 under TSan, never in the other flavours).
    echo "ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 # SKIP judged without TSan (ratio $ratio)"
elif [ "$nios" -lt 2000 ]; then
    # A machine loaded by something else starves the frontends themselves.
    echo "ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 # SKIP only $nios requests: machine too busy to judge"
elif [ "$busy" -ge 0 ] && [ "$busy" -lt 75 ]; then
    echo "ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 # SKIP sidecore not saturated ($busy% busy)"
elif [ "$empty" -ge 50 ]; then
    # Its frontend, not the sidecore, limited it (a slow sanitizer build).
    echo "ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 # SKIP the weight-100 guest had no backlog ($empty% empty polls)"
elif perl -e 'exit !($ARGV[0] >= 2 && $ARGV[0] <= 4.5)' "$ratio"; then
    echo "ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 ($ratio)"
else
    echo "not ok $TAP_N - IOPS ratio 300:100 between 2 and 4.5 ($ratio)"
    TAP_FAILED=$((TAP_FAILED + 1))
fi
sc_stop

ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
