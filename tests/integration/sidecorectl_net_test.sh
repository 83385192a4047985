#!/bin/bash
# sidecorectl_net_test.sh - sidecorectl's network commands against a running
# sidecored: two simulated guests (simnetfront generators sending to each
# other) on the internal switch, plus a disk that must not show as a vif.
#   vifs      table header and rows, --json (only vifs, the class fields),
#             --watch rates
#   switch    the ports with their counters, the forwarding table holding
#             both guests' MACs on their own ports, --json
#   vif-rate  sets the daemon's rate (devices --json class.rate, rx_rate_*),
#             throttles, leaves the toolstack's xenstore `rate` alone; bad
#             arguments are usage errors (2), a missing vif a refusal (1)
# sidecored runs in a network namespace of its own (its switch's host port
# is a TAP interface): as root `unshare -n`, else `unshare -rn` if the
# kernel lets users have one; the test skips when neither works.
set -u
cd "$(dirname "$0")/../.."
. tests/tools/blk_e2e_lib.sh

unshare_net_or_skip # sets NS_RUN and SIMNETFRONT

GEN_PIDS=""
gen_cleanup() {
    local p
    for p in $GEN_PIDS; do kill "$p" 2>/dev/null; done
    for p in $GEN_PIDS; do wait "$p" 2>/dev/null; done
    GEN_PIDS=""
    return 0
}
SIM_CLEANUP_HOOKS="gen_cleanup $SIM_CLEANUP_HOOKS"

# sidecored in its own network namespace (`unshare` execs it: $! is the daemon).
sc_start_netns() {
    SC_LAUNCH=("${NS_RUN[@]}")
    sc_start "$@"
}

vif_be() { echo "/local/domain/0/backend/vif/$1/0"; }
vif_state_is() { [ "$(xs0 xenstore-read "$(vif_be "$1")/state" 2>/dev/null)" = "$2" ]; }
# vif_json GUEST EXPR: EXPR over the guest's vif in `vifs --json` as $v.
vif_json() {
    ctl vifs --json 2>/dev/null |
        jget 'my ($v) = grep { $_->{name} eq "vif '"$1"'/0" } @$j; '"$2"
}
tx_packets_above() { [ "$(vif_json "$1" '$v->{class}{traffic}{tx_packets} // 0')" -gt "$2" ]; }
throttled_above() { [ "$(vif_json "$1" '$v->{class}{traffic}{tx_throttled} // 0')" -gt "$2" ]; }
fdb_has() {
    ctl switch --json 2>/dev/null |
        jget 'scalar grep { $_->{mac} eq "'"$1"'" } @{$j->{switches}[0]{fdb}}' | grep -qx 1
}

simworld_start
MAC1=00:16:3e:00:0a:01
MAC2=00:16:3e:00:0a:02
G1=$(guest_new n1) && G2=$(guest_new n2) || { echo "Bail out! guests"; exit 1; }
"$XENSIMCTL" vif-attach "$G1" mac=$MAC1 bridge=scsw0 >/dev/null &&
    "$XENSIMCTL" vif-attach "$G2" mac=$MAC2 bridge=scsw0 >/dev/null ||
    { echo "Bail out! vif-attach"; exit 1; }
disk_attach "$G1" null:64M >/dev/null || { echo "Bail out! vbd-attach"; exit 1; }
ok "sidecored starts in its own network namespace" sc_start_netns --cores 1
[ -n "$SC_PID" ] && sc_alive || { echo "Bail out! sidecored"; cat "$SIMDIR/sidecored.log"; exit 1; }

# ---- before the guests connect ----
ok "the vifs wait for their frontends" wait_for 10 vif_state_is "$G1" 2
out=$(ctl vifs)
ok "vifs: the header" grep -Eq '^DEVICE +MAC +UPLINK +FEATURES +RATE +TX-PKTS +TX-BYTES +RX-PKTS +RX-BYTES +DROPS +ERRORS +KICKS +NOTIFIES$' <<<"$out"
ok "vifs: an unconnected vif has no features or counters yet" \
    grep -Eq "^vif $G1/0 +$MAC1 +switch scsw0 +- +- +- +- +- +- +- +- +- +-$" <<<"$out"
is "vifs: one row per vif, the disk left out" "$(wc -l <<<"$out")" 3
is "devices --json has the disk too" "$(ctl devices --json | jget 'scalar @$j')" 3
is "vifs --json: the two vifs" "$(ctl vifs --json | jget 'join ",", map { $_->{type} } @$j')" vif,vif

# ---- two guests sending to each other through the switch ----
for pair in "$G1 $MAC2" "$G2 $MAC1"; do
    set -- $pair
    "$SIMNETFRONT" --dir "$SIMDIR" --domid "$1" --mode gen --dst-mac "$2" --size 1000 \
        --rate 2000 --seconds 120 --queues 1 --json >"$SIMDIR/gen-$1.json" 2>"$SIMDIR/gen-$1.err" &
    GEN_PIDS="$GEN_PIDS $!"
