#!/bin/bash
# net_hostile_e2e_test.sh - hostile netfronts against sidecored's vifs, while
# a well-behaved pair of guests on the same internal switch keeps verified
# traffic flowing (a generator whose every frame must come back, checked
# byte for byte, from an echoing peer) and must see no loss and no bad
# frame, sidecored staying up and the other vifs Connected.
#
# Ring attacks (simnetfront --mode hostile): a packet that is merely bad
# (19 or 20 slots, a zero-sized fragment, fragments larger than the packet,
# a runt, a bad GSO descriptor, a grant never granted) is answered with
# errors and counted (tx_drops, tx_errors) and the vif stays Connected and
# usable; one that breaks the ring protocol (more than 20 slots, a fragment
# crossing its page, the producer far ahead, an unknown extra-info type)
# fails that vif alone (Closing/Closed, an error node); a guest that never
# takes its rx responses while a peer floods it costs only its own frames.
# The same on a vif with its own TAP interface.  Then hostile xenstore
# values at connect (no request-rx-copy, a tx-ring-ref that is no number, a
# ring never granted, an event channel that does not exist, 0 or too many
# queues, too large an xdp-headroom): the vif fails, is never Connected.
# In poll and event mode.
set -u
cd "$(dirname "$0")/../.."
. tests/tools/net_e2e_lib.sh

net_world_start

A=$(guest_new echo) && B=$(guest_new gen) && H=$(guest_new hostile) && F=$(guest_new flood) &&
    T=$(guest_new taphostile) && X=$(guest_new xsbad) || { echo "Bail out! guests"; exit 1; }
vif_add "$A" 00:16:3e:00:03:0a scsw0
vif_add "$B" 00:16:3e:00:03:0b scsw0
vif_add "$H" 00:16:3e:00:03:01 scsw0
vif_add "$F" 00:16:3e:00:03:0f scsw0
vif_add "$T" 00:16:3e:00:03:02 br0
A_MAC=00:16:3e:00:03:0a H_MAC=00:16:3e:00:03:01

a_drops() { echo "rx $(vif_traffic "$A" rx_drops) tx $(vif_traffic "$A" tx_drops)"; }

# The good pair's traffic for the length of one attack: started before it,
# checked after it.
good_start() {
    A_DROPS0=$(a_drops)
    nf_bg "good-$1" "$B" --mode gen --dst-mac "$A_MAC" --size 1000 --flows 4 \
        --rate 1000 --seconds 1 --linger-ms 500 --expect-echo
    GOOD_PID=$NF_PID
    sleep 0.2
}
good_check() {
    nf_wait "$GOOD_PID"
    local rc=$? f="good-$1"
    local clean=no
    [ "$rc" = 0 ] && [ "$(nf_field "$f" '$j->{lost} + $j->{bad}')" = 0 ] &&
        [ "$(nf_field "$f" '$j->{echoes}')" -gt 300 ] && clean=yes
    is "$mode: $1: the good pair's traffic meanwhile: all echoed and verified (exit $rc)" \
        "$clean" yes
    [ "$clean" = yes ] || echo "#   the echoing guest's vif drops: $A_DROPS0 -> $(a_drops);" \
        "$(nf_field "$f" '"sent $j->{sent} echoes $j->{echoes} lost $j->{lost} bad $j->{bad} ooo $j->{out_of_order} tx_errors $j->{tx_errors} rx_errors $j->{rx_errors} busy $j->{grant_busy} bad_rsp $j->{bad_responses}"') $(head -3 "$SIMDIR/$f.err")"
    ok "$mode: $1: ... the echoing guest's vif still Connected, sidecored up" \
        eval 'vif_state_is "$A" 4 && sc_alive'
}

# An attack answered with errors: the counters are read while the hostile
# guest holds its vif.
attack_error() {
    local name=$1 g=$2 counter=$3 want=$4; shift 4
    local tag="$mode-$name-$g" got
    rm -f "$SIMDIR/$tag.ready"
    good_start "$tag"
    "$SIMNETFRONT" --dir "$SIMDIR" --domid "$g" --json --mode hostile --attack "$name" \
        --timeout-ms 5000 --hold --ready-fd 3 "$@" 3>"$SIMDIR/$tag.ready" \
        >"$SIMDIR/$tag.json" 2>"$SIMDIR/$tag.err" &
    local pid=$!
    NET_PIDS="$NET_PIDS $tag:$pid"
    wait_for 10 grep -q d "$SIMDIR/$tag.ready"
    got=$(vif_traffic "$g" "$counter")
    kill -TERM "$pid" 2>/dev/null
    nf_wait "$pid"
    local rc=$?
    ok "$mode: $name (vif $g): every slot answered with an error, the vif usable after (exit $rc)" \
        test "$rc" = 0
    [ "$rc" = 0 ] || echo "#   $(nf_field "$tag" '$j->{why}') $(cat "$SIMDIR/$tag.err")"
    is "$mode: $name (vif $g): ... counted in $counter" "$got" "$want"
    good_check "$tag"
}

