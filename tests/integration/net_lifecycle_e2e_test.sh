#!/bin/bash
# net_lifecycle_e2e_test.sh - a vif's life with sidecored end to end, with
# verified traffic (a generator whose every frame must come back, checked,
# from an echoing guest on the internal switch) around each step:
#   - a TAP vif whose toolstack set `script`: the backend does not connect
#     before the hotplug script writes hotplug-status=connected;
#   - reconnect after Closed (a frontend closes and the next connects, four
#     times), the queues (and, in event mode, their threads) gone between;
#   - online=0 unplug (xensimctl vif-detach) of a closed vif, of one under
#     traffic, and of a TAP vif whose interface must go with it;
#   - a guest destroyed while it sends: its vif leaves, nothing else notices;
#   - sidecored stopped (SIGTERM) and killed (SIGKILL, three times in one
#     run) under traffic: the next one adopts the vifs, the running
#     generator's traffic resumes without an error answer or a bad,
#     duplicated or reordered frame; the TAP vif comes back in its bridge
#     and carries verified TCP transfers again;
# in poll and event mode (the daemon of the second mode adopts what the
# first left running).
set -u
cd "$(dirname "$0")/../.."
. tests/tools/net_e2e_lib.sh

net_world_start

tasks() { ls "/proc/$SC_PID/task" | wc -l; }
vif_queues() {
    net_ctl devices --json 2>/dev/null |
        jget 'scalar @{(grep { $_->{name} eq "vif '"$1/${2:-0}"'" } @$j)[0]{queues} // []}'
}
vif_listed() { [ -n "$(vif_field "$1" state "${2:-0}")" ]; }
vif_gone() { sc_alive && ! vif_listed "$1" "${2:-0}"; }
vif_dev_is() { [ "$(vif_field "$1" state "${3:-0}")" = "$2" ]; }
be_gone() { ! xs0 xenstore-read "$(vif_be "$1" "${2:-0}")" >/dev/null 2>&1; }
fe_state_is() {
    [ "$(xs0 xenstore-read "/local/domain/$1/device/vif/${3:-0}/state" 2>/dev/null)" = "$2" ]
}
running() { kill -0 "$1" 2>/dev/null; }
stopped() { ! kill -0 "$1" 2>/dev/null; }

A=$(guest_new echo) && B=$(guest_new gen) && S=$(guest_new sink) && T=$(guest_new tap) ||
    { echo "Bail out! guests"; exit 1; }
A_MAC=00:16:3e:00:04:0a S_MAC=00:16:3e:00:04:05
vif_add "$A" "$A_MAC" scsw0
vif_add "$B" 00:16:3e:00:04:0b scsw0
vif_add "$S" "$S_MAC" scsw0
vif_add "$T" 00:16:3e:00:04:03 br0 script=vif-sidecore
NT="${NET_TAG}t"
ns_add "$NT"

# B's generator to A's echo: every frame must come back verified.
gen_bg() {
    local name=$1; shift
    nf_bg "$name" "$B" --mode gen --dst-mac "$A_MAC" --size 1000 --flows 4 --expect-echo \
        --linger-ms 500 "$@"
    GEN_PID=$NF_PID
}
# gen_ok NAME RC: exit 0, nothing bad, duplicated or reordered.
gen_ok() {
    local f=$1 rc=$2
    [ "$rc" = 0 ] && [ "$(nf_field "$f" '$j->{bad} + $j->{out_of_order}')" = 0 ] && return 0
    echo "#   $f: exit $rc, $(nf_field "$f" '"sent $j->{sent} echoes $j->{echoes} lost $j->{lost} bad $j->{bad} ooo $j->{out_of_order} tx_errors $j->{tx_errors} rx_errors $j->{rx_errors}"') $(head -2 "$SIMDIR/$f.err")"
    return 1
}

