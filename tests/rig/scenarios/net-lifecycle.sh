#!/bin/sh
# Rig scenario (runs in Dom0): a vif's lifecycle with Linux's xen-netfront
# against sidecored (mode $RIG_MODE, default poll; vif.max-queues 2), one PV
# DomU with 2 vCPUs on Dom0's bridge br0 (10.99.0.1/24; guest 10.99.0.2):
#   multi-queue: netfront asks for 2 queues (multi-queue-num-queues), the
#     guest has 2 tx and 2 rx queues, sidecored serves both; iperf3 with 4
#     streams both ways, verified transfers both ways;
#   xl network-detach while the guest sends: eth0 goes in the guest, the
#     vif and its TAP go in Dom0, sidecored lives on; xl network-attach: a
#     new vif connects (2 queues again), is bridged, and carries verified data;
#   sidecored stopped (SIGTERM) while the guest sends and started again: the
#     vif's TAP outlives it (persistent, still on br0), the new one adopts the
#     connected vif and its TAP, the link recovers (ping, verified transfers
#     both ways).
# rig-boot-timeout: 900
. ./lib.sh
rig_net_prepare
rig_check "Linux's xen-netback is neither loaded nor bound" rig_no_netback
rig_bridge br0 10.99.0.1/24 || rig_fail "Dom0's bridge br0"
iperf3 -s -D --logfile /tmp/iperf3-server.log
mode=${RIG_MODE:-poll}
mb=8
g=life
mac=00:16:3e:00:03:01
vifspec="bridge=br0, script=vif-sidecore, mac=$mac"
sc_args="--vif.max-queues 2"

# devid: the guest's vif now (xl network-list), empty when it has none.
devid() { xl network-list "$g" 2>/dev/null | awk 'NR > 1 && $1 ~ /^[0-9]+$/ {print $1; exit}'; }
# vif_served DEVID: sidecored lists the vif Connected on both ends.
vif_served() { sidecorectl devices 2>/dev/null | grep -Eq "^vif +$id/$1 +Connected +Connected "; }
wait_served() { # DEVID BOUND
    _w=0
    until vif_served "$1"; do [ $_w -lt $(($2 * 2)) ] || return 1; sleep 0.5; _w=$((_w + 1)); done
}
wait_gone() { # INTERFACE BOUND: until Dom0 has no such interface
    _w=0
    while ip link show dev "$1" >/dev/null 2>&1; do
        [ $_w -lt $(($2 * 2)) ] || return 1; sleep 0.5; _w=$((_w + 1))
    done
}
in_br0() { ip -o link show dev "$1" 2>/dev/null | grep -q "master br0"; }
# guest_eth0 ADDR: waits (30 s) for eth0 in the guest, gives it ADDR; 0 when
# its MAC is $mac.
guest_eth0() {
    rig_guest "$g" 40 "i=0; while [ ! -e /sys/class/net/eth0 ] && [ \$i -lt 150 ]; do sleep 0.2; i=\$((i + 1)); done;
        ip addr add $1 dev eth0 && ip link set eth0 up && cat /sys/class/net/eth0/address" &&
        grep -qx "$mac" "/tmp/$g.out"
}
# guest_ping: the guest reaches Dom0 within 15 tries.
guest_ping() {
    rig_guest "$g" 60 "i=0; until ping -c 1 -W 2 10.99.0.1 >/dev/null; do i=\$((i + 1)); [ \$i -lt 15 ] || exit 1; done; echo tries \$i"
}
finish() {
    rig_net_dump "$g" "$mode"
    xl destroy "$g" 2>/dev/null
    rig_domu_wait "$g" 30
    rig_stop_sidecored
    tail -n 200 "/tmp/sidecored-$mode.log" | sed "s/^/RIG: sidecored-$mode.log: /"
    exit 1
}

rig_start_sidecored "$mode" $sc_args || { rig_fail "$mode: sidecored starts"; exit 1; }

