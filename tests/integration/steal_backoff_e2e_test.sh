#!/bin/bash
# steal_backoff_e2e_test.sh - where the sidecores' vCPUs run and what steal
# does to polling, on xensim's vCPU map (xensimctl vcpu-set):
#  - sidecorectl cores (table and JSON) reports each core's vCPU, physical
#    CPU, cpupool, scheduler and pinning as the platform says them;
#  - steal above --steal-backoff for 2 s makes a polling core back off: it
#    sleeps as soon as it finds no work, so its polling per wake-up drops
#    from the window to almost nothing; logged and counted, while a guest's
#    verified I/O goes on without an error;
#  - steal gone, it polls again (logged, counted);
#  - --steal-backoff 0: never.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"
BLKGUEST="$SC_BUILD/bin/blkguest"

simworld_start
gv=$(guest_new verified) && gp=$(guest_new paced) || { echo "Bail out! guests"; exit 1; }
file=$(disk_file_mem 8M)
dv=$(disk_attach "$gv" "$file") && dp=$(disk_attach "$gp" null:64M) ||
    { echo "Bail out! disks"; exit 1; }

# core_json NAME EXPR: EXPR over that core's object in cores --json ($c)
core_json() {
    ctl cores --json 2>/dev/null |
        jget '(map { my $c = $_; $c->{name} eq "'"$1"'" ? do { '"$2"' } : () } @$j)[0]'
}
# poll_per_wake NAME SECONDS: µs the core polled for nothing per sleep over SECONDS
poll_per_wake() {
    local a b
    a=$(core_json "$1" '"$c->{idle_ns} $c->{sleeps}"')
    sleep "$2"
    b=$(core_json "$1" '"$c->{idle_ns} $c->{sleeps}"')
    set -- $a $b
    [ "$4" -gt "$2" ] || { echo 999999; return; }
    echo $((($3 - $1) / ($4 - $2) / 1000))
}

# A fixed 200 µs window: after each wake-up a polling core polls that long
# for nothing; a backed-off one goes back to sleep at once.
ok "sidecored starts: 2 sidecores on vCPUs 0 and 1, a fixed polling window" \
    sc_start --mode poll --cores 2 --cpus 0,1 --poll-window fixed --poll-idle-us 200
quiet "$XENSIMCTL" vcpu-set 0 1 pcpu=5 pool=2:sidecores sched=null pinned=1
ok "cores --json: sc1's vCPU 1 on pCPU 5, pool 2 'sidecores' (null), pinned" \
    wait_for 5 eval '[ "$(core_json sc1 '\''"$c->{vcpu} $c->{placement}{pcpu} $c->{placement}{pool}:$c->{placement}{pool_name} $c->{placement}{sched} $c->{placement}{pinned}"'\'')" = "1 5 2:sidecores null 1" ]'
is "cores --json: sc0's vCPU 0 as xensim starts it (pCPU 0, Pool-0, credit2, not pinned)" \
    "$(core_json sc0 '"$c->{vcpu} $c->{placement}{pcpu} $c->{placement}{pool_name} $c->{placement}{sched} " . ($c->{placement}{pinned} ? 1 : 0)')" \
    "0 0 Pool-0 credit2 0"
table=$(ctl cores)
ok "cores: a placement table with sc1's pool and scheduler" \
    grep -qE '^sc1 +1 +5 +2:sidecores +null +yes ' <<<"$table"

front_bg "$SIMDIR/verified" "$gv" "$dv" --seconds 120 --verify --rw mix:50 --qd 4
vpid=$FRONT_PID
"$BLKGUEST" --dir "$XENSIM_DIR" --domid "$gp" --vdev "$dp" --think-us 2000 --seconds 120 \
    >"$SIMDIR/paced" 2>"$SIMDIR/paced.err" &
ppid=$!
FRONT_PIDS="$FRONT_PIDS $ppid"
ok "both guests connected" \
    wait_for 10 eval 'dev_state_is "$gv" "$dv" Connected && dev_state_is "$gp" "$dp" Connected'
