#!/bin/sh
# Rig scenario (runs in Dom0): sidecored's internal L2 switch.  Two PV DomUs
# (Linux's xen-netfront, domu-init.sh's rig_role=net) have vifs with
# bridge=scsw0, the name of sidecored's switch (its vif.switch setting's
# default), so their vifs are ports of that switch rather than TAPs on a Linux
# bridge; the switch's host port is the interface scsw0 in Dom0, which gets
# 10.98.0.1/24.  sidecored runs in poll mode, then in event mode (or the modes
# in $RIG_NET_MODES).
# Checks: both vifs Connected, marked sidecore-switch=scsw0, with no TAP of
# their own; ping between the guests and between Dom0 and each; iperf3 TCP
# both ways and UDP between the guests, TCP Dom0 -> guest through scsw0;
# 4 MiB sha256-verified transfers guest -> guest both ways and Dom0 <-> guest.
# rig-boot-timeout: 1200
. ./lib.sh
rig_net_prepare
rig_check "Linux's xen-netback is neither loaded nor bound" rig_no_netback
iperf3 -s -D --logfile /tmp/iperf3-server.log
mb=4

# switch MODE: the checks with sidecored in MODE; 1 when the guests did not come up.
switch() {
    mode=$1; a=sw-a-$mode; b=sw-b-$mode; t0=$(rig_now)
    rig_start_sidecored "$mode" || { rig_fail "$mode: sidecored starts"; return 1; }
    rig_net_cfg "$a" 10.98.0.2/24 "bridge=scsw0, script=vif-sidecore, mac=00:16:3e:00:02:02"
    rig_net_cfg "$b" 10.98.0.3/24 "bridge=scsw0, script=vif-sidecore, mac=00:16:3e:00:02:03"
    if rig_domu_start "$a" && rig_domu_start "$b"; then rig_ok "$mode: xl create of two guests with bridge=scsw0"
    else rig_fail "$mode: xl create of two guests with bridge=scsw0"; xl destroy "$a" 2>/dev/null; return 1; fi
    up=0
    rig_net_guest_up "$a" 00:16:3e:00:02:02 180 || up=1
    rig_net_guest_up "$b" 00:16:3e:00:02:03 60 || up=1
    for g in $a $b; do
        id=$(xl domid "$g")
        xenstore-ls -f "/local/domain/0/backend/vif/$id/0" 2>&1 | sed "s/^/RIG: xs: /"
        sw=$(xenstore-read "/local/domain/0/backend/vif/$id/0/sidecore-switch" 2>/dev/null)
        rig_check "$mode: $g's vif is a switch port (sidecore-switch='$sw')" test "$sw" = scsw0
        rig_check "$mode: $g's vif has no TAP of its own" sh -c '! ip link show dev "$1" >/dev/null 2>&1' _ "vif$id.0"
    done
    sidecorectl devices 2>&1 | sed "s/^/RIG: sidecorectl devices: /"
    if [ $up = 1 ]; then
        rig_net_dump "$a" "$mode"; rig_net_dump "$b" "$mode"
        xl destroy "$a"; xl destroy "$b"
        rig_domu_wait "$a" 30; rig_domu_wait "$b" 30
        return 1
    fi
    rig_say "$mode: both guests up $(($(rig_now) - t0)) s after xl create"
    rig_check "$mode: the switch's host port scsw0 is in Dom0" ip link show dev scsw0 || return 1
    ip addr add 10.98.0.1/24 dev scsw0 2>/dev/null
    ip link set scsw0 up
    ip -d link show dev scsw0 | sed "s/^/RIG: ip link: /"

    rig_check "$mode: ping $a -> $b" rig_guest "$a" 30 "ping -c 3 -W 5 10.98.0.3"
    rig_check "$mode: ping $b -> $a" rig_guest "$b" 30 "ping -c 3 -W 5 10.98.0.2"
    rig_check "$mode: ping Dom0 -> $a through scsw0" ping -c 3 -W 5 10.98.0.2
    rig_check "$mode: ping Dom0 -> $b through scsw0" ping -c 3 -W 5 10.98.0.3
    rig_check "$mode: ping $b -> Dom0 through scsw0" rig_guest "$b" 30 "ping -c 3 -W 5 10.98.0.1"

    rig_guest "$b" 20 "iperf3 -s -D --logfile /tmp/iperf3-server.log" >/dev/null
    rig_check "$mode: iperf3 TCP $a -> $b" rig_iperf "$a" "$mode tcp a->b" 10.98.0.3 -t 3
    rig_check "$mode: iperf3 TCP $b -> $a" rig_iperf "$a" "$mode tcp b->a" 10.98.0.3 -t 3 -R
    rig_check "$mode: iperf3 UDP $a -> $b" rig_iperf "$a" "$mode udp a->b" 10.98.0.3 -t 2 -u -b 20M
    rig_check "$mode: iperf3 TCP Dom0 -> $a through scsw0" rig_iperf "$a" "$mode tcp dom0->a" 10.98.0.1 -t 2 -R

    rig_check "$mode: $mb MiB $a -> $b, sha256 equal" rig_xfer_g2g "$a" "$b" 10.98.0.3 7011 $mb
    rig_say "$mode: a->b: $RIG_XFER"
    rig_check "$mode: $mb MiB $b -> $a, sha256 equal" rig_xfer_g2g "$b" "$a" 10.98.0.2 7012 $mb
    rig_say "$mode: b->a: $RIG_XFER"
    rig_check "$mode: $mb MiB $a -> Dom0 through scsw0, sha256 equal" rig_xfer_up "$a" 10.98.0.1 7013 $mb
    rig_check "$mode: $mb MiB Dom0 -> $b through scsw0, sha256 equal" rig_xfer_down "$b" 10.98.0.1 7014 $mb

    sidecorectl devices 2>&1 | sed "s/^/RIG: sidecorectl devices (after traffic): /"
    [ $RIG_TAP_FAILED = 0 ] || { rig_net_dump "$a" "$mode"; rig_net_dump "$b" "$mode"; }
    rig_guest_off "$a" 60
    rig_guest_off "$b" 60
    rig_check "$mode: both guests finished" sh -c \
        'grep -aq "^DOMU-RESULT done" "/tmp/$1.console" && grep -aq "^DOMU-RESULT done" "/tmp/$2.console"' _ "$a" "$b"
    rig_check "$mode: sidecored still runs" kill -0 "$SIDECORED_PID"
    rig_say "$mode: done $(($(rig_now) - t0)) s after xl create"
}

failed=0
for mode in ${RIG_NET_MODES:-poll event}; do
    RIG_TAP_FAILED=0
    switch "$mode"
    rig_stop_sidecored
    if [ $RIG_TAP_FAILED = 0 ]; then tail -n 30 "/tmp/sidecored-$mode.log" | sed "s/^/RIG: sidecored-$mode.log: /"
    else failed=1; tail -n 200 "/tmp/sidecored-$mode.log" | sed "s/^/RIG: sidecored-$mode.log: /"; fi
    # the next sidecored makes its switch (and scsw0) anew
    ip link del scsw0 2>/dev/null
done
[ $failed = 0 ] && [ $RIG_TAP_FAILED = 0 ]
exit $?
