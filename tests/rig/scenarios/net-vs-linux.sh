#!/bin/sh
# Rig scenario (runs in Dom0): the same network guest traffic through
# sidecored (poll mode, event mode) and through Linux's own xen-netback, side
# by side in one boot, one guest after another; indicative figures only.
# Dom0 has a Linux bridge br0 (10.99.0.1/24) and an iperf3 server; each guest
# (domu-init.sh's rig_role=net, 1 vCPU, eth0 10.99.0.2/24) gets a vif with
# bridge=br0 from the backend under test:
#   sidecore-poll, sidecore-event: `sidecored --mode poll|event`, script=vif-sidecore;
#   netback: `modprobe xen-netback`, xl's default script vif-bridge (libxl's
#     defaults for a vif: backend domain 0, the kernel's netback), while
#     sidecored runs with --types vbd (event mode) for the guest's tools disk
#     only.
# The traffic: ping guest -> Dom0 and Dom0 -> guest (20 each, 0.2 s apart:
# the average round trip), iperf3 TCP guest -> Dom0 and Dom0 -> guest
# ($RIG_NETCMP_SECS s each, default 5), UDP both ways (-b 50M, 3 s), 8 MiB
# sha256-verified nc transfers both ways.  Dom0's busy share of its two
# vCPUs is taken over the four iperf3 runs (/proc/stat, as bench/blk-compare
# does).  "calib" is how long Dom0 takes to sha256 64 MiB of zeros just before
# the traffic: the emulated machine's speed at that moment, which the host's
# other load moves (compare a row's figures only with rows of similar calib).
# The checks are only that each backend serves the vif and that the
# traffic arrived (replies, iperf3 data, equal sha256); no figure is checked.
# The figures go out as "RIG-NETCMP BACKEND KEY VALUE" lines and, at the end,
# as a markdown table on lines "RIG: | ...":
#   grep -a '^RIG: |' /tmp/rig-logs/net-vs-linux.serial | cut -c6-
# RIG_NETCMP_BACKENDS picks a subset (sidecore-poll sidecore-event netback).
# rig-boot-timeout: 1500
. ./lib.sh
rig_net_prepare
rig_check "Dom0's bridge br0 with 10.99.0.1/24" rig_bridge br0 10.99.0.1/24 || exit 1
iperf3 -s -D --logfile /tmp/iperf3-server.log
secs=${RIG_NETCMP_SECS:-5}
backends=${RIG_NETCMP_BACKENDS:-sidecore-poll sidecore-event netback}
: >/tmp/netcmp