# Across a SIGKILL a frame may arrive twice: requests consumed and sent
# but not yet answered are fetched and sent again by the next daemon (the
# rings only record what was answered), as a NIC reset may resend.  What
# must not happen: an error answer, a bad frame, a response the frontend
# cannot match (its ring broken: simnetfront says "Protocol error").
gen_ok_kill() {
    local f=$1 rc=$2
    if [ "$rc" -le 1 ] &&
        [ "$(nf_field "$f" '$j->{bad} + $j->{tx_errors} + $j->{rx_errors}')" = 0 ] &&
        ! grep -q "Protocol error" "$SIMDIR/$f.err"; then
        return 0
    fi
    echo "#   $f: exit $rc, $(nf_field "$f" '"sent $j->{sent} echoes $j->{echoes} lost $j->{lost} bad $j->{bad} ooo $j->{out_of_order} tx_errors $j->{tx_errors} rx_errors $j->{rx_errors}"') $(head -2 "$SIMDIR/$f.err")"
    return 1
}

# After a restart: the TAP vif in its bridge again, carrying traffic (the
# transfers only when it is: they would wait out TCP's timeouts).
tap_back() {
    local what=$1
    ok "$mode: $what: the TAP vif is back in its bridge" wait_for 2 in_bridge "vif$T.0" br0
    in_ns "$NS_D" ip -o link show "vif$T.0" 2>&1 | sed 's/^/#   /; s/\\.*//'
    if in_bridge "vif$T.0" br0; then
        ok "$mode: $what: ... ping the host again" \
            quiet in_ns "$NT" ping -c 3 -i 0.2 -W 2 10.9.1.254
        ok "$mode: $what: ... verified TCP transfer host -> TAP guest (4 MiB)" \
            xfer_ok "$NS_H" "$NT" 10.9.1.3 4194304
        ok "$mode: $what: ... verified TCP transfer TAP guest -> host (4 MiB)" \
            xfer_ok "$NT" "$NS_H" 10.9.1.254 4194304
    else
        ok "$mode: $what: ... traffic through the bridge (not tried: not in the bridge)" false
    fi
}

# A TAP vif unplugged under traffic, and one no frontend ever took.
unplug_tap() {
    local d upid
    d=$("$XENSIMCTL" vif-attach "$L" bridge=br0)
    ok "$mode: unplug of a TAP vif: its interface exists" \
        wait_for 5 quiet in_ns "$NS_D" ip link show "vif$L.$d"
    nf_bg "unplug-tap-$mode" "$L" --devid "$d" --mode gen --size 1000 --rate 1000 --seconds 30
    upid=$NF_PID
    ok "$mode: unplug of a TAP vif: connected, sending" wait_for 10 vif_state_is "$L" 4 "$d"
    ok "$mode: unplug of a TAP vif: vif-detach completes" \
        quiet "$XENSIMCTL" vif-detach "$L" "$d" --timeout 10
    ok "$mode: unplug of a TAP vif: ... the frontend stops" wait_for 10 stopped "$upid"
    nf_wait "$upid"
    ok "$mode: unplug of a TAP vif: ... its interface is gone" \
        wait_for 5 eval '! in_ns "$NS_D" ip link show "vif$L.$d" >/dev/null 2>&1'
    ok "$mode: unplug of a TAP vif: ... and the vif from the daemon" wait_for 5 vif_gone "$L" "$d"
    # A guest without a driver never answers: the toolstack forces it.
    d=$("$XENSIMCTL" vif-attach "$L" bridge=br0)
    ok "$mode: unplug, no frontend: InitWait" wait_for 5 vif_state_is "$L" 2 "$d"
    ok "$mode: unplug, no frontend: vif-detach --force after its timeout" \
        quiet "$XENSIMCTL" vif-detach "$L" "$d" --timeout 1 --force
    ok "$mode: unplug, no frontend: ... the daemon drops the vif and its interface" \
        wait_for 5 eval 'vif_gone "$L" "$d" && ! in_ns "$NS_D" ip link show "vif$L.$d" >/dev/null 2>&1'
}