# the paced guest's core: the one its queue is on
pcore=$(ctl queues --json | jget '(map { $_->{device} =~ /^vbd '"$gp"'\// ? $_->{core} : () } @$j)[0]')
ok "the paced guest's queue is on a sidecore ($pcore)" test -n "$pcore"
sleep 1
before=$(poll_per_wake "$pcore" 2)
ok "polling: $pcore polls about its window per wake-up ($before µs)" test "$before" -ge 100

quiet "$XENSIMCTL" vcpu-set 0 0 steal=40
quiet "$XENSIMCTL" vcpu-set 0 1 steal=40
ok "steal 40% on both vCPUs: both cores back off within 5 s" \
    wait_for 8 eval '[ "$(core_json sc0 '\''$c->{steal_backoff} ? 1 : 0'\'')$(core_json sc1 '\''$c->{steal_backoff} ? 1 : 0'\'')" = 11 ]'
steal=$(core_json "$pcore" 'int($c->{placement}{steal_pct} + 0.5)')
ok "... its steal is seen (${steal}%, set 40%)" test "${steal:-0}" -ge 25 -a "${steal:-0}" -le 55
ok "... logged, naming the vCPU and the threshold" \
    grep -q "$pcore: vCPU [01]: steal [0-9]*% for 4 ticks .*polling backs off" "$SIMDIR/sidecored.log"
is "... counted once per core" \
    "$(core_json sc0 '$c->{placement}{backoffs}') $(core_json sc1 '$c->{placement}{backoffs}')" "1 1"
sleep 0.5
after=$(poll_per_wake "$pcore" 2)
ok "backed off: $pcore polls far less per wake-up ($after µs, was $before)" \
    test "$((after * 3))" -lt "$before"

quiet "$XENSIMCTL" vcpu-set 0 0 steal=0
quiet "$XENSIMCTL" vcpu-set 0 1 steal=0
ok "steal gone: both poll again within 5 s, counted" \
    wait_for 8 eval '[ "$(core_json sc0 '\''$c->{steal_backoff} ? 1 : 0'\'')$(core_json sc1 '\''$c->{steal_backoff} ? 1 : 0'\'')/$(core_json sc0 '\''$c->{placement}{resumes}'\'')" = 00/1 ]'
ok "... logged" grep -q "$pcore: vCPU [01]: steal 0% for 4 ticks: polling again" "$SIMDIR/sidecored.log"
sleep 0.5
again=$(poll_per_wake "$pcore" 2)
ok "... $pcore polls its window per wake-up again ($again µs)" test "$again" -ge 100

kill -USR1 "$vpid" "$ppid"
front_wait "$vpid"
ok "the verified guest's run ends with exit 0, verified, no error" \
    eval '[ $? = 0 ] && report_ok "$SIMDIR/verified"'
front_wait "$ppid"
is "the paced guest's run ends with exit 0" "$?" 0
is "... without an error" "$(jget '$j->{errors}' <"$SIMDIR/paced")" 0
sc_stop
is "sidecored exits 0" "$?" 0

# ---- --steal-backoff 0 ----
ok "sidecored starts again with --steal-backoff 0" \
    sc_start --mode poll --cores 2 --cpus 0,1 --steal-backoff 0
quiet "$XENSIMCTL" vcpu-set 0 0 steal=60
quiet "$XENSIMCTL" vcpu-set 0 1 steal=60
sleep 3.5
is "steal 60% for 3 s: no core backs off" \
    "$(core_json sc0 '($c->{steal_backoff} ? 1 : 0) . $c->{placement}{backoffs}')$(core_json sc1 '($c->{steal_backoff} ? 1 : 0) . $c->{placement}{backoffs}')" "0000"
steal=$(core_json sc1 'int($c->{placement}{steal_pct} + 0.5)')
ok "... though the steal is reported (${steal}%)" test "${steal:-0}" -ge 40
sc_stop
is "sidecored exits 0" "$?" 0
ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
