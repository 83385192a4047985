#!/bin/sh
# rig-boot-timeout: 900
# Rig scenario (runs in Dom0): sidecored in a driver domain.  Dom0's sidecored
# serves the driver domain its root disk (a writable copy of Dom0's root,
# /dev/vdc); the driver domain (driver_domain=1, dd-init.sh) runs `xl devd`
# and its own sidecored, and a guest whose config says backend=rig-dd gets
# its disk from there: libxl in Dom0 writes the backend directory under the
# driver domain, the hotplug script runs in the driver domain.  Checks: the
# driver domain comes up on a sidecore-served root, the guest's disk is
# connected by the driver domain's sidecored (not Dom0's), the guest's data
# round-trips and lands in the driver domain's file, and everything is torn
# down cleanly.  Mode of the driver domain's sidecored: $RIG_DD_MODE (poll).
# For diagnosis, RIG_DD_ROOT=blkback (set by a wrapper scenario that sources
# this one) serves the driver domain's root from Linux's xen-blkback instead;
# the checks on Dom0's sidecored then fail, as they should.
# Placement (issue 14): RIG_DD_PLACE=dedicated (blk-dd-dedicated.sh) gives the
# driver domain physical CPU 1 in a cpupool of its own with `sidecorectl
# place` (credit2: Debian's Xen has no null scheduler) before the guest starts; shared (the default)
# leaves it in Pool-0 with Dom0 and the guest.  Either way the driver
# domain's sidecore reports its steal while it serves the guest, and Dom0's
# sidecored where its own sidecore runs (libxenctrl).
. ./lib.sh
rig_install_sidecore
dd_mode=${RIG_DD_MODE:-poll}
devices() { sidecorectl status 2>/dev/null | awk '$1=="devices"{print $2}'; }
DD_LOG=/var/log/xen/console/guest-rig-dd.log
dd_said() { sed -n "s/^DD-RESULT $1 //p" $DD_LOG | tr -d '\r' | tail -n1; }
# dd_devices: the device count in the driver domain's last status report.
dd_devices() { tr -d '\r' <$DD_LOG | awk '$2=="status" && $3=="devices"{v=$4} END{print v}'; }
dd_console() { tr -d '\r' <$DD_LOG | tail -n "$1" | sed 's/^/RIG: rig-dd console: /'; }
# dd_diagnose: what a failed connect leaves to read: both sides' xenstore, the
# driver domain's own logs (asked through data/rig-cmd=diag, 20 s), Dom0's
# sidecored (which serves the driver domain's root), the consoles.
dd_diagnose() {
    xenstore-ls -f "/local/domain/$dd/backend" 2>&1 | sed 's/^/RIG: xs: /'
    xenstore-ls -f "/local/domain/$gid/device" 2>&1 | sed 's/^/RIG: xs: /'
    sidecorectl devices 2>&1 | sed 's/^/RIG: dom0 sidecorectl: /'
    tail -n 20 /tmp/sidecored-poll.log | sed 's/^/RIG: dom0 sidecored: /'
    before=$(grep -ac "^DD-LOG diag end" $DD_LOG)
    xenstore-write "/local/domain/$dd/data/rig-cmd" diag
    i=0
    while [ "$(grep -ac "^DD-LOG diag end" $DD_LOG)" = "$before" ] && [ $i -lt 40 ]; do
        sleep 0.5; i=$((i + 1))
    done
    [ $i -lt 40 ] || rig_say "the driver domain did not answer diag in 20 s"
    dd_console 80
    tail -n 30 "/var/log/xen/console/guest-$g.log" | sed "s/^/RIG: $g console: /"
}

if [ "${RIG_DD_ROOT:-sidecore}" = blkback ]; then
    # Diagnosis only: the driver domain's root from Linux's xen-blkback.
    modprobe xen-blkback
    dd_root="backend=0, vdev=xvda, format=raw, access=rw, target=/dev/vdc"
else
    rig_start_sidecored poll || { rig_fail "Dom0's sidecored starts"; exit 1; }
    dd_root="backend=0, vdev=xvda, script=block-sidecore, target=/dev/vdc"
fi

