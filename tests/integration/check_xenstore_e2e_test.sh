#!/bin/bash
# check_xenstore_e2e_test.sh - `sidecorectl check-xenstore` on a live xensim
# store: a vbd and a vif (on the internal switch) of one guest, served by
# sidecored, are clean in every state they pass through (Initialising
# before the daemon, InitWait, Connected, Closed after their frontends
# leave, Connected again); then, with the tree frozen Connected (daemon and
# frontends SIGKILLed), injected faults are each reported with their full
# path and exit 1: an unknown backend key, an unknown frontend key,
# sectors=abc, a malformed mac, a required key removed (sectors of a
# Connected vbd), a frontend key above the backend's offer; --json lists
# them; an unreachable store, a missing or broken schema exit 2.
set -u
cd "$(dirname "$0")/../.."
. tests/tools/blk_e2e_lib.sh

unshare_net_or_skip # sets NS_RUN and SIMNETFRONT

check() { "$SIDECORECTL" check-xenstore "$@" 2>"$SIMDIR/check.err"; }
clean() {
    local out
    out=$(check "$@") && [ -z "$out" ] && return 0
    echo "$out" | sed 's/^/# /'
    return 1
}
# findings EXPECTED_RC: runs the check, keeps its output in $OUT, passes if
# it exited EXPECTED_RC.
findings() {
    local want=$1; shift
    OUT=$(check "$@")
    local rc=$?
    [ "$rc" = "$want" ] || { echo "# exit $rc, wanted $want"; echo "$OUT" | sed 's/^/# /'; }
    [ "$rc" = "$want" ]
}
state_is() { [ "$(xs0 xenstore-read "$1/state" 2>/dev/null)" = "$2" ]; }

simworld_start
MAC=00:16:3e:00:0b:01
G=$(guest_new blk) && N=$(guest_new net) || { echo "Bail out! guests"; exit 1; }
D=$(disk_attach "$G" null:64M) || { echo "Bail out! vbd-attach"; exit 1; }
"$XENSIMCTL" vif-attach "$N" mac=$MAC bridge=scsw0 >/dev/null || { echo "Bail out! vif-attach"; exit 1; }
BE=/local/domain/0/backend/vbd/$G/$D
FE=/local/domain/$G/device/vbd/$D
VBE=/local/domain/0/backend/vif/$N/0
VFE=/local/domain/$N/device/vif/0

# ---- clean through the states ----
ok "Initialising (no backend yet): clean, exit 0" clean
ok "it saw both devices" grep -q "backend domain 0: 2 devices, 0 findings" "$SIMDIR/check.err"

SC_LAUNCH=("${NS_RUN[@]}")
sc_start --cores 1 || { echo "Bail out! sidecored"; cat "$SIMDIR/sidecored.log"; exit 1; }
ok "both backends in InitWait" wait_for 10 eval 'state_is $BE 2 && state_is $VBE 2'
ok "InitWait: clean" clean

# runs of 4 s: connected long enough to be checked, then they close
front_bg "$SIMDIR/blk.json" "$G" "$D" --seconds 4 --qd 1 --queues 1
BLK=$FRONT_PID
"$SIMNETFRONT" --dir "$SIMDIR" --domid "$N" --mode gen --dst-mac 00:16:3e:00:0b:09 \
    --size 200 --rate 50 --seconds 4 --queues 1 --json \
    >"$SIMDIR/net.json" 2>"$SIMDIR/net.err" &
NET=$!
FRONT_PIDS="$FRONT_PIDS $NET"
ok "both Connected" wait_for 15 eval 'state_is $BE 4 && state_is $FE 4 && state_is $VBE 4 && state_is $VFE 4'
ok "Connected: clean" clean
ok "Connected: clean with --backend-domid 0 and --schema" \
    clean --backend-domid 0 --schema xenstore-schema
is "--json: clean, two devices" \
    "$(check --json | jget 'join ",", ($j->{clean} ? "clean" : "dirty"), scalar @{$j->{devices}}, scalar @{$j->{findings}}')" \
    "clean,2,0"

ok "the vbd's frontend ends its run" front_wait "$BLK"
ok "the vif's frontend ends its run" front_wait "$NET"
ok "the frontends leave: both backends Closed" wait_for 10 eval 'state_is $BE 6 && state_is $VBE 6'
ok "Closed: clean" clean

# ---- a frozen Connected tree, then faults ----
front_bg "$SIMDIR/blk2.json" "$G" "$D" --seconds 60 --qd 1 --queues 1
BLK=$FRONT_PID
"$SIMNETFRONT" --dir "$SIMDIR" --domid "$N" --mode gen --dst-mac 00:16:3e:00:0b:09 \
    --size 200 --rate 50 --seconds 60 --queues 1 --json \
    >"$SIMDIR/net2.json" 2>"$SIMDIR/net2.err" &