dom0_busy() { awk '$1=="cpu"{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
fig() { echo "RIG-NETCMP $1 $2 $3"; echo "$1 $2 $3" >>/tmp/netcmp; }
# mbits FILE: the receiver's rate in Mbit/s from iperf3's output.
mbits() {
    rig_iperf_sum "$1" | awk '{for (i = 2; i <= NF; i++) if ($i ~ /bits\/sec$/) {
        v = $(i - 1); u = substr($i, 1, 1)
        if (u == "K") v /= 1000; else if (u == "G") v *= 1000; else if (u == "b") v /= 1e6
        printf "%.1f", v; exit}}'
}
# loss FILE: UDP's lost share, "0.47%".
loss() { rig_iperf_sum "$1" | sed -n 's/.*(\([0-9.e+-]*%\)).*/\1/p'; }
# rtt FILE: ping's average round trip in ms.
rtt() { sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' "$1" | head -n1; }

# traffic B G ID: the traffic with guest G (domain ID) on backend B.
traffic() {
    b=$1; g=$2
    c0=$(date +%s%N)
    head -c 64M /dev/zero | sha256sum >/dev/null
    fig "$b" calib "$(( ($(date +%s%N) - c0) / 1000000 ))"
    rig_check "$b: ping guest -> Dom0" rig_guest "$g" 40 "ping -c 20 -i 0.2 -W 5 10.99.0.1"
    fig "$b" rtt-up "$(rtt "/tmp/$g.out")"
    ping -c 20 -i 0.2 -W 5 10.99.0.2 >/tmp/ping.out 2>&1
    rc=$?
    sed 's/^/RIG: ping: /' /tmp/ping.out
    rig_check "$b: ping Dom0 -> guest" test $rc = 0
    fig "$b" rtt-down "$(rtt /tmp/ping.out)"
    set -- $(dom0_busy)
    busy0=$1; all0=$2
    rig_check "$b: iperf3 TCP guest -> Dom0" rig_iperf "$g" "$b tcp up" 10.99.0.1 -t "$secs"
    fig "$b" tcp-up "$(mbits "/tmp/$g.iperf")"
    rig_check "$b: iperf3 TCP Dom0 -> guest" rig_iperf "$g" "$b tcp down" 10.99.0.1 -t "$secs" -R
    fig "$b" tcp-down "$(mbits "/tmp/$g.iperf")"
    rig_check "$b: iperf3 UDP guest -> Dom0" rig_iperf "$g" "$b udp up" 10.99.0.1 -t 3 -u -b 50M
    fig "$b" udp-up "$(mbits "/tmp/$g.iperf") $(loss "/tmp/$g.iperf")"
    rig_check "$b: iperf3 UDP Dom0 -> guest" rig_iperf "$g" "$b udp down" 10.99.0.1 -t 3 -u -b 50M -R
    fig "$b" udp-down "$(mbits "/tmp/$g.iperf") $(loss "/tmp/$g.iperf")"
    set -- $(dom0_busy)
    fig "$b" dom0-busy "$(( (($1 - busy0) * 100) / ($2 - all0 + 1) ))"
    rig_check "$b: 8 MiB guest -> Dom0, sha256 equal" rig_xfer_up "$g" 10.99.0.1 7001 8
    rig_check "$b: 8 MiB Dom0 -> guest, sha256 equal" rig_xfer_down "$g" 10.99.0.1 7002 8
}

# run B MAC VIFSPEC SERVED LOG: one guest on backend B; SERVED ID is the
# check that B (and nothing else) serves the guest's vif; sidecored's log is
# /tmp/sidecored-LOG.log.
run() {
    b=$1; mac=$2; g=cmp-$b; log=$5
    rig_net_cfg "$g" 10.99.0.2/24 "$3, mac=$mac"
    rig_check "$b: xl create with vif '$3'" rig_domu_start "$g" || return 1
    id=$(xl domid "$g")
    if ! rig_net_guest_up "$g" "$mac" 180; then
        rig_net_dump "$g" "$log"
        xl destroy "$g"; rig_domu_wait "$g" 30
        return 1
    fi
    xenstore-ls -f "/local/domain/0/backend/vif/$id/0" 2>&1 | sed "s/^/RIG: xs: /"
    sidecorectl devices >/tmp/devices 2>&1
    sed "s/^/RIG: sidecorectl devices: /" /tmp/devices
    rig_check "$b: the vif is served by $b" "$4" "$id"
    rig_check "$b: vif$id.0 is a port of br0" sh -c 'ip -o link show dev "$1" | grep -q "master br0"' _ "vif$id.0"
    traffic "$b" "$g"
    [ $RIG_TAP_FAILED = 0 ] || rig_net_dump "$g" "$log"
    rig_guest_off "$g" 60
    rig_check "$b: the guest finished" grep -aq "^DOMU-RESULT done" "/tmp/$g.console"
    rig_check "$b: vif$id.0 went away" sh -c \
        'i=0; while ip link show dev "$1" >/dev/null 2>&1; do [ $i -lt 60 ] || exit 1; sleep 0.5; i=$((i + 1)); done' \
        _ "vif$id.0"
}
by_sidecored() { grep -Eq "^vif +$1/0 +Connected +Connected " /tmp/devices && rig_no_netback; }
by_netback() { [ -e "/sys/bus/xen-backend/drivers/vif/vif-$1-0" ] && ! grep -q "^vif " /tmp/devices; }

n=1
for mode in poll event; do
    case " $backends " in *" sidecore-$mode "*) ;; *) continue ;; esac
    if rig_start_sidecored "$mode"; then
        run "sidecore-$mode" "00:16:3e:00:04:0$n" "bridge=br0, script=vif-sidecore" by_sidecored "$mode"
        rig_stop_sidecored
    else
        rig_fail "sidecore-$mode: sidecored starts"
    fi
    n=$((n + 1))
done

case " $backends " in *" netback "*) want_netback=1 ;; *) want_netback=0 ;; esac
if [ $want_netback = 1 ]; then
    rm -f /etc/modprobe.d/rig-no-netback.conf
    if ! rig_check "netback: modprobe xen-netback" modprobe xen-netback; then :
    elif rig_check "netback: sidecored (event, --types vbd) serves the tools disk" \
        rig_start_sidecored event --types vbd; then
        sidecorectl status 2>&1 | sed 's/^/RIG: sidecorectl status: /'
        run netback 00:16:3e:00:04:03 "bridge=br0" by_netback event
        rig_stop_sidecored
    fi
    rmmod xen_netback 2>/dev/null || rig_say "netback: rmmod xen_netback failed"
fi

# The table: one row per backend, ratios to netback's figures in parentheses.
awk '
    { b = $1; if (!(b in seen)) { seen[b] = 1; order[++n] = b } v[b, $2] = $3; x[b, $2] = $4 }
    function cell(b, k, fmt,   s) {
        if (!((b, k) in v) || v[b, k] == "") return "–"
        s = sprintf(fmt, v[b, k])
        if (b != "netback" && ("netback", k) in v && v["netback", k] > 0)
            s = s sprintf(" (%.2f×)", v[b, k] / v["netback", k])
        if (x[b, k] != "") s = s ", " x[b, k] " lost"
        return s
    }
    END {
        print "RIG: | backend | TCP guest→Dom0 Mbit/s | TCP Dom0→guest Mbit/s | UDP guest→Dom0 Mbit/s | UDP Dom0→guest Mbit/s | ping guest→Dom0 ms | ping Dom0→guest ms | Dom0 busy % | calib ms |"
        print "RIG: |---|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= n; i++) {
            b = order[i]
            printf "RIG: | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", b, cell(b, "tcp-up", "%.1f"),
                cell(b, "tcp-down", "%.1f"), cell(b, "udp-up", "%.1f"), cell(b, "udp-down", "%.1f"),
                cell(b, "rtt-up", "%.3f"), cell(b, "rtt-down", "%.3f"), cell(b, "dom0-busy", "%d"), cell(b, "calib", "%d")
        }
    }' /tmp/netcmp
exit $RIG_TAP_FAILED