rig_domu_cfg rig-dd "$dd_root" \
    "rig_role=dd rig_dd_mode=$dd_mode rig_dd_mb=16 loglevel=7" 1 512 "driver_domain = 1"
rig_check "xl create of the driver domain (driver_domain=1, root served by Dom0's sidecored)" \
    rig_domu_start rig-dd
if rig_wait_console rig-dd "^DD-RESULT \(ready\|.*failed\|no root\)" 240 &&
   rig_wait_console rig-dd "^DD-RESULT ready" 1; then
    rig_ok "driver domain up: xl devd and sidecored ($dd_mode) running"
else
    rig_fail "driver domain up: xl devd and sidecored ($dd_mode) running"
    sed 's/^/RIG: rig-dd console: /' /var/log/xen/console/guest-rig-dd.log | tail -n 60
    xl destroy rig-dd 2>/dev/null
    rig_stop_sidecored
    exit 1
fi
dd=$(xl domid rig-dd)
rig_say "driver domain is domain $dd; Dom0's sidecored serves $(devices) device(s)"
dd_place=${RIG_DD_PLACE:-shared}
# dom0_core KEY: a field of Dom0's sidecore's placement (sidecorectl cores --json).
dom0_core() {
    sidecorectl cores --json 2>/dev/null | tr -d ' \n' |
        sed -n "s/.*\"placement\":{[^}]*\"$1\":\"*\([^,\"}]*\).*/\1/p"
}
if [ "$dd_place" = dedicated ]; then
    rig_check "sidecorectl place rig-dd --pcpus 1: a cpupool of its own with pCPU 1, its vCPU pinned" \
        sidecorectl place rig-dd --pcpus 1
    rig_check "sidecorectl place rig-dd --check: good" sidecorectl place rig-dd --check
    xl cpupool-list -c | sed 's/^/RIG: cpupool: /'
    xl vcpu-list | sed 's/^/RIG: vcpu-list: /'
    rig_check "xl vcpu-list: the driver domain's vCPU 0 runs on pCPU 1 alone" \
        sh -c 'xl vcpu-list rig-dd | awk "\$3==0 && \$4==1 && \$7==\"1\" {f=1} END{exit !f}"'
    rig_check "xl cpupool-list: pool sidecores (its name where libxl keeps it) holds pCPU 1" \
        sh -c 'xl cpupool-list -c | awk "\$1==\"sidecores\" && \$2==\"1\" {f=1} END{exit !f}"'
    # Pool-0 has pCPU 0 alone now: Dom0's sidecore must be said to run there.
    sleep 1
    rig_say "Dom0's sidecore: pcpu $(dom0_core pcpu), pool $(dom0_core pool_name) ($(dom0_core sched)), steal $(dom0_core steal_pct)%"
    rig_check "Dom0's sidecored reports its sidecore on pCPU 0 in Pool-0 (credit2), from libxenctrl" \
        test "$(dom0_core pcpu)/$(dom0_core pool_name)/$(dom0_core sched)" = "0/Pool-0/credit2"
else
    rig_check "sidecorectl place rig-dd --check: exit 1, the domain is in Pool-0" \
        sh -c 'sidecorectl place rig-dd --check >/tmp/place-check.out 2>&1; rc=$?
               sed "s/^/RIG: place --check: /" /tmp/place-check.out
               [ $rc = 1 ] && grep -q "is in Pool-0 (id 0), not in a cpupool of its own" /tmp/place-check.out'
    rig_say "Dom0's sidecore: pcpu $(dom0_core pcpu), pool $(dom0_core pool_name) ($(dom0_core sched)), steal $(dom0_core steal_pct)%"
    rig_check "Dom0's sidecored reports its sidecore's pCPU and pool (Pool-0, credit2), from libxenctrl" \
        sh -c 'case "$1" in [01]/Pool-0/credit2) ;; *) exit 1 ;; esac' _ \
        "$(dom0_core pcpu)/$(dom0_core pool_name)/$(dom0_core sched)"
fi