# An attack that breaks the ring: that vif fails, alone.
attack_fatal() {
    local name=$1 g=$2; shift 2
    local tag="$mode-$name-$g"
    xs0 xenstore-rm "/local/domain/0/error/backend/vif/$g/0" 2>/dev/null
    good_start "$tag"
    hostile_run "$tag" "$g" "$name" "$@"
    local rc=$?
    ok "$mode: $name (vif $g): the backend fails the vif (exit $rc)" test "$rc" = 0
    [ "$rc" = 0 ] || echo "#   $(nf_field "$tag" '$j->{why}') $(cat "$SIMDIR/$tag.err")"
    is "$mode: $name (vif $g): ... it saw Closing or Closed" \
        "$(nf_field "$tag" '$j->{backend_closed} ? 1 : 0')" 1
    ok "$mode: $name (vif $g): ... with an error node naming the queue" \
        eval 'vif_err "$g" | grep -q "q0 failed: Protocol error"'
    good_check "$tag"
}

# Hostile xenstore values: a fresh vif of guest X each time.
xs_bad() {
    local name=$1; shift
    local d tag="$mode-xs-$RANDOM"
    d=$("$XENSIMCTL" vif-attach "$X" bridge=scsw0) || { ok "$mode: $name: vif-attach" false; return; }
    ok "$mode: $name: the vif waits in InitWait" wait_for 5 vif_state_is "$X" 2 "$d"
    hostile_run "$tag" "$X" xs-keys --devid "$d" "$@"
    local rc=$?
    ok "$mode: $name: the backend fails the vif and never connects it (exit $rc)" test "$rc" = 0
    [ "$rc" = 0 ] || echo "#   $(nf_field "$tag" '$j->{why}') $(cat "$SIMDIR/$tag.err")"
    ok "$mode: $name: ... with an error node" quiet vif_err "$X" "$d"
    echo "#   $(vif_err "$X" "$d")"
    ok "$mode: $name: ... sidecored up, the echoing guest Connected" \
        eval 'sc_alive && vif_state_is "$A" 4'
}

