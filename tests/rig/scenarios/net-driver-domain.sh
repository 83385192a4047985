#!/bin/sh
# Rig scenario (runs in Dom0): a vif served by sidecored in a driver domain.
# Dom0's sidecored (event mode) serves the driver domain rig-dd its root (a
# writable copy of Dom0's, /dev/vdc) and the network guest its read-only
# tools disk (the same /dev/vdc: the guest reads binaries the driver domain
# leaves alone).  The driver domain (driver_domain=1, dd-init.sh) runs
# `xl devd` and its own sidecored ($RIG_DD_MODE, default poll), and gets,
# through data/rig-cmd, a Linux bridge br0 with 10.97.0.1/24 and an iperf3
# server.  The guest's vif says backend=rig-dd, bridge=br0,
# script=vif-sidecore: libxl in Dom0 writes the backend directory under the
# driver domain, xl devd runs vif-sidecore there, which puts the TAP that the
# driver domain's sidecored made into br0.  The guest (domu-init.sh's
# rig_role=net) gives eth0 10.97.0.2/24; its peer is the driver domain.
# Checks: the driver domain up; the vif Connected with its backend directory
# under the driver domain (hotplug-status from vif-sidecore there), served
# by the driver domain's sidecored (its TAP in br0 there), none by Dom0's;
# ping both ways, iperf3 TCP both ways and UDP, 8 MiB sha256-verified
# transfers both ways; xl network-detach: eth0, the backend directory, the
# TAP and the driver domain's device go; no error in the driver domain's
# sidecored log; the guest and the driver domain shut down, and Dom0's
# sidecored lets their disks go.  Failures destroy both domains.
# rig-boot-timeout: 1500
. ./lib.sh
rig_install_sidecore
dd_mode=${RIG_DD_MODE:-poll}
DD_LOG=/var/log/xen/console/guest-rig-dd.log
g=dd-net
mac=00:16:3e:00:03:01
dd=""
gid=""

dd_console() { tr -d '\r' <$DD_LOG | tail -n "$1" | sed 's/^/RIG: rig-dd console: /'; }
# in_dd BOUND COMMAND: rig_guest for the driver domain (dd-init.sh answers it).
in_dd() { rig_guest rig-dd "$@"; }

# dump: what a failure leaves to read: both ends of the vif in xenstore, the
# driver domain's view (links, sidecored's devices and log), the consoles.
dump() {
    [ -n "$dd" ] && [ -n "$gid" ] &&
        xenstore-ls -f "/local/domain/$dd/backend/vif/$gid" 2>&1 | sed 's/^/RIG: xs: /'
    [ -n "$gid" ] && xenstore-ls -f "/local/domain/$gid/device/vif" 2>&1 | sed 's/^/RIG: xs: /'
    in_dd 30 "ip -d link; bridge link; sidecorectl devices; sidecorectl queues; tail -n 60 /tmp/sidecored.log
        tail -n 20 /var/log/xen/xldevd.log; dmesg | tail -n 20" >/dev/null
    sidecorectl devices 2>&1 | sed 's/^/RIG: dom0 sidecorectl: /'
    tail -n 20 /tmp/sidecored-event.log | sed 's/^/RIG: dom0 sidecored: /'
    dd_console 40
    tail -n 40 "/var/log/xen/console/guest-$g.log" 2>/dev/null | sed "s/^/DOMU $g| /"
}

# finish: ends the scenario after a failure that leaves nothing to test:
# destroys both domains, stops Dom0's sidecored.
finish() {
    xl destroy "$g" 2>/dev/null
    xl destroy rig-dd 2>/dev/null
    rig_stop_sidecored
    rig_fail "the scenario ran to its end"
    exit 1
}

rig_start_sidecored event || { rig_fail "Dom0's sidecored starts"; exit 1; }
rig_domu_cfg rig-dd "backend=0, vdev=xvda, script=block-sidecore, target=/dev/vdc" \
    "rig_role=dd rig_dd_mode=$dd_mode rig_dd_mb=1 loglevel=7" 1 512 "driver_domain = 1"
rig_check "xl create of the driver domain (driver_domain=1, root served by Dom0's sidecored)" \
    rig_domu_start rig-dd || finish
if rig_wait_console rig-dd "^DD-RESULT \(ready\|.*failed\|no root\)" 240 &&
   rig_wait_console rig-dd "^DD-RESULT ready" 1; then
    rig_ok "driver domain up: xl devd and sidecored ($dd_mode) running"
else
    rig_fail "driver domain up: xl devd and sidecored ($dd_mode) running"
    dd_console 60
    finish
fi
dd=$(xl domid rig-dd)
rig_say "driver domain is domain $dd"
rig_check "the driver domain answers commands" in_dd 30 "uname -r" || { dd_console 40; finish; }
rig_check "Linux's xen-netback is neither loaded nor bound in the driver domain" in_dd 30 \
    "! grep -q '^xen_netback ' /proc/modules && [ ! -e /sys/bus/xen-backend/drivers/vif ]"
rig_check "the driver domain's bridge br0 with 10.97.0.1/24, an iperf3 server" in_dd 30 \
    "ip link set lo up && ip link add br0 type bridge stp_state 0 forward_delay 0 &&
     ip addr add 10.97.0.1/24 dev br0 && ip link set br0 up &&
     iperf3 -s -D --logfile /tmp/iperf3-server.log" || finish

rig_net_cfg "$g" 10.97.0.2/24 "backend=rig-dd, bridge=br0, script=vif-sidecore, mac=$mac"
t0=$(rig_now)
rig_check "xl create of a guest with vif backend=rig-dd, bridge=br0, script=vif-sidecore" \
    rig_domu_start "$g" || { dump; finish; }