# dd_steal: "NS UPTIME" of the driver domain's last report.
dd_steal() { dd_said steal; }
# dd_report: asks the driver domain for a report (a "file" line, then the
# status lines up to queue_failures); 1 if none came within 30 s.
dd_report() {
    before=$(grep -ac "^DD-RESULT status queue_failures" $DD_LOG)
    xenstore-write "/local/domain/$dd/data/rig-cmd" report
    i=0
    while [ "$(grep -ac "^DD-RESULT status queue_failures" $DD_LOG)" = "$before" ]; do
        [ $i -ge 60 ] && return 1
        sleep 0.5; i=$((i + 1))
    done
}
dd_report && steal0=$(dd_steal)

g=dd-guest
rig_domu_cfg $g "backend=rig-dd, vdev=xvda, script=block-sidecore, target=/var/lib/rig/disk.img" \
    "rig_mb=16 rig_skip_mb=1 rig_rounds=3"
rig_check "xl create of a guest with backend=rig-dd" rig_domu_start $g
gid=$(xl domid $g 2>/dev/null)
if rig_wait_console $g "^DOMU-RESULT read " 180; then
    xenstore-ls -f "/local/domain/$dd/backend/vbd" | sed "s/^/RIG: xs: /"
    rig_check "the guest's backend directory is under the driver domain" \
        xenstore-read "/local/domain/$dd/backend/vbd/$gid/51712/state"
    rig_check "the driver domain's backend reports Connected (4)" \
        test "$(xenstore-read "/local/domain/$dd/backend/vbd/$gid/51712/state")" = 4
    rig_check "the hotplug script ran in the driver domain (hotplug-status connected)" \
        test "$(xenstore-read "/local/domain/$dd/backend/vbd/$gid/51712/hotplug-status")" = connected
    rig_check "Dom0's sidecored serves only the driver domain's root" test "$(devices)" = 1
else
    rig_fail "the guest's disk connected through the driver domain"
    dd_diagnose
fi
rig_domu_wait $g 240
w=$(rig_domu_result $g write); r=$(rig_domu_result $g read)
rig_check "guest reads back what it wrote (16 MiB, sha256)" sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$w" "$r"
rig_check "guest's 3 more rounds all ok" \
    test "$(grep -ac "^DOMU-RESULT round [0-9]* ok" "/tmp/$g.console")" = 3
last=$(sed -n 's/^DOMU-RESULT round 3 ok //p' "/tmp/$g.console" | tr -d '\r')

if dd_report; then
    rig_check "the driver domain's file holds the guest's last round" test "$(dd_said file)" = "$last"
    pct=$(echo "${steal0:-} $(dd_steal)" |
          awk 'NF==4 && $4>$2 {printf "%.1f", ($3-$1)/(($4-$2)*1e9)*100}')
    rig_say "the driver domain's sidecore ($dd_mode, $dd_place): steal ${pct:-?}% of its time while serving the guest"
    rig_check "the driver domain's sidecored reports its steal (from its own runstate)" test -n "$pct"
    if [ "$dd_place" = dedicated ]; then
        rig_check "on a pCPU of its own its steal stays below 5% (${pct:-?}%)" \
            awk -v p="${pct:-100}" 'BEGIN{exit !(p < 5)}'
    fi
    # The guest is gone; its device goes from the driver domain's sidecored.
    i=0
    while [ "$(dd_devices)" != 0 ] && [ $i -lt 10 ]; do
        sleep 2; dd_report || break; i=$((i + 1))
    done
    rig_check "the driver domain's sidecored let the guest's device go (devices '$(dd_devices)')" \
        test "$(dd_devices)" = 0
else
    rig_fail "the driver domain reports its file"
    dd_console 40
fi
xenstore-write "/local/domain/$dd/data/rig-cmd" stop
rig_check "the driver domain shuts down" rig_domu_wait rig-dd 60
if [ "$dd_place" = dedicated ]; then
    rig_check "the sidecores pool is destroyed and pCPU 1 back in Pool-0" \
        sh -c 'xl cpupool-destroy sidecores && xl cpupool-cpu-add Pool-0 1'
fi
dd_console 60
rig_check "Dom0's sidecored let the driver domain's root go" \
    sh -c 'i=0; while [ "$(sidecorectl status 2>/dev/null | awk "\$1==\"devices\"{print \$2}")" != 0 ]; do
             [ $i -ge 60 ] && exit 1; sleep 0.5; i=$((i + 1)); done'
rig_stop_sidecored
exit $RIG_TAP_FAILED