for mode in poll event; do
    ok "$mode: sidecored starts" net_sc_start --mode "$mode" --cores 2
    nf_bg "echo-$mode" "$A" --mode echo --seconds 600
    ECHO_PID=$NF_PID
    nf_bg "sink-$mode" "$S" --mode sink --seconds 600
    SINK_PID=$NF_PID
    ok "$mode: the echoing and the sinking guests connect" \
        wait_for 10 eval 'vif_state_is "$A" 4 && vif_state_is "$S" 4'

    # ---- hotplug-status: no connect before the script says so ----
    if [ "$mode" = poll ]; then
        guest_tap_bg "$T" "$NT" 10.9.1.3/24
        ok "$mode: hotplug: the TAP guest's frontend says Connected" wait_for 10 fe_state_is "$T" 4
        sleep 1
        ok "$mode: hotplug: ... the backend waits for hotplug-status, not Connected" \
            eval '! vif_state_is "$T" 4 && ! vif_dev_is "$T" Connected'
        ok "$mode: hotplug: ... and says why" \
            grep -q "vif $T/0: waiting for the hotplug script" "$SIMDIR/sidecored.log"
        ok "$mode: hotplug: the script bridges the interface, writes hotplug-status" \
            hotplug_online "$T"
        ok "$mode: hotplug: ... then the backend connects" wait_for 10 vif_state_is "$T" 4
        ok "$mode: hotplug: ... the guest's address comes up" wait_for 10 guest_addr_up "$NT" 10.9.1.3
        ok "$mode: hotplug: ping the host through TAP and bridge" \
            quiet in_ns "$NT" ping -c 3 -i 0.2 -W 2 10.9.1.254
    else
        ok "$mode: the TAP vif left Connected by the last daemon is adopted" \
            wait_for 10 vif_dev_is "$T" Connected
        tap_back "a new daemon"
    fi
    base_tasks=$(tasks)

    # ---- reconnect after Closed ----
    L=$(guest_new "life-$mode")
    vif_add "$L" "00:16:3e:00:05:0$([ "$mode" = poll ] && echo 1 || echo 2)" scsw0
    ok "$mode: reconnect: the new vif waits in InitWait" wait_for 5 vif_state_is "$L" 2
    rounds="1 2 3 4"
    [ "$mode" = event ] && rounds="1 2"
    for i in $rounds; do
        nf_run "life-$mode-$i" "$L" --mode gen --dst-mac "$A_MAC" --size 1000 --count 500 \
            --rate 2000 --expect-echo
        ok "$mode: reconnect $i: traffic verified" gen_ok "life-$mode-$i" $?
        ok "$mode: reconnect $i: ... the frontend closes, the backend Closed, no queue left" \
            wait_for 5 eval 'vif_state_is "$L" 6 && vif_dev_is "$L" Closed && [ "$(vif_queues "$L")" = 0 ]'
    done
    [ "$mode" = event ] && ok "event: reconnect: the queue threads ended" \
        wait_for 5 test "$(tasks)" = "$base_tasks"

    # ---- online=0 unplug ----
    ok "$mode: unplug: vif-detach of the closed vif" \
        quiet "$XENSIMCTL" vif-detach "$L" 0 --timeout 5
    ok "$mode: unplug: ... its backend dir is removed" be_gone "$L" 0
    ok "$mode: unplug: ... sidecorectl no longer lists it" wait_for 5 vif_gone "$L" 0
    d=$("$XENSIMCTL" vif-attach "$L" bridge=scsw0)
    nf_bg "unplug-$mode" "$L" --devid "$d" --mode gen --dst-mac "$A_MAC" --size 1000 \
        --rate 1000 --seconds 30 --expect-echo
    upid=$NF_PID
    ok "$mode: unplug under traffic: connected first" wait_for 10 vif_state_is "$L" 4 "$d"
    sleep 0.5
    ok "$mode: unplug under traffic: vif-detach completes" \
        quiet "$XENSIMCTL" vif-detach "$L" "$d" --timeout 10
    ok "$mode: unplug under traffic: ... the frontend is told and stops" wait_for 10 stopped "$upid"
    nf_wait "$upid"
    ok "$mode: unplug under traffic: ... without a bad or reordered frame" \
        test "$(nf_field "unplug-$mode" '$j->{bad} + $j->{out_of_order}')" = 0
    ok "$mode: unplug under traffic: ... gone from the daemon and xenstore" \
        wait_for 5 eval 'vif_gone "$L" "$d" && be_gone "$L" "$d"'
    # (event mode: the same lifecycle code; only the threads differ)
    [ "$mode" = poll ] && unplug_tap

    # ---- a guest destroyed while it sends ----
    # The victim and a partner send to each other (both learnt by the
    # switch); once the victim is gone the partner's frames to it are
    # flooded: B's generator may see them, so its check is its own frames.
    V=$(guest_new "victim-$mode") && P=$(guest_new "partner-$mode")
    V_MAC="00:16:3e:00:06:0$([ "$mode" = poll ] && echo 1 || echo 2)"
    P_MAC="00:16:3e:00:06:1$([ "$mode" = poll ] && echo 1 || echo 2)"
    vif_add "$V" "$V_MAC" scsw0
    vif_add "$P" "$P_MAC" scsw0
    # Every frame of B's must come back, so under TSan (receivers slowed
    # unevenly; the switch drops what waits 100 ms for buffers) all send at
    # a quarter of the rate: with a second TSan run beside it, 73 of 2500
    # frames were dropped so (2026-12-06).
    div=1
    [ "$SC_SAN" = tsan ] && div=4
    nf_bg "partner-$mode" "$P" --mode gen --dst-mac "$V_MAC" --size 1500 --rate $((500 / div)) --seconds 30
    ppid=$NF_PID
    nf_bg "victim-$mode" "$V" --mode gen --dst-mac "$P_MAC" --size 1500 --rate $((2000 / div)) --seconds 30
    vpid=$NF_PID
    ok "$mode: death: the victim connects and sends" \
        wait_for 10 eval 'vif_state_is "$V" 4 && vif_state_is "$P" 4'
    gen_bg "death-$mode" --rate $((1000 / div)) --seconds 2.5
    sleep 1
    ok "$mode: death: xensimctl destroy --cleanup while it sends" \
        quiet "$XENSIMCTL" destroy "$V" --cleanup
    ok "$mode: death: ... its vif leaves the daemon" wait_for 5 vif_gone "$V"
    ok "$mode: death: ... sidecored stays up and logged it" \
        eval 'sc_alive && grep -Eq "vif $V/0: .*(disconnect|removed|gone)" "$SIMDIR/sidecored.log"'
    kill "$vpid" "$ppid" 2>/dev/null
    nf_wait "$vpid"
    nf_wait "$ppid"
    nf_wait "$GEN_PID"
    clean=no
    [ "$(nf_field "death-$mode" '$j->{sent} - $j->{echoes}')" = 0 ] &&
        [ "$(nf_field "death-$mode" '$j->{bad} + $j->{out_of_order} + $j->{tx_errors}')" = 0 ] &&
        clean=yes
    is "$mode: death: the other guests' traffic meanwhile: every frame echoed, verified" \
        "$clean" yes
    [ "$clean" = yes ] || gen_ok "death-$mode" failed
    ok "$mode: death: ... the echoing and the sinking guests still Connected" \
        eval 'vif_state_is "$A" 4 && vif_state_is "$S" 4 && running "$SINK_PID"'

    # ---- sidecored stopped (SIGTERM) under traffic ----
    # The generator's bound is one no restart reaches (a loaded machine
    # restarts slowly: a run of a few seconds could end, and its vif close,
    # before the new daemon is asked about it); SIGUSR1 ends it a second
    # after the adoption.
    gen_bg "term-$mode" --rate 1000 --seconds 120 --max-lost 1000
    in_ns "$NT" ping -c 30 -i 0.1 -W 1 10.9.1.254 >"$SIMDIR/ping-$mode" 2>&1 &
    ping_pid=$!
    ok "$mode: SIGTERM: traffic running" wait_for 10 vif_state_is "$B" 4
    sleep 1
    sc_stop
    is "$mode: SIGTERM: sidecored stops under traffic (0)" "$?" 0
    ok "$mode: SIGTERM: ... leaving the vifs Connected for its successor" \
        eval 'vif_state_is "$A" 4 && vif_state_is "$B" 4 && vif_state_is "$T" 4'
    ok "$mode: SIGTERM: sidecored starts again" net_sc_start --mode "$mode" --cores 2
    ok "$mode: SIGTERM: ... adopts the connected vifs" \
        wait_for 10 eval 'vif_dev_is "$A" Connected && vif_dev_is "$B" Connected && vif_dev_is "$T" Connected'
    sleep 1
    kill -USR1 "$GEN_PID" 2>/dev/null
    nf_wait "$GEN_PID"
    ok "$mode: SIGTERM: the generator's run ends clean across the restart" gen_ok "term-$mode" $?
    echoes=$(nf_field "term-$mode" '$j->{echoes}')
    sent=$(nf_field "term-$mode" '$j->{sent}')
    ok "$mode: SIGTERM: ... its traffic resumed after it ($echoes of $sent echoed, lost $(nf_field "term-$mode" '$j->{lost}'))" \
        test "$((${echoes:-0} * 2))" -ge "${sent:-1}" -a "${echoes:-0}" -ge 500
    tap_back SIGTERM
    kill "$ping_pid" 2>/dev/null
    wait "$ping_pid" 2>/dev/null

    # ---- sidecored killed (SIGKILL) under traffic, three times ----
    # A kill lands anywhere: between a response written into the ring and
    # its publication too.  The next daemon must not fail, answer a request
    # twice or lose one (a frame it sends twice is allowed: gen_ok_kill).
    gen_bg "kill-$mode" --rate 3000 --seconds 120 --max-lost 3000 # ended by SIGUSR1, as above
    for k in 1 2 3; do
        sleep "0.$((RANDOM % 5 + 5))"
        net_sc_kill
        ok "$mode: SIGKILL $k: sidecored starts again after a kill" \
            net_sc_start --mode "$mode" --cores 2
        # The bound after SIGTERM's, not 5 s: a loaded sanitizer build's
        # successor once took longer to adopt after the third kill (the
        # Makefile's TSan note); a daemon that never adopts still fails it.
        ok "$mode: SIGKILL $k: ... adopts the connected vifs" \
            wait_for 10 eval 'vif_dev_is "$A" Connected && vif_dev_is "$B" Connected && vif_dev_is "$T" Connected'
    done
    sleep 1
    kill -USR1 "$GEN_PID" 2>/dev/null
    nf_wait "$GEN_PID"
    ok "$mode: SIGKILL: the generator's run ends clean across the kills (no error answer, no bad frame, no broken ring)" \
        gen_ok_kill "kill-$mode" $?
    echoes=$(nf_field "kill-$mode" '$j->{echoes}')
    sent=$(nf_field "kill-$mode" '$j->{sent}')
    ok "$mode: SIGKILL: ... its traffic resumed after them ($echoes of $sent echoed, lost $(nf_field "kill-$mode" '$j->{lost}'))" \
        test "$((${echoes:-0} * 2))" -ge "${sent:-1}" -a "${echoes:-0}" -ge 1500
    tap_back SIGKILL

    # ---- the end of this mode ----
    kill -TERM "$ECHO_PID" "$SINK_PID" 2>/dev/null
    nf_wait "$ECHO_PID"
    rc=$?
    is "$mode: the echoing guest ends cleanly" "$rc" 0
    [ "$rc" = 0 ] || echo "#   $(nf_field "echo-$mode" '"echoed $j->{echoed} dropped $j->{echo_dropped} tx_errors $j->{tx_errors} rx_errors $j->{rx_errors} bad_responses $j->{bad_responses}"') $(head -2 "$SIMDIR/echo-$mode.err")"
    nf_wait "$SINK_PID"
    ok "$mode: the guests disconnect: backend Closed" \
        wait_for 5 eval 'vif_state_is "$A" 6 && vif_state_is "$S" 6'
    if [ "$mode" = event ]; then
        guest_net_stop "$T"
        is "$mode: the TAP guest's adapter ended cleanly" "$(tap_field "$T" result)" ok
    fi
    sc_stop
    is "$mode: sidecored exits 0" "$?" 0
done
grep -E "error|warn" "$SIMDIR/sidecored.log" | sort | uniq -c | sort -rn | head -8 | sed 's/^/# /'
ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
