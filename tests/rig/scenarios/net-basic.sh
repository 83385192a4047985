#!/bin/sh
# Rig scenario (runs in Dom0), the net smoke: sidecored serves a vif to a PV
# DomU running Linux's xen-netfront, in poll mode and in event mode (or the
# modes in $RIG_NET_MODES).  Dom0 has a Linux bridge br0 (10.99.0.1/24); the
# guest's vif has bridge=br0, script=vif-sidecore, so its TAP uplink
# vif<domid>.0 is a port of br0, and the guest (domu-init.sh's rig_role=net)
# gives eth0 10.99.0.2/24 and runs what Dom0 asks (lib.sh's rig_guest).
# Checks: Linux's xen-netback is out of the way and sidecored serves the vif;
# both ends Connected; ping both ways; iperf3 TCP and UDP both ways; 8 MiB
# sha256-verified transfers both ways, again (2 MiB) after the guest turned tx
# checksum offload, scatter-gather and TSO off (IPv4's checksum offload stays:
# netfront has it fixed on); the vif goes away with the guest.  Any failure
# dumps the vif's xenstore, Dom0's links and sidecored's log.
# rig-boot-timeout: 900
. ./lib.sh
rig_net_prepare
rig_check "Linux's xen-netback is neither loaded nor bound" rig_no_netback
rig_check "Dom0's bridge br0 with 10.99.0.1/24" rig_bridge br0 10.99.0.1/24
iperf3 -s -D --logfile /tmp/iperf3-server.log
mb=8

