#!/bin/bash
# net_rebalance_e2e_test.sh - vif queues moved between sidecores under
# verified traffic: a generator's every frame must come back from an
# echoing guest on the internal switch, in order and intact, while both
# guests' queues are moved back and forth (sidecorectl move-queue): frames
# that a sender's core hands to the receiver's queue while that queue is
# on its way wait in its inbox, and nothing is lost, repeated or reordered.
set -u
cd "$(dirname "$0")/../.."
. tests/tools/net_e2e_lib.sh

net_world_start

queue_core() {
    net_ctl queues --json 2>/dev/null |
        jget 'my ($q) = grep { $_->{name} eq "vif '"$1"'/0 q0" } @$j; $q ? $q->{core} : ""'
}
other() { [ "$1" = sc0 ] && echo sc1 || echo sc0; }

ok "sidecored starts (2 sidecores, rebalancing off)" \
    net_sc_start --mode poll --cores 2 --rebalance off
A=$(guest_new echo) && B=$(guest_new gen) || { echo "Bail out! guests"; exit 1; }
A_MAC=00:16:3e:00:07:0a
vif_add "$A" "$A_MAC" scsw0
vif_add "$B" 00:16:3e:00:07:0b scsw0
nf_bg echo "$A" --mode echo --seconds 600
echo_pid=$NF_PID
ok "the echoing guest connects" wait_for 10 vif_state_is "$A" 4
nf_bg gen "$B" --mode gen --dst-mac "$A_MAC" --size 1000 --flows 4 --expect-echo \
    --linger-ms 500 --rate 2000 --seconds 120
gen_pid=$NF_PID # a bound no build's 30 moves reach; SIGUSR1 ends it after them
ok "the generator connects" wait_for 10 vif_state_is "$B" 4

moves=0
for i in $(seq 1 30); do
    g=$([ $((i % 2)) = 0 ] && echo "$A" || echo "$B")
    c=$(queue_core "$g")
    [ -n "$c" ] || break
    net_ctl move-queue "vif $g/0 q0" "$(other "$c")" >/dev/null || { echo "# move $i refused"; break; }
    landed() { [ "$(queue_core "$g")" = "$(other "$c")" ]; }
    wait_for 5 landed || { echo "# move $i of vif $g/0 from $c did not land"; break; }
    moves=$((moves + 1))
    sleep 0.05
done
ok "30 moves of the two vif queues under traffic ($moves)" test "$moves" -eq 30
kill -USR1 "$gen_pid"
nf_wait "$gen_pid"
rc=$?
ok "every frame echoed, none bad, duplicated or reordered" \
    eval '[ "$rc" = 0 ] && [ "$(nf_field gen "\$j->{bad} + \$j->{out_of_order} + \$j->{lost}")" = 0 ]'
nf_field gen '"#   sent $j->{sent} echoes $j->{echoes} lost $j->{lost}"'
echo
kill "$echo_pid" 2>/dev/null
nf_wait "$echo_pid"
ok "sidecored still serving, log clean" eval 'sc_alive && sc_log_clean'
[ -n "${SC_TEST_SHOW_LOG:-}" ] && grep -v "moved from\|moving from" "$SIMDIR/sidecored.log" | tail -40 | sed "s/^/# /"

done_testing