gid=$(xl domid "$g")
be=/local/domain/$dd/backend/vif/$gid/0
if ! rig_net_guest_up "$g" "$mac" 180 "$dd"; then
    dump
    finish
fi
rig_say "the guest (domain $gid) was up $(($(rig_now) - t0)) s after xl create"
xenstore-ls -f "$be" 2>&1 | sed 's/^/RIG: xs: /'
rig_check "the vif's backend directory is under the driver domain ($be)" xenstore-read "$be/state"
rig_check "the frontend's backend-id is the driver domain's ($dd)" \
    test "$(xenstore-read "/local/domain/$gid/device/vif/0/backend-id")" = "$dd"
rig_check "vif-sidecore ran in the driver domain (hotplug-status connected)" \
    test "$(xenstore-read "$be/hotplug-status")" = connected
rig_check "Dom0 has no backend for the vif" \
    sh -c '! xenstore-read "/local/domain/0/backend/vif/$1/0/state" >/dev/null 2>&1' _ "$gid"
sidecorectl devices >/tmp/devices 2>&1
sed 's/^/RIG: dom0 sidecorectl devices: /' /tmp/devices
rig_check "Dom0's sidecored serves two disks (the driver domain's root, the guest's tools) and no vif" \
    sh -c '[ "$(grep -c "^vbd " "$1")" = 2 ] && ! grep -q "^vif " "$1"' _ /tmp/devices
in_dd 30 "sidecorectl devices; ip -o link show dev vif$gid.0" >/dev/null
cp /tmp/rig-dd.out /tmp/dd-devices
rig_check "the driver domain's sidecored serves the vif (vif $gid/0 Connected, $mac, vif$gid.0)" \
    grep -Eq "^vif +$gid/0 +Connected +Connected .* $mac vif$gid.0 " /tmp/dd-devices
rig_check "its TAP vif$gid.0 is a port of the driver domain's br0" grep -q "master br0" /tmp/dd-devices

rig_check "ping guest -> driver domain" rig_guest "$g" 30 "ping -c 3 -W 5 10.97.0.1"
rig_check "ping driver domain -> guest" in_dd 30 "ping -c 3 -W 5 10.97.0.2"
rig_check "iperf3 TCP guest -> driver domain" rig_iperf "$g" "dd tcp up" 10.97.0.1 -t 3
rig_check "iperf3 TCP driver domain -> guest" rig_iperf "$g" "dd tcp down" 10.97.0.1 -t 3 -R
rig_check "iperf3 UDP guest -> driver domain" rig_iperf "$g" "dd udp up" 10.97.0.1 -t 2 -u -b 20M
rig_check "8 MiB guest -> driver domain, sha256 equal" rig_xfer_g2g "$g" rig-dd 10.97.0.1 7001 8
rig_say "up: $RIG_XFER"
rig_check "8 MiB driver domain -> guest, sha256 equal" rig_xfer_g2g rig-dd "$g" 10.97.0.2 7002 8
rig_say "down: $RIG_XFER"
in_dd 30 "sidecorectl devices; sidecorectl queues" >/dev/null
[ $RIG_TAP_FAILED = 0 ] || dump

# Detach: libxl in Dom0 closes the vif, xl devd runs vif-sidecore offline in
# the driver domain, its sidecored drops the device and the TAP.
rig_check "xl network-detach $g 0" xl network-detach "$g" 0
rig_check "eth0 went away in the guest" rig_guest "$g" 40 \
    "i=0; while [ -e /sys/class/net/eth0 ] && [ \$i -lt 150 ]; do sleep 0.2; i=\$((i + 1)); done; [ ! -e /sys/class/net/eth0 ]"
rig_check "the vif's backend directory under the driver domain is gone" \
    sh -c 'i=0; while xenstore-read "$1/state" >/dev/null 2>&1; do
             [ $i -lt 60 ] || exit 1; sleep 0.5; i=$((i + 1)); done' _ "$be"
rig_check "the driver domain's sidecored let the vif and its TAP go" in_dd 40 \
    "i=0; while { sidecorectl devices | grep -q '^vif ' || ip link show dev vif$gid.0; } >/dev/null 2>&1; do
         [ \$i -lt 60 ] || exit 1; sleep 0.5; i=\$((i + 1)); done"
rig_check "the driver domain's sidecored still runs" in_dd 30 "sidecorectl status"
in_dd 30 "cat /tmp/sidecored.log" >/dev/null
rig_check "no error in the driver domain's sidecored log (its warnings and errors follow)" in_dd 30 \
    "grep '^sidecored: warning' /tmp/sidecored.log; ! grep '^sidecored: error' /tmp/sidecored.log"

rig_guest_off "$g" 60
rig_check "the guest finished" grep -aq "^DOMU-RESULT done" "/tmp/$g.console"
xenstore-write "/local/domain/$dd/data/rig-cmd" stop
rig_check "the driver domain shuts down" rig_domu_wait rig-dd 60
dd_console 20
rig_check "Dom0's sidecored let the disks go" \
    sh -c 'i=0; while [ "$(sidecorectl status 2>/dev/null | awk "\$1==\"devices\"{print \$2}")" != 0 ]; do
             [ $i -ge 60 ] && exit 1; sleep 0.5; i=$((i + 1)); done'
rig_stop_sidecored
[ $RIG_TAP_FAILED = 0 ] || tail -n 60 /tmp/sidecored-event.log | sed 's/^/RIG: dom0 sidecored: /'
exit $RIG_TAP_FAILED