done
ok "guest $G1 connects" wait_for 15 vif_state_is "$G1" 4
ok "guest $G2 connects" wait_for 15 vif_state_is "$G2" 4
ok "traffic flows from guest $G1" wait_for 10 tx_packets_above "$G1" 200
ok "traffic flows from guest $G2" wait_for 10 tx_packets_above "$G2" 200
ok "check-xenstore: the store matches the schema (two vifs Connected, a disk waiting)" store_clean

# (drops: frames flooded or sent before the peer posted buffers, while it connects)
out=$(ctl vifs)
row_re='+switch scsw0 +sg,gso4,gso6,csum,csum6,split +- +[0-9]+ +[0-9.]+[kMG]?i?B +[0-9]+ +[0-9.]+[kMG]?i?B +[0-9]+ +0 +[0-9]+ +[0-9]+$'
ok "vifs: guest $G1's row (MAC, uplink, features, no rate, counters)" \
    grep -Eq "^vif $G1/0 +$MAC1 $row_re" <<<"$out"
ok "vifs: guest $G2's row" grep -Eq "^vif $G2/0 +$MAC2 $row_re" <<<"$out"
is "vifs --json: the MAC" "$(vif_json "$G1" '$v->{class}{mac}')" "$MAC1"
is "vifs --json: the uplink" "$(vif_json "$G1" '$v->{class}{uplink}')" "switch scsw0"
is "vifs --json: the bridge" "$(vif_json "$G1" '$v->{class}{bridge}')" scsw0
is "vifs --json: sg negotiated" "$(vif_json "$G1" '$v->{class}{features}{sg} ? 1 : 0')" 1
is "vifs --json: one queue" "$(vif_json "$G1" 'scalar @{$v->{queues}}')" 1
is "vifs --json: no rate" "$(vif_json "$G1" 'defined $v->{class}{rate} ? "set" : "none"')" none
ok "vifs --json: received packets counted" \
    test "$(vif_json "$G2" '$v->{class}{traffic}{rx_packets}')" -gt 0
ok "vifs --json: kicks and notifies present" \
    test -n "$(vif_json "$G2" '$v->{class}{traffic}{kicks} . $v->{class}{traffic}{notifies}')"
watch=$(ctl vifs --watch 0.3 --count 1)
ok "vifs --watch: rates" grep -Eq '^DEVICE .* TX-PKT/s +TX-BYTES/s +RX-PKT/s .* NOTIFY/s$' <<<"$watch"
ok "vifs --watch: guest $G1 sends some packets per second" \
    grep -Eq "^vif $G1/0 .* +[0-9.]+k? +[0-9.]+[kM]iB +[0-9.]+k? " <<<"$watch"
is "vifs --watch --json: one line per frame" "$(ctl vifs --json --watch 0.2 --count 2 | wc -l)" 2

# ---- the switch ----
ok "the forwarding table learns guest $G1's MAC" wait_for 5 fdb_has "$MAC1"
ok "... and guest $G2's" wait_for 5 fdb_has "$MAC2"
out=$(ctl switch)
ok "switch: its summary line" \
    grep -Eq '^switch scsw0 \(host interface scsw0\): 3 of [0-9]+ ports, [0-9]+ of [0-9]+ addresses' <<<"$out"
ok "switch: the ports header" \
    grep -Eq '^PORT +NAME +STATE +IN-PKTS +IN-BYTES +OUT-PKTS +OUT-BYTES +FLOODED +UNKNOWN +DROPS +LEARN-FAIL +MCAST$' <<<"$out"
ok "switch: the host port" grep -Eq '^ +0 +scsw0 +live ' <<<"$out"
ok "switch: guest $G1's port with traffic both ways" \
    grep -Eq "^ +[0-9]+ +vif $G1/0 +live +[1-9][0-9]* +[0-9.]+[kMG]?i?B +[1-9][0-9]* " <<<"$out"
ok "switch: the forwarding table header" grep -Eq '^MAC +PORT +NAME +AGE$' <<<"$out"
port1=$(ctl switch --json | jget '(grep { $_->{name} eq "vif '"$G1"'/0" } @{$j->{switches}[0]{ports}})[0]{port}')
port2=$(ctl switch --json | jget '(grep { $_->{name} eq "vif '"$G2"'/0" } @{$j->{switches}[0]{ports}})[0]{port}')
ok "switch: $MAC1 on guest $G1's port ($port1)" \
    grep -Eq "^$MAC1 +$port1 +vif $G1/0 +[0-9.]+s$" <<<"$out"
ok "switch: $MAC2 on guest $G2's port ($port2)" \
    grep -Eq "^$MAC2 +$port2 +vif $G2/0 +[0-9.]+s$" <<<"$out"
ok "switch: the flood counters" grep -Eq '^flooded [0-9]+, unknown unicast [0-9]+, learn failures 0$' <<<"$out"
sj=$(ctl switch --json)
is "switch --json: the host interface" "$(jget '$j->{switches}[0]{host_interface}' <<<"$sj")" scsw0
is "switch --json: fdb entry of $MAC1 names port $port1" \
    "$(jget '(grep { $_->{mac} eq "'$MAC1'" } @{$j->{switches}[0]{fdb}})[0]{port}' <<<"$sj")" "$port1"
