#!/bin/sh
# Rig scenario (runs in Dom0): device lifecycle with Linux's xen-blkfront
# against sidecored (mode $RIG_MODE, default poll; blk-lifecycle-event.sh
# sources this file with RIG_MODE=event):
#   two DomUs at once, each on its own file, both verified;
#   a DomU destroyed during I/O: sidecored lets the device go and lives on;
#   sidecored restarted while a guest does I/O: the guest's rounds resume;
#   xl block-detach / block-attach while the guest runs: data survives.
. ./lib.sh
rig_install_hotplug
mb=8
mode=${RIG_MODE:-poll}

disk_of() { echo "backend=0, vdev=xvda, script=block-sidecore, target=/var/lib/rig/$1.img"; }
new_disk() { rm -f "/var/lib/rig/$1.img"; truncate -s 32M "/var/lib/rig/$1.img"; }
devices() { sidecorectl status 2>/dev/null | awk '$1=="devices"{print $2}'; }
# wait_devices N BOUND: until sidecored serves N devices.
wait_devices() {
    i=0
    while [ "$(devices)" != "$1" ]; do
        [ $i -ge $(($2 * 2)) ] && return 1
        sleep 0.5; i=$((i + 1))
    done
}
rounds_ok() { [ "$(grep -ac "^DOMU-RESULT round [0-9]* ok" "/tmp/$1.console")" = "$2" ]; }
wrote_read() {
    w=$(rig_domu_result "$1" write); r=$(rig_domu_result "$1" read)
    [ -n "$w" ] && [ "$w" = "$r" ]
}

rig_start_sidecored "$mode" || { rig_fail "$mode: sidecored starts"; exit 1; }

# --- two DomUs at once
for g in two-a two-b; do
    new_disk $g
    rig_domu_cfg $g "$(disk_of $g)" "rig_mb=$mb rig_skip_mb=1 rig_rounds=4"
done
if rig_domu_start two-a && rig_domu_start two-b; then rig_ok "$mode: two DomUs: both created"
else rig_fail "$mode: two DomUs: both created"; fi
rig_check "$mode: two DomUs: sidecored serves both at once" wait_devices 2 60
rig_domu_wait two-a 240
rig_domu_wait two-b 240
for g in two-a two-b; do
    rig_check "$mode: two DomUs: $g reads back what it wrote" wrote_read $g
    rig_check "$mode: two DomUs: $g's 4 more rounds all ok" rounds_ok $g 4
done
rig_check "$mode: two DomUs: both devices gone from sidecored" wait_devices 0 30

# --- a DomU destroyed during I/O
g=destroyed
new_disk $g
rig_domu_cfg $g "$(disk_of $g)" "rig_mb=$mb rig_skip_mb=1 rig_rounds=1000"
rig_domu_start $g
if rig_wait_console $g "^DOMU-RESULT round 2 " 180; then
    sleep 1.3       # past the round's 1 s pause: into its writes
    xl destroy $g
    rig_ok "$mode: destroy during I/O: guest was doing rounds, destroyed"
else
    rig_fail "$mode: destroy during I/O: guest never reached round 2"
    xl destroy $g 2>/dev/null
fi
rig_domu_wait $g 30
rig_check "$mode: destroy during I/O: sidecored lets the device go" wait_devices 0 30
rig_check "$mode: destroy during I/O: sidecored still runs" kill -0 "$SIDECORED_PID"

# --- sidecored restarted while a guest does I/O
g=restart
new_disk $g
rig_domu_cfg $g "$(disk_of $g)" "rig_mb=$mb rig_skip_mb=1 rig_rounds=10"
rig_domu_start $g
if rig_wait_console $g "^DOMU-RESULT round 2 " 180; then
    rig_stop_sidecored
    sleep 2
    rig_check "$mode: restart: sidecored started again" rig_start_sidecored "$mode"
    rig_check "$mode: restart: sidecored serves the running guest's disk again" wait_devices 1 30
else
    rig_fail "$mode: restart: guest never reached round 2"
fi
rig_domu_wait $g 240
rig_check "$mode: restart: the guest's 10 rounds all ok" rounds_ok $g 10
rig_check "$mode: restart: the guest finished" grep -aq "^DOMU-RESULT done" /tmp/$g.console
wait_devices 0 30

# --- xl block-detach / block-attach while the guest runs
g=hotplug
new_disk $g
rig_domu_cfg $g "$(disk_of $g)" "rig_mb=$mb rig_skip_mb=1 rig_hotplug=1"
rig_domu_start $g
if rig_wait_console $g "^DOMU-RESULT read " 180; then
    rig_check "$mode: hotplug: xl block-detach" xl block-detach $g xvda
    rig_check "$mode: hotplug: the guest saw xvda go" rig_wait_console $g "^DOMU-RESULT detached" 60
    rig_check "$mode: hotplug: xl block-attach" xl block-attach $g "$(disk_of $g)"
else
    rig_fail "$mode: hotplug: guest never finished its first round"
fi
rig_domu_wait $g 120
w=$(rig_domu_result $g write)
rig_check "$mode: hotplug: re-attached disk holds the first round's data" \
    sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$w" "$(rig_domu_result $g reattach-read)"

rig_check "$mode: sidecored reported no queue failures" \
    sh -c '[ "$(sidecorectl status | awk "\$1==\"queue_failures\"{print \$2}")" = 0 ]'
rig_stop_sidecored
tail -n 60 "/tmp/sidecored-$mode.log" | sed "s/^/RIG: sidecored: /"
exit $RIG_TAP_FAILED