# basic MODE MAC: one guest's checks with sidecored in MODE; 1 when one failed.
basic() {
    mode=$1; mac=$2; g=net-$mode
    rig_start_sidecored "$mode" || { rig_fail "$mode: sidecored starts"; return 1; }
    rig_net_cfg "$g" 10.99.0.2/24 "bridge=br0, script=vif-sidecore, mac=$mac"
    t0=$(rig_now)
    rig_check "$mode: xl create with vif bridge=br0, script=vif-sidecore" rig_domu_start "$g" || return 1
    id=$(xl domid "$g")
    if ! rig_net_guest_up "$g" "$mac" 180; then
        rig_net_dump "$g" "$mode"
        xl destroy "$g"; rig_domu_wait "$g" 30
        return 1
    fi
    rig_say "$mode: the guest was up $(($(rig_now) - t0)) s after xl create"
    xenstore-ls -f "/local/domain/0/backend/vif/$id/0" 2>&1 | sed "s/^/RIG: xs: /"
    xenstore-ls -f "/local/domain/$id/device/vif/0" 2>&1 | sed "s/^/RIG: xs: /"
    sidecorectl devices >/tmp/devices 2>&1
    sed "s/^/RIG: sidecorectl devices: /" /tmp/devices
    rig_check "$mode: sidecored serves the vif (sidecorectl devices: vif $id/0 Connected, $mac, vif$id.0)" \
        grep -Eq "^vif +$id/0 +Connected +Connected .* $mac vif$id.0 " /tmp/devices
    rig_check "$mode: the TAP vif$id.0 is a port of br0" \
        sh -c 'ip -o link show dev "$1" | grep -q "master br0"' _ "vif$id.0"
    rig_check "$mode: Linux's xen-netback still neither loaded nor bound" rig_no_netback
    rig_check_xenstore "$mode"

    rig_check "$mode: ping guest -> Dom0" rig_guest "$g" 30 "ping -c 3 -W 5 10.99.0.1"
    rig_check "$mode: ping Dom0 -> guest" ping -c 3 -W 5 10.99.0.2
    rig_check "$mode: iperf3 TCP guest -> Dom0" rig_iperf "$g" "$mode tcp up" 10.99.0.1 -t 3
    rig_check "$mode: iperf3 TCP Dom0 -> guest" rig_iperf "$g" "$mode tcp down" 10.99.0.1 -t 3 -R
    rig_check "$mode: iperf3 UDP guest -> Dom0" rig_iperf "$g" "$mode udp up" 10.99.0.1 -t 3 -u -b 20M
    rig_check "$mode: iperf3 UDP Dom0 -> guest" rig_iperf "$g" "$mode udp down" 10.99.0.1 -t 3 -u -b 20M -R
    rig_check "$mode: $mb MiB guest -> Dom0, sha256 equal" rig_xfer_up "$g" 10.99.0.1 7001 $mb
    rig_say "$mode: up: $RIG_XFER"
    rig_check "$mode: $mb MiB Dom0 -> guest, sha256 equal" rig_xfer_down "$g" 10.99.0.1 7002 $mb
    rig_say "$mode: down: $RIG_XFER"

    # netfront's IPv4 tx checksum offload is fixed on (not among its
    # hw_features): "tx off" turns off IPv6's only, and ethtool says so.
    rig_guest "$g" 30 "ethtool -K eth0 tx off sg off tso off"
    rig_guest "$g" 30 "ethtool -k eth0"
    rig_check "$mode: ethtool -K eth0 tx off sg off tso off in the guest: sg, tso and IPv6 tx csum off" \
        sh -c '[ "$(grep -Ec "^(scatter-gather|tcp-segmentation-offload|\s*tx-checksum-ipv6): off" "$1")" = 3 ]' \
        _ "/tmp/$g.out"
    # smaller: without TSO the guest's frames are 1500 bytes, slow to emulate
    rig_check "$mode: offloads off: 2 MiB guest -> Dom0, sha256 equal" rig_xfer_up "$g" 10.99.0.1 7003 2
    rig_check "$mode: offloads off: 2 MiB Dom0 -> guest, sha256 equal" rig_xfer_down "$g" 10.99.0.1 7004 2
    rig_check "$mode: offloads off: iperf3 TCP guest -> Dom0" \
        rig_iperf "$g" "$mode tcp up, offloads off" 10.99.0.1 -t 2
    rig_check "$mode: ethtool -K eth0 tx on sg on tso on again" rig_guest "$g" 30 "ethtool -K eth0 tx on sg on tso on"
    rig_check "$mode: offloads on again: $mb MiB guest -> Dom0, sha256 equal" rig_xfer_up "$g" 10.99.0.1 7005 $mb

    sidecorectl devices 2>&1 | sed "s/^/RIG: sidecorectl devices (after traffic): /"
    sidecorectl queues 2>&1 | sed "s/^/RIG: sidecorectl queues (after traffic): /"
    [ $RIG_TAP_FAILED = 0 ] || rig_net_dump "$g" "$mode"
    rig_guest_off "$g" 60
    rig_check "$mode: the guest finished" grep -aq "^DOMU-RESULT done" "/tmp/$g.console"
    rig_check "$mode: sidecored let the vif go (no vif$id.0 left)" sh -c \
        'i=0; while ip link show dev "$1" >/dev/null 2>&1; do [ $i -lt 60 ] || exit 1; sleep 0.5; i=$((i + 1)); done' \
        _ "vif$id.0"
    rig_check "$mode: sidecored still runs" kill -0 "$SIDECORED_PID"
    rig_say "$mode: done $(($(rig_now) - t0)) s after xl create"
}

failed=0
n=1
for mode in ${RIG_NET_MODES:-poll event}; do
    RIG_TAP_FAILED=0
    basic "$mode" "00:16:3e:00:01:0$n"
    n=$((n + 1))
    rig_stop_sidecored
    if [ $RIG_TAP_FAILED = 0 ]; then tail -n 30 "/tmp/sidecored-$mode.log" | sed "s/^/RIG: sidecored-$mode.log: /"
    else failed=1; tail -n 200 "/tmp/sidecored-$mode.log" | sed "s/^/RIG: sidecored-$mode.log: /"; fi
done
[ $failed = 0 ] && [ $RIG_TAP_FAILED = 0 ]
exit $?
