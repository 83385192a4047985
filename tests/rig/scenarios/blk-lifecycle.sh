#!/bin/sh
# rig-boot-timeout: 1200
# Rig scenario (runs in Dom0): device lifecycle with Linux's xen-blkfront
# against sidecored (mode $RIG_MODE, default poll; blk-lifecycle-event.sh
# sources this file with RIG_MODE=event):
#   two DomUs at once, each on its own file, both verified;
#   a DomU destroyed during I/O: sidecored lets the device go and lives on;
#   sidecored restarted while a guest does I/O: the guest's rounds resume;
#   sidecored killed (SIGKILL) three times under a verified fio job and
#   restarted: it adopts the disks, fio verifies, the guest sees no error;
#   xl block-detach / block-attach while the guest runs: data survives.
. ./lib.sh
rig_install_sidecore
mb=8
mode=${RIG_MODE:-poll}

disk_of() { echo "backend=0, vdev=xvda, script=block-sidecore, target=/var/lib/rig/$1.img"; }
new_disk() { rm -f "/var/lib/rig/$1.img"; truncate -s "${2:-32M}" "/var/lib/rig/$1.img"; }
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

# --- sidecored killed (SIGKILL) under a verified fio job, restarted each time
# The guest (domu-init.sh's rig_killio) writes KILLIO_MB MiB of its disk with
# fio (random 4k-64k blocks, crc32c, an fsync at the end), then reads it all
# back and verifies it in a second fio run.  Dom0 kills sidecored with
# SIGKILL three times at random moments and starts it again each time: in the
# write phase; again 0.1-1.5 s after that restart was launched (while the new
# daemon starts and adopts the disks: the serial log says how far it got); in
# the verify pass.  The tools disk fio runs from is sidecored's too.  No
# request may be lost (fio would hang) or answered wrongly (fio's verify, the
# guest's kernel log), and the data the guest flushed must be in Dom0's file.
KILLIO_MB=${RIG_KILLIO_MB:-64}
KILL1_MAX=${RIG_KILL1_MAX:-12}  # seconds into the write phase, at most
KILL3_MAX=${RIG_KILL3_MAX:-7}   # seconds into the verify pass, at most
uptime_s() { awk '{print $1}' /proc/uptime; }
since() { awk -v a="$1" -v b="$(uptime_s)" 'BEGIN {printf "%.1f", b - a}'; }
# rand_secs LO HI: a random delay in [LO, HI) seconds.
rand_secs() {
    od -An -N2 -tu2 /dev/urandom | awk -v lo="$1" -v hi="$2" '{printf "%.2f", lo + $1 / 65536 * (hi - lo)}'
}
# Not wc -l: Dom0's wc dies of SIGILL on the rig (its AVX2 line counter
# under the noxsave kernels: "traps: wc[788] trap invalid opcode"), and an
# empty count would make log_since look at the whole log.
log_lines() { awk 'END {print NR}' "/tmp/sidecored-$mode.log"; }
log_since() { [ -n "$1" ] && tail -n +$(($1 + 1)) "/tmp/sidecored-$mode.log"; }
# kill_spawn: SIGKILL the running sidecored, reap it, launch the next one
# (rig_spawn_sidecored: no wait); KILL_AT is when it was killed (uptime_s),
# KILL_LOG0 where the new daemon's log begins.
KILL_LOG0=""
kill_spawn() {
    k_pid=$SIDECORED_PID
    KILL_AT=$(uptime_s)
    kill -9 "$k_pid"
    wait "$k_pid" 2>/dev/null
    SIDECORED_PID=""
    k_reaped=$(since "$KILL_AT")
    KILL_LOG0=$(log_lines)
    rig_spawn_sidecored "$mode"
}
# kill_restart: kill_spawn, then wait until the new daemon's socket answers.
kill_restart() {
    kill_spawn
    i=0
    until ctl_up; do
        if [ $i -ge 60 ] || ! kill -0 "$SIDECORED_PID" 2>/dev/null; then
            log_since "$KILL_LOG0" | sed "s/^/RIG: $mode: killio: sidecored did not come up: /"
            return 1
        fi
        sleep 0.5; i=$((i + 1))
    done
    rig_say "$mode: killio: sidecored reaped ${k_reaped} s after the kill, answering again after $(since "$KILL_AT") s"
}
# adopted FROM BOUND: the log from line FROM on says both disks were adopted
# Connected and reattached to their frontends (within BOUND seconds).
n_in_log() { log_since "$1" | grep -c "$2"; }
adopted() {
    i=0
    until [ "$(n_in_log "$1" 'adopting a device in state Connected')" -ge 2 ] &&
        [ "$(n_in_log "$1" 'reattached to a connected frontend')" -ge 2 ]; do
        [ $i -ge $(($2 * 2)) ] && return 1
        sleep 0.5; i=$((i + 1))
    done
}
# log_clean FROM: no error in the log from line FROM on, and each ring got
# its file-backed response log (without it a kill may lose requests).
log_clean() { [ -n "$1" ] && ! log_since "$1" | grep -q ': error: \|no response log'; }
in_phase() { ! grep -aq "^DOMU-RESULT killio-$1 [0-9]" "/var/log/xen/console/guest-$g.log"; }
yes_no() { "$@" && echo yes || echo no; }
ctl_up() { sidecorectl status >/dev/null 2>&1; }