# --- multi-queue
rig_net_cfg "$g" 10.99.0.2/24 "$vifspec" 2 256 "xen_netfront.max_queues=2"
rig_check "$mode: xl create (2 vCPUs, xen_netfront.max_queues=2)" rig_domu_start "$g" || finish
id=$(xl domid "$g")
rig_net_guest_up "$g" "$mac" 180 || finish
fe=/local/domain/$id/device/vif/0
be=/local/domain/0/backend/vif/$id/0
xenstore-ls -f "$be" | sed "s/^/RIG: xs: /"
xenstore-ls -f "$fe" | sed "s/^/RIG: xs: /"
maxq=$(xenstore-read "$be/multi-queue-max-queues" 2>/dev/null)
nq=$(xenstore-read "$fe/multi-queue-num-queues" 2>/dev/null)
rig_check "mq: sidecored offers 2 queues (multi-queue-max-queues='$maxq')" test "$maxq" = 2
rig_check "mq: netfront asked for 2 queues (multi-queue-num-queues='$nq')" test "$nq" = 2
rig_check "mq: the frontend wrote queue-0 and queue-1" sh -c \
    'xenstore-read "$1/queue-0/tx-ring-ref" "$1/queue-1/tx-ring-ref" >/dev/null' _ "$fe"
sidecorectl devices >/tmp/devices 2>&1
sed "s/^/RIG: sidecorectl devices: /" /tmp/devices
rig_check "mq: sidecored serves the vif with 2 queues" grep -Eq "^vif +$id/0 +Connected +Connected .* 2 queues" /tmp/devices
rig_guest "$g" 20 "ls /sys/class/net/eth0/queues"
rig_check "mq: the guest's eth0 has 2 tx and 2 rx queues" sh -c \
    '[ "$(grep -Ec "^(tx|rx)-[01]$" "$1")" = 4 ]' _ "/tmp/$g.out"
rig_check "mq: iperf3 TCP, 4 streams, guest -> Dom0" rig_iperf "$g" "mq tcp up -P 4" 10.99.0.1 -t 3 -P 4
rig_check "mq: iperf3 TCP, 4 streams, Dom0 -> guest" rig_iperf "$g" "mq tcp down -P 4" 10.99.0.1 -t 3 -P 4 -R
rig_check "mq: $mb MiB guest -> Dom0, sha256 equal" rig_xfer_up "$g" 10.99.0.1 7021 $mb
rig_check "mq: $mb MiB Dom0 -> guest, sha256 equal" rig_xfer_down "$g" 10.99.0.1 7022 $mb
sidecorectl queues 2>&1 | sed "s/^/RIG: sidecorectl queues: /"

# --- xl network-detach / network-attach while the guest is up and sending
rig_guest "$g" 10 "(iperf3 -c 10.99.0.1 -t 30 >/tmp/bg-iperf.log 2>&1 &)" >/dev/null
sleep 3
rig_check "hotplug: xl network-detach while the guest sends" xl network-detach "$g" 0
rig_check "hotplug: eth0 went away in the guest" rig_guest "$g" 40 \
    "i=0; while [ -e /sys/class/net/eth0 ] && [ \$i -lt 150 ]; do sleep 0.2; i=\$((i + 1)); done; [ ! -e /sys/class/net/eth0 ]"