ok "switch --json: fdb ages" \
    test -n "$(jget '(grep { $_->{mac} eq "'$MAC2'" } @{$j->{switches}[0]{fdb}})[0]{age_ms}' <<<"$sj")"
ok "switch --json: a port's counters" \
    test "$(jget '(grep { $_->{port} == '"$port2"' } @{$j->{switches}[0]{ports}})[0]{rx_packets}' <<<"$sj")" -gt 0
ok "switch --json: the switch's totals" \
    test -n "$(jget 'join ",", map { $j->{switches}[0]{$_} // "" } qw(flood_packets unknown_unicast fdb_entries)' <<<"$sj")"
ok "switch --watch: port rates" \
    grep -Eq '^PORT +NAME +STATE +IN-PKT/s' <<<"$(ctl switch --watch 0.3 --count 1)"

# ---- vif-rate ----
be_rate() { xs0 xenstore-read "$(vif_be "$1")/rate" 2>/dev/null || echo absent; }
xs_before=$(be_rate "$G1")
out=$(ctl vif-rate "$G1/0" 1000,10000)
is "vif-rate: exit 0" "$?" 0
is "vif-rate: says what it set" "$out" "vif $G1/0: tx limited to 97.7kiB/s (1000 bytes every 10000 us)"
is "devices --json: class.rate is the new rate" \
    "$(ctl devices --json | jget '(grep { $_->{name} eq "vif '"$G1"'/0" } @$j)[0]{class}{rate}')" 1000,10000
ok "vifs: the RATE column" grep -Eq "^vif $G1/0 +$MAC1 +switch scsw0 +[a-z0-9,]+ +97\.7kiB/s " <<<"$(ctl vifs)"
is "the toolstack's xenstore rate key is left alone" "$(be_rate "$G1")" "$xs_before"
before=$(vif_json "$G1" '$v->{class}{traffic}{tx_throttled}')
ok "the guest's sending is throttled now (2 MB/s offered)" wait_for 10 throttled_above "$G1" "${before:-0}"
ok "vif-rate --rx, the device by id" \
    quiet ctl vif-rate "$(vif_json "$G2" '$v->{id}')" 500000,1000 --rx
is "devices --json: rx_rate_bytes" "$(vif_json "$G2" '$v->{class}{rx_rate_bytes}')" 500000
is "devices --json: rx_rate_usecs" "$(vif_json "$G2" '$v->{class}{rx_rate_usecs}')" 1000
is "... and the tx rate untouched" "$(vif_json "$G2" 'defined $v->{class}{rate} ? "set" : "none"')" none
ok "vifs: an rx rate" grep -Eq "^vif $G2/0 .* rx:476\.8MiB/s " <<<"$(ctl vifs)"
is "vif-rate \"\": unlimited again (vif/D/0 form)" "$(ctl vif-rate "vif/$G1/0" '')" "vif $G1/0: tx unlimited"
is "devices --json: no rate" "$(vif_json "$G1" 'defined $v->{class}{rate} ? "set" : "none"')" none
ok "vif-rate --rx \"\"" quiet ctl vif-rate --rx "$G2/0" ""
is "devices --json: rx_rate_bytes 0" "$(vif_json "$G2" '$v->{class}{rx_rate_bytes}')" 0

is "vif-rate of a missing vif is refused (1)" "$(rc ctl vif-rate 99/0 1000,1000)" 1
is "vif-rate of a disk is refused (1)" "$(rc ctl vif-rate "vbd/$G1/51712" 1000,1000)" 1
is "vif-rate without arguments: usage (2)" "$(rc ctl vif-rate)" 2
is "vif-rate without a rate: usage (2)" "$(rc ctl vif-rate "$G1/0")" 2
is "vif-rate with a bad rate: usage (2)" "$(rc ctl vif-rate "$G1/0" fast)" 2
is "vif-rate with 0 us: usage (2)" "$(rc ctl vif-rate "$G1/0" 1000,0)" 2
is "vif-rate with a third argument: usage (2)" "$(rc ctl vif-rate "$G1/0" 1000,1000 more)" 2
is "vif-rate with an unknown option: usage (2)" "$(rc ctl vif-rate "$G1/0" 1000,1000 --tx)" 2
is "vifs with an argument: usage (2)" "$(rc ctl vifs extra)" 2
is "switch with a bad --watch: usage (2)" "$(rc ctl switch --watch x)" 2
is "vifs without a daemon: 1" "$(rc ctl --socket "$SIMDIR/nothing.sock" vifs)" 1
ok "--help names the new commands" \
    bash -c "'$SIDECORECTL' --help | grep -q 'vif-rate DEVICE RATE' && '$SIDECORECTL' --help | grep -q 'vifs | switch'"

# ---- the guests stop: the generators verified what they received ----
gen_cleanup
for g in "$G1" "$G2"; do
    is "guest $g's generator: no bad or out-of-order frame" \
        "$(jget '($j->{bad} // 1) + ($j->{out_of_order} // 1)' <"$SIMDIR/gen-$g.json")" 0
done
ok "sidecored is still running" sc_alive
done_testing