NET=$!
FRONT_PIDS="$FRONT_PIDS $NET"
ok "both reconnect" wait_for 15 eval 'state_is $BE 4 && state_is $FE 4 && state_is $VBE 4 && state_is $VFE 4'
ok "Connected again: clean" clean
# SIGKILL: nobody rewrites or reacts to the keys from here on
kill -KILL "$SC_PID" "$BLK" "$NET" 2>/dev/null
wait "$SC_PID" "$BLK" "$NET" 2>/dev/null
SC_PID="" FRONT_PIDS=""
ok "frozen Connected: clean" clean

xs0 xenstore-write "$BE/made-up-key" 1
ok "an unknown backend key: exit 1" findings 1
ok "... reported with its path" grep -qx "$BE/made-up-key: unknown key; expected only the backend keys of vbd.json" <<<"$OUT"
is "... one line" "$(awk 'END {print NR}' <<<"$OUT")" 1
xs0 xenstore-rm "$BE/made-up-key"

xs0 xenstore-write "$VFE/feature-made-up" 1
ok "an unknown frontend key: exit 1" findings 1
ok "... reported with its path" grep -q "^$VFE/feature-made-up: unknown key; expected only the frontend keys of vif.json$" <<<"$OUT"
xs0 xenstore-rm "$VFE/feature-made-up"

sectors=$(xs0 xenstore-read "$BE/sectors")
xs0 xenstore-write "$BE/sectors" abc
ok "sectors=abc: exit 1" findings 1
ok "... reported with path, value and what was expected" \
    grep -qx "$BE/sectors: bad value \"abc\"; expected an unsigned decimal number" <<<"$OUT"

mac=$(xs0 xenstore-read "$VBE/mac")
xs0 xenstore-write "$VBE/mac" 00:16:3e:zz:00:01
ok "a malformed mac: reported" findings 1
ok "... with the expected form" \
    grep -qx "$VBE/mac: bad value \"00:16:3e:zz:00:01\"; expected a MAC address xx:xx:xx:xx:xx:xx (hex)" <<<"$OUT"
is "sectors and mac: two lines" "$(awk 'END {print NR}' <<<"$OUT")" 2
xs0 xenstore-write "$VBE/mac" "$mac"

xs0 xenstore-rm "$BE/sectors"
ok "sectors removed from a Connected vbd: exit 1" findings 1
ok "... reported as missing for its state" \
    grep -qx "$BE/sectors: missing; expected present in state 4 (Connected), as vbd.json says" <<<"$OUT"
xs0 xenstore-write "$BE/sectors" "$sectors"

max=$(xs0 xenstore-read "$VBE/multi-queue-max-queues")
xs0 xenstore-write "$VFE/multi-queue-num-queues" $((max + 1))
ok "a frontend's queues above the backend's offer: exit 1" findings 1
ok "... the bound named with its value" \
    grep -qx "$VFE/multi-queue-num-queues: bad value \"$((max + 1))\"; expected a number in \[1, multi-queue-max-queues ($max)\]" <<<"$OUT"
xs0 xenstore-rm "$VFE/multi-queue-num-queues"

xs0 xenstore-write "$BE/made-up-key" 1
xs0 xenstore-write "$BE/sectors" abc
xs0 xenstore-rm "$BE/info"
ok "three faults at once: exit 1" findings 1
is "... three lines" "$(awk 'END {print NR}' <<<"$OUT")" 3
is "--json: the three paths and problems" \
    "$(check --json | jget 'join ",", map { "$_->{path}=$_->{problem}" } sort { $a->{path} cmp $b->{path} } @{$j->{findings}}')" \
    "$BE/info=missing,$BE/made-up-key=unknown key,$BE/sectors=bad value"
is "--json: not clean" "$(check --json | jget '$j->{clean} ? 1 : 0')" 0
ok "another backend domain's tree: clean (no devices)" clean --backend-domid 7
xs0 xenstore-rm "$BE/made-up-key"
xs0 xenstore-write "$BE/sectors" "$sectors"
xs0 xenstore-write "$BE/info" 0
ok "repaired: clean" clean

# ---- what cannot be read: exit 2 ----
is "a schema directory without schemas: exit 2" "$(rc check --schema "$SIMDIR")" 2
mkdir "$SIMDIR/schema" && cp xenstore-schema/*.json "$SIMDIR/schema/"
sed -i '0,/"format": "uint"/s//"format": "number"/' "$SIMDIR/schema/vbd.json"
is "a schema with an unknown format: exit 2" "$(rc check --schema "$SIMDIR/schema")" 2
ok "... saying so" grep -q 'unknown format "number"' "$SIMDIR/check.err"
is "no such socket: exit 2" "$(XENSTORED_PATH=$SIMDIR/none.sock rc check)" 2
is "a bad --backend-domid: exit 2" "$(rc check --backend-domid x)" 2
kill "$SIM_PID" && wait "$SIM_PID" 2>/dev/null
SIM_PID=""
is "the store gone: exit 2" "$(rc check)" 2
ok "... saying it cannot read it" grep -q "cannot" "$SIMDIR/check.err"

done_testing