rig_check "hotplug: the TAP vif$id.0 went away in Dom0" wait_gone "vif$id.0" 30
rig_check "hotplug: the backend directory is gone" sh -c '! xenstore-read "$1/state" >/dev/null 2>&1' _ "$be"
rig_check "hotplug: sidecored serves no vif" sh -c '! sidecorectl devices | grep -q "^vif "'
rig_check "hotplug: sidecored still runs" kill -0 "$SIDECORED_PID"
rig_check "hotplug: xl network-attach" xl network-attach "$g" bridge=br0 script=vif-sidecore "mac=$mac" || finish
d=$(devid)
rig_say "hotplug: the new vif is devid '$d'"
rig_check "hotplug: the new vif connects (state 4 on both ends)" rig_vif_connected "$g" "${d:-0}" 60 || finish
rig_check "hotplug: sidecored serves it" wait_served "$d" 30
rig_check "hotplug: its TAP vif$id.$d is a port of br0" in_br0 "vif$id.$d"
rig_check "hotplug: eth0 is back in the guest with $mac, given 10.99.0.2/24" guest_eth0 10.99.0.2/24
nq=$(xenstore-read "/local/domain/$id/device/vif/$d/multi-queue-num-queues" 2>/dev/null)
rig_check "hotplug: the new vif has 2 queues again (multi-queue-num-queues='$nq')" test "$nq" = 2
rig_check "hotplug: the guest reaches Dom0" guest_ping
rig_check "hotplug: $mb MiB guest -> Dom0, sha256 equal" rig_xfer_up "$g" 10.99.0.1 7023 $mb
rig_check "hotplug: $mb MiB Dom0 -> guest, sha256 equal" rig_xfer_down "$g" 10.99.0.1 7024 $mb
[ $RIG_TAP_FAILED = 0 ] || rig_net_dump "$g" "$mode"

# --- sidecored restarted while the guest sends
rig_guest "$g" 10 "(iperf3 -c 10.99.0.1 -t 20 >/tmp/bg-iperf.log 2>&1 &)
    (ping -i 0.2 -c 150 -W 1 10.99.0.1 >/tmp/bg-ping.log 2>&1 &)" >/dev/null
sleep 3
rig_stop_sidecored
# The TAP is persistent: it outlives the daemon, with its bridge, for the
# next one to adopt (it goes only with its device).
rig_check "restart: the TAP vif$id.$d outlives the stopped sidecored, still a port of br0" in_br0 "vif$id.$d"
sleep 2
rig_check "restart: sidecored started again" rig_start_sidecored "$mode" $sc_args || finish
rig_check "restart: sidecored serves the running guest's vif again" wait_served "$d" 30
rig_check "restart: both ends Connected" rig_vif_connected "$g" "$d" 30
ip -d link show dev "vif$id.$d" 2>&1 | sed "s/^/RIG: ip link: /"
if ! rig_check "restart: the new TAP vif$id.$d is a port of br0 again" in_br0 "vif$id.$d"; then
    # Nothing runs the hotplug script again; do what it would do, to go on
    # testing the data path.
    rig_say "restart: bridging vif$id.$d by hand"
    ip link set dev "vif$id.$d" master br0 && ip link set dev "vif$id.$d" up
fi
rig_check "restart: the link recovers (the guest reaches Dom0)" guest_ping
rig_check "restart: $mb MiB guest -> Dom0, sha256 equal" rig_xfer_up "$g" 10.99.0.1 7025 $mb
rig_check "restart: $mb MiB Dom0 -> guest, sha256 equal" rig_xfer_down "$g" 10.99.0.1 7026 $mb
rig_guest "$g" 40 "sleep 20; tail -n 3 /tmp/bg-ping.log; tail -n 4 /tmp/bg-iperf.log" >/dev/null
sed "s/^/RIG: restart: background traffic: /" "/tmp/$g.out"
rig_check "restart: sidecored reported no queue failures" \
    sh -c '[ "$(sidecorectl status | awk "\$1==\"queue_failures\"{print \$2}")" = 0 ]'

[ $RIG_TAP_FAILED = 0 ] || rig_net_dump "$g" "$mode"
rig_guest_off "$g" 60
rig_check "the guest finished" grep -aq "^DOMU-RESULT done" "/tmp/$g.console"
rig_check "sidecored let the vif go" wait_gone "vif$id.$d" 30
rig_check "sidecored still runs" kill -0 "$SIDECORED_PID"
rig_stop_sidecored
tail -n 80 "/tmp/sidecored-$mode.log" | sed "s/^/RIG: sidecored: /"
exit $RIG_TAP_FAILED