g=killed
log1=$(log_lines)
new_disk $g $((KILLIO_MB + 16))M
rig_domu_cfg $g "$(disk_of $g)', 'backend=0, vdev=xvdb, access=ro, script=block-sidecore, target=/dev/vdc" \
    "rig_mb=4 rig_skip_mb=1 rig_killio=$KILLIO_MB" 1 384
if ! rig_domu_start $g; then
    rig_fail "$mode: SIGKILL under fio: xl create"
elif ! rig_wait_console $g "^DOMU-RESULT killio-write-start" 240; then
    rig_fail "$mode: SIGKILL under fio: the guest never started fio"
else
    t_fio=$(uptime_s)
    d1=$(rand_secs 1 "$KILL1_MAX")
    sleep "$d1"
    w1=$(yes_no in_phase write)
    kill_spawn
    rig_say "$mode: killio: kill 1 ${d1} s after fio began writing (still writing: $w1)"
    d2=$(rand_secs 0.1 1.5)
    sleep "$d2"
    w2=$(yes_no in_phase write)
    l2=$KILL_LOG0
    rig_check "$mode: SIGKILL 2 (${d2} s after restart 1 was launched): sidecored started again" \
        kill_restart
    # how far restart 1 got: its log, final now, ends where restart 2's begins
    r1=$(log_since "$l2" | head -n $((KILL_LOG0 - l2)))
    a2="$(echo "$r1" | grep -c 'adopting a device') adopted, $(echo "$r1" | grep -c 'reattached to a connected') reattached"
    rig_say "$mode: killio: kill 2 ${d2} s after restart 1 was launched, $(awk -v a="$t_fio" -v b="$KILL_AT" 'BEGIN {printf "%.1f", b - a}') s into fio (still writing: $w2); restart 1 had got to: $a2 of 2 disks, $(echo "$r1" | grep -c 'serving [0-9]* device types') 'serving' lines"
    rig_check "$mode: SIGKILL 2: the new sidecored adopted both Connected disks" adopted "$KILL_LOG0" 30
    rig_check "$mode: SIGKILL 2: sidecored serves both disks" wait_devices 2 30
    rig_check "$mode: SIGKILLs 1-2: no error in the restarted sidecoreds' logs" log_clean "$log1"
    rig_check "$mode: SIGKILL 1 landed in fio's write phase" test "$w1" = yes
    if rig_wait_console $g "^DOMU-RESULT killio-verify-start" 300; then
        d3=$(rand_secs 1 "$KILL3_MAX")
        sleep "$d3"
        v3=$(yes_no in_phase verify)
        rig_check "$mode: SIGKILL 3 (${d3} s into fio's verify pass): sidecored started again" kill_restart
        rig_say "$mode: killio: kill 3 ${d3} s after fio began verifying (still verifying: $v3)"
        rig_check "$mode: SIGKILL 3: the new sidecored adopted both Connected disks" adopted "$KILL_LOG0" 30
        rig_check "$mode: SIGKILL 3: no error in the restarted sidecored's log" log_clean "$KILL_LOG0"
        rig_check "$mode: SIGKILL 3 landed in fio's verify pass" test "$v3" = yes
    else
        rig_fail "$mode: SIGKILL under fio: the guest never reached fio's verify pass"
    fi
fi
rig_domu_wait $g 300
grep -a "^DOMU-KMSG| " "/tmp/$g.console" | tr -d '\r' | sed "s/^/DOMU $g| /"
rig_say "$mode: killio: fio write phase $(rig_domu_result $g killio-write), verify pass $(rig_domu_result $g killio-verify) (exit status, seconds)"
rig_check "$mode: SIGKILL under fio: fio's writes exit 0" \
    sh -c '[ "${1%% *}" = 0 ]' _ "$(rig_domu_result $g killio-write)"
rig_check "$mode: SIGKILL under fio: fio's verify pass exits 0 (every block's crc32c right)" \
    sh -c '[ "${1%% *}" = 0 ]' _ "$(rig_domu_result $g killio-verify)"
rig_check "$mode: SIGKILL under fio: no disk, blkfront or I/O error in the guest's kernel log" \
    test "$(rig_domu_result $g killio-kmsg)" = 0
dom0_sha=$(dd if=/var/lib/rig/$g.img bs=1M skip=8 count="$KILLIO_MB" 2>/dev/null | sha256sum | cut -d' ' -f1)
rig_check "$mode: SIGKILL under fio: Dom0's file holds what the guest reads back (sha256 of the region)" \
    sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$(rig_domu_result $g killio-sha)" "$dom0_sha"
rig_check "$mode: SIGKILL under fio: the guest finished" grep -aq "^DOMU-RESULT done" "/tmp/$g.console"
rig_check "$mode: SIGKILL under fio: both devices gone from sidecored" wait_devices 0 30
# What the restarted daemons said beyond the routine (adoptions, warnings
# such as a torn push finished), and any process that died of a trap in Dom0.
log_since "$log1" | grep ': warning: \|: error: \|adopting\|reattached\|stale\|unclean' |
    sed "s/^/RIG: $mode: killio: sidecored log: /"
dmesg | grep -a "traps:\|invalid opcode" | tail -n 8 | sed "s/^/RIG: $mode: killio: dom0 kernel: /"

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
