#!/bin/bash
# net_e2e_test.sh - guests' networks through sidecored, end to end: real Linux
# stacks (network namespaces behind simnetfront's TAP adapter) as the guests,
# two of them on sidecored's internal switch, one on its own TAP interface in
# a Linux bridge with a "host" namespace behind it; ping, iperf3 (TCP and
# UDP) and sha256-verified TCP transfers both ways, GSO and checksum offload
# seen crossing the rings in both directions.
set -u
cd "$(dirname "$0")/../.."
. tests/tools/net_e2e_lib.sh

net_world_start
net_sc_start --cores 2 || { echo "Bail out! sidecored did not start"; cat "$SIMDIR/sidecored.log"; exit 1; }

G1=$(guest_new n1) && G2=$(guest_new n2) && G3=$(guest_new n3) || { echo "Bail out! guests"; exit 1; }
ns_add "${NET_TAG}g1" && ns_add "${NET_TAG}g2" && ns_add "${NET_TAG}g3"
N1="${NET_TAG}g1" N2="${NET_TAG}g2" N3="${NET_TAG}g3"

# --- the internal switch: two guests and the driver domain's scsw0 ---
vif_add "$G1" 00:16:3e:00:01:01 scsw0
vif_add "$G2" 00:16:3e:00:01:02 scsw0
ok "guest 1 connects as a switch port" guest_net "$G1" "$N1" 10.9.0.1/24
ok "guest 2 connects as a switch port" guest_net "$G2" "$N2" 10.9.0.2/24
is "the switch port is marked for the hotplug script" \
    "$(xs0 xenstore-read "$(vif_be "$G1")/sidecore-switch" 2>/dev/null)" scsw0
ok "the switch's host port exists in the daemon's namespace" quiet in_ns "$NS_D" ip link show scsw0
in_ns "$NS_D" ip addr add 10.9.0.254/24 dev scsw0
ok "ping guest 1 -> guest 2 through the switch" quiet in_ns "$N1" ping -c 3 -i 0.2 -W 2 10.9.0.2
ok "ping guest 2 -> the host port" quiet in_ns "$N2" ping -c 3 -i 0.2 -W 2 10.9.0.254
ok "ping the host port -> guest 1" quiet in_ns "$NS_D" ping -c 3 -i 0.2 -W 2 10.9.0.1
ok "iperf3 TCP guest 1 -> guest 2" iperf_ok "$N1" "$N2" 10.9.0.2 -t 2
tcp=$(jget '$j->{end}{sum_received}{bytes}' <"$IPERF_JSON")
ok "... moved data ($tcp bytes)" test "${tcp:-0}" -gt 1000000
ok "iperf3 TCP guest 2 -> guest 1 (reverse)" iperf_ok "$N1" "$N2" 10.9.0.2 -t 2 -R
ok "iperf3 UDP guest 2 -> guest 1, 20 Mbit/s" iperf_ok "$N2" "$N1" 10.9.0.1 -u -b 20M -t 2
udp=$(jget '$j->{end}{sum}{packets}' <"$IPERF_JSON")
ok "... packets arrived ($udp)" test "${udp:-0}" -gt 100
ok "verified TCP transfer guest 1 -> guest 2 (8 MiB)" xfer_ok "$N1" "$N2" 10.9.0.2 8388608
ok "verified TCP transfer guest 2 -> guest 1 (8 MiB)" xfer_ok "$N2" "$N1" 10.9.0.1 8388608
ok "verified TCP transfer host port -> guest 2 (4 MiB)" xfer_ok "$NS_D" "$N2" 10.9.0.2 4194304
ok "verified TCP transfer guest 1 -> host port (4 MiB)" xfer_ok "$N1" "$NS_D" 10.9.0.254 4194304


# --- a TAP interface in a Linux bridge, the host behind it ---
vif_add "$G3" 00:16:3e:00:01:03 br0 script=vif-sidecore
ip netns exec "$NS_D" env XENBUS_PATH="$(vif_be "$G3")" XENSTORED_PATH="$SIMDIR/xs-0.sock" \
    tools/hotplug/vif-sidecore online >"$SIMDIR/hotplug.log" 2>&1 &
HP=$!
ok "guest 3 connects on its TAP interface" guest_net "$G3" "$N3" 10.9.1.3/24
wait "$HP"
ok "the hotplug script put vif$G3.0 in br0" \
    bash -c "ip netns exec $NS_D ip -o link show vif$G3.0 | grep -q 'master br0'"
is "hotplug-status" "$(xs0 xenstore-read "$(vif_be "$G3")/hotplug-status" 2>/dev/null)" connected
ok "ping guest 3 -> host through TAP and the bridge" quiet in_ns "$N3" ping -c 3 -i 0.2 -W 2 10.9.1.254
ok "ping host -> guest 3" quiet in_ns "$NS_H" ping -c 3 -i 0.2 -W 2 10.9.1.3
ok "iperf3 TCP guest 3 -> host" iperf_ok "$N3" "$NS_H" 10.9.1.254 -t 2
ok "iperf3 TCP host -> guest 3" iperf_ok "$NS_H" "$N3" 10.9.1.3 -t 2
ok "iperf3 UDP host -> guest 3, 20 Mbit/s" iperf_ok "$NS_H" "$N3" 10.9.1.3 -u -b 20M -t 2
ok "verified TCP transfer guest 3 -> host (8 MiB)" xfer_ok "$N3" "$NS_H" 10.9.1.254 8388608
ok "verified TCP transfer host -> guest 3 (8 MiB)" xfer_ok "$NS_H" "$N3" 10.9.1.3 8388608

# --- what sidecorectl and the adapters saw ---
dev=$(ctl --socket "$SIMDIR/ctl.sock" devices --json)
for g in "$G1" "$G2" "$G3"; do
    st=$(jget '(grep { $_->{name} eq "vif '"$g"'/0" } @$j)[0]{state}' <<<"$dev")
    is "vif $g/0 is Connected" "$st" Connected
done
txp=$(jget '(grep { $_->{name} eq "vif '"$G3"'/0" } @$j)[0]{class}{traffic}{tx_packets}' <<<"$dev")
ok "the devices view counts vif $G3/0's packets ($txp)" test "${txp:-0}" -gt 100
for g in "$G1" "$G2" "$G3"; do guest_net_stop "$g"; done
for g in "$G1" "$G2" "$G3"; do
    is "guest $g's adapter ended cleanly" "$(tap_field "$g" result)" ok
    gso_out=$(tap_field "$g" to_ring_gso)
    gso_in=$(tap_field "$g" from_ring_gso)
    csum_out=$(tap_field "$g" to_ring_csum_blank)
    ok "guest $g sent GSO frames into the ring ($gso_out)" test "${gso_out:-0}" -gt 0
    ok "guest $g received GSO frames from the ring ($gso_in)" test "${gso_in:-0}" -gt 0
    ok "guest $g sent partial checksums ($csum_out)" test "${csum_out:-0}" -gt 0
done
ok "sidecored is still running" sc_alive
ok "sidecored stops cleanly on SIGTERM" sc_stop
ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