for mode in poll event; do
    ok "$mode: sidecored starts" net_sc_start --mode "$mode" --cores 2
    nf_bg "echo-$mode" "$A" --mode echo --seconds 600
    ECHO_PID=$NF_PID
    ok "$mode: the echoing guest connects" wait_for 10 vif_state_is "$A" 4

    # ---- answered with errors, counted, the vif kept ----
    # (event mode runs the same data path on other threads: a sample)
    attack_error too-many-slots "$H" tx_drops 1 --slots 20
    attack_error ungranted-ref "$H" tx_errors 1
    if [ "$mode" = poll ]; then
        attack_error too-many-slots "$H" tx_drops 1 --slots 19
        attack_error zero-frag "$H" tx_drops 1
        attack_error oversized-frag "$H" tx_drops 1
        attack_error runt "$H" tx_drops 1
        attack_error bad-gso "$H" tx_drops 2
    fi

    # ---- the ring broken: that vif fails ----
    attack_fatal fatal-slots "$H" --slots 21
    attack_fatal prod-ahead "$H"
    if [ "$mode" = poll ]; then
        attack_fatal fatal-slots "$H" --slots 40
        attack_fatal cross-page "$H"
        attack_fatal bad-extra-type "$H" --extra-type 0
        attack_fatal bad-extra-type "$H" --extra-type 9
    fi

    # ---- a guest that never takes what it is sent, flooded ----
    # It takes nothing until told to stop; meanwhile a peer sends it 2000
    # frames (its ring holds 256): the backend must drop what cannot be
    # placed, not hold the sender's ring until the receiver deigns to take.
    tag="$mode-rx"
    rm -f "$SIMDIR/$tag.ready"
    good_start "$tag"
    "$SIMNETFRONT" --dir "$SIMDIR" --domid "$H" --json --mode hostile --attack no-rx-consume \
        --seconds 60 --timeout-ms 5000 --ready-fd 3 3>"$SIMDIR/$tag.ready" \
        >"$SIMDIR/$tag.json" 2>"$SIMDIR/$tag.err" &
    hpid=$!
    NET_PIDS="$NET_PIDS $tag:$hpid"
    wait_for 10 nf_ready "$SIMDIR/$tag.ready"
    nf_bg "$tag-flood" "$F" --mode gen --dst-mac "$H_MAC" --size 1514 --count 2000 \
        --linger-ms 100
    fpid=$NF_PID
    flood_done() { ! kill -0 "$fpid" 2>/dev/null; }
    wait_for 10 flood_done
    ok "$mode: no-rx-consume: a peer's 2000 frames to the starving guest are all answered while it starves" \
        eval 'flood_done && [ "$(nf_field "$tag-flood" "\$j->{sent}")" = 2000 ]'
    flood_done || echo "#   the sender is held: $(net_ctl devices --json | jget '(grep { $_->{name} eq "vif '"$F"'/0" } @$j)[0]{class}{traffic}{tx_packets}') frames out"
    drops=$(vif_traffic "$H" rx_drops)
    ok "$mode: no-rx-consume: ... what could not be placed is dropped and counted (rx_drops $drops)" \
        test "${drops:-0}" -gt 0
    # The receiver first: once it takes again, a held sender finishes too.
    kill -TERM "$hpid" 2>/dev/null
    nf_wait "$hpid"
    rc=$?
    wait_for 20 flood_done
    kill -TERM "$fpid" 2>/dev/null
    nf_wait "$fpid"
    is "$mode: no-rx-consume: ... and the sender's run ends clean" "$?" 0
    ok "$mode: no-rx-consume: no response beyond the posted buffers, the vif kept (exit $rc)" \
        test "$rc" = 0
    [ "$rc" = 0 ] || echo "#   $(nf_field "$tag" '$j->{why}') $(cat "$SIMDIR/$tag.err")"
    ok "$mode: no-rx-consume: ... the buffers it had were filled, and valid when taken" \
        eval '[ "$(nf_field "$tag" "\$j->{rx}{frames}")" -ge 200 ] &&
              [ "$(nf_field "$tag" "\$j->{rx}{errors}")" = 0 ]'
    good_check "$tag"

    # ---- on a vif with its own TAP interface ----
    ok "$mode: the TAP vif's interface exists" quiet in_ns "$NS_D" ip link set "vif$T.0" up
    attack_error too-many-slots "$T" tx_drops 1 --slots 20
    attack_error ungranted-ref "$T" tx_errors 1
    attack_fatal cross-page "$T"

    # ---- hostile xenstore values ----
    tag="$mode-xs-control"
    d=$("$XENSIMCTL" vif-attach "$X" bridge=scsw0)
    wait_for 5 vif_state_is "$X" 2 "$d"
    hostile_run "$tag" "$X" xs-keys --devid "$d"
    is "$mode: control: the hand-made handshake with no bad key connects" \
        "$(nf_field "$tag" '$j->{saw_connected} ? 1 : 0')" 1
    xs_bad "no request-rx-copy" --set request-rx-copy=
    xs_bad "tx-ring-ref xyz" --set tx-ring-ref=xyz
    xs_bad "rx-ring-ref never granted" --set rx-ring-ref=30000
    xs_bad "event-channel 99999" --no-split-evtchn --set event-channel=99999
    xs_bad "multi-queue-num-queues 0" --set multi-queue-num-queues=0
    xs_bad "multi-queue-num-queues 1000" --set multi-queue-num-queues=1000
    xs_bad "xdp-headroom 4096" --set xdp-headroom=4096
    if [ "$mode" = poll ]; then
        xs_bad "request-rx-copy 0" --set request-rx-copy=0
        xs_bad "tx-ring-ref 2^32" --set tx-ring-ref=4294967296
        xs_bad "event-channel-rx 99999" --set event-channel-rx=99999
        xs_bad "no event channel at all" --no-split-evtchn --set event-channel=
    fi

    kill -TERM "$ECHO_PID" 2>/dev/null
    nf_wait "$ECHO_PID"
    is "$mode: the echoing guest ends cleanly (exit)" "$?" 0
    ok "$mode: the control socket still answers" quiet net_ctl status
    sc_stop
    is "$mode: sidecored exits 0" "$?" 0
done
grep -E "error|warn" "$SIMDIR/sidecored.log" | sort | uniq -c | sort -rn | head -8 | sed 's/^/# /'
ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
