#!/bin/sh
# PID 1 of the rig's driver domain: a PV DomU whose root is a writable copy of
# Dom0's (served to it by Dom0's sidecored), started by the driver-domain
# scenario with driver_domain=1.  domu-init.sh (rig_role=dd) mounts that root
# and copies /rig-dd to /rig here: this script, sidecored, sidecorectl and the
# hotplug script.  It brings up what a backend domain needs (xenfs, the
# gntdev/evtchn devices, `xl devd` to run hotplug scripts for the devices whose
# backend is here), starts sidecored, and answers the scenario through its
# console (hvc0, logged by Dom0's xenconsoled) with "DD-RESULT" lines:
#   up DOMID / sidecored MODE / ready      once serving
#   file SHA256 / steal NS UPTIME / status ...
#                                          when Dom0 writes data/rig-cmd=report
#   DD-LOG ... / DD-LOG diag end           on data/rig-cmd=diag (its logs)
# and stops when Dom0 writes data/rig-cmd=stop (or destroys the domain).
# data/rig-cmd="SEQ BOUND COMMAND" runs COMMAND (sh -c, at most BOUND s) and
# answers as a network guest does (domu-init.sh: DOMU-OUT SEQ| ... lines, then
# DOMU-RESULT cmd SEQ STATUS), so that lib.sh's rig_guest and rig_xfer_g2g
# drive this domain too: the net driver-domain scenario's bridge, iperf3
# server and transfers.  For vifs it has tun and bridge loaded, the
# vif-sidecore hotplug script, and Linux's xen-netback refused.
# Kernel command line: rig_dd_mode=poll|event (default poll), rig_dd_mb=N (MiB
# of the backing file to hash, at 1 MiB in, default 16).
export PATH=/rig/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
exec </dev/null >/dev/hvc0 2>&1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
hostname rig-dd

dd_off() {
    echo "DD-RESULT poweroff"
    sync
    busybox poweroff -f
    while :; do sleep 1; done
}

mode=poll; mb=16
for a in $(cat /proc/cmdline); do
    case $a in
    rig_dd_mode=*) mode=${a#rig_dd_mode=} ;;
    rig_dd_mb=*) mb=${a#rig_dd_mb=} ;;
    esac
done

# Nothing but sidecored may take this domain's vifs.
mkdir -p /etc/modprobe.d
echo "install xen_netback /bin/false" >/etc/modprobe.d/rig-no-netback.conf
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd tun bridge; do
    modprobe "$m" || echo "DD-RESULT modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen || { echo "DD-RESULT cannot mount xenfs"; dd_off; }
mkdir -p /var/run/xen /var/log/xen /var/lib/xen /etc/xen/scripts /run/sidecore /var/lib/rig
# sidecore from its package when the payload has one (as Dom0's lib.sh does);
# a failure ends the scenario's wait for "ready" at once ("... failed").
if [ -f /rig/sidecore.deb ]; then
    if dpkg -i /rig/sidecore.deb >/tmp/dpkg-sidecore.log 2>&1; then
        echo "DD-RESULT package sidecore $(dpkg-query -W -f='${Version}' sidecore) installed"
    else
        sed 's/^/dpkg: /' /tmp/dpkg-sidecore.log
        echo "DD-RESULT dpkg -i sidecore.deb failed"
        dd_off
    fi
else
    install -m 0755 /rig/hotplug/block-sidecore /etc/xen/scripts/block-sidecore
    install -m 0755 /rig/hotplug/vif-sidecore /etc/xen/scripts/vif-sidecore
fi
domid=$(xenstore-read domid)
echo "DD-RESULT up $domid"

# The disk this domain serves; the guest's config names it as target=.
rm -f /var/lib/rig/disk.img
truncate -s 64M /var/lib/rig/disk.img

# sidecored first, so a device libxl adds finds its backend at once.
sidecored --platform xen --mode "$mode" --cores 1 --log-level info >/tmp/sidecored.log 2>&1 &
scpid=$!
i=0
until sidecorectl status >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 60 ] || ! kill -0 $scpid 2>/dev/null; then
        echo "DD-RESULT sidecored failed"; sed 's/^/DD-LOG /' /tmp/sidecored.log; dd_off
    fi
    sleep 0.5
done
echo "DD-RESULT sidecored $mode"
# xl devd runs the hotplug scripts of this domain's backends (libxl in Dom0
# cannot: they must run where the backend is).
xl devd --pidfile=/run/xldevd.pid || { echo "DD-RESULT xl devd failed"; dd_off; }
echo "DD-RESULT ready"

# dd_logs: sidecored's log and the kernel's reports of faults, as DD-LOG lines.
dd_logs() {
    tail -n 40 /tmp/sidecored.log | sed 's/^/DD-LOG /'
    dmesg | grep -i "segfault\|general protection\|BUG\|WARNING" | sed 's/^/DD-LOG dmesg: /'
}

last=""
while :; do
    # -R: as Dom0 wrote it (a command's newlines too)
    cmd=$(xenstore-read -R data/rig-cmd 2>/dev/null)
    case "$cmd" in
    [0-9]*)
        seq=${cmd%% *}
        if [ "$seq" != "$last" ]; then
            last=$seq
            rest=${cmd#* }
            timeout -s KILL "${rest%% *}" sh -c "${rest#* }" </dev/null >/tmp/cmd.out 2>&1
            rc=$?
            sed "s/^/DOMU-OUT $seq| /" /tmp/cmd.out
            echo "DOMU-RESULT cmd $seq $rc"
        fi
        ;;
    report)
        xenstore-write data/rig-cmd done
        echo "DD-RESULT file $(dd if=/var/lib/rig/disk.img bs=1M skip=1 count="$mb" 2>/dev/null | sha256sum | cut -d' ' -f1)"
        # its sidecore's steal (cumulative ns, from this domain's runstate as
        # Linux shows it) and this domain's uptime (s), so Dom0 takes rates
        echo "DD-RESULT steal $(sidecorectl cores --json 2>/dev/null | tr -d ' \n' |
            sed -n 's/.*"steal_ns":\([0-9][0-9]*\).*/\1/p') $(cut -d' ' -f1 /proc/uptime)"
        sidecorectl status 2>&1 | sed 's/^/DD-RESULT status /'
        ;;
    diag)
        xenstore-write data/rig-cmd done
        {
            ps -o pid,stat,args 2>/dev/null || ps
            sidecorectl devices
            for f in /var/log/xen/*.log; do [ -f "$f" ] && tail -n 20 "$f" | sed "s|^|$f: |"; done
            xenstore-ls -f "/local/domain/$domid/backend"
        } 2>&1 | sed 's/^/DD-LOG /'
        dd_logs
        echo "DD-LOG diag end"
        ;;
    stop)
        kill $scpid
        i=0
        while kill -0 $scpid 2>/dev/null && [ $i -lt 20 ]; do sleep 0.5; i=$((i + 1)); done
        dd_logs
        dd_off
        ;;
    esac
    sleep 0.5
done
