#!/bin/bash
# blk_flap_e2e_test.sh - a frontend that connects and closes again and again
# (a flapping state) is held back after a burst of connects, logged once,
# and still served; another guest's disk connects as usual meanwhile.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start
ok "sidecored starts" sc_start --mode poll --cores 1
g=$(guest_new flapper)
d=$(disk_attach "$g" "$(disk_file 16M)")
other=$(guest_new steady)
od=$(disk_attach "$other" "$(disk_file 16M)")

status=0
# 20 cycles of a few requests, faster than the limit's 2 a second on most
# machines, so the burst of 5 runs out.  Not on all: a loaded ASan build
# took over 0.5 s a cycle (none held back), and then the limit has nothing
# to hold.  The first 5 (the burst, never held) time a cycle: at 300 ms or
# more the hold is not judged (SKIP); below it, 20 cycles outrun the limit.
t0=$EPOCHREALTIME t5=""
for i in $(seq 1 20); do
    front "$g" "$d" --ios 4 --verify --rw mix:50 >"$SIMDIR/flap$i" 2>&1 || status=$?
    [ "$i" = 5 ] && t5=$EPOCHREALTIME
done
cycle_ms=$(( (${t5//[^0-9]/} - ${t0//[^0-9]/}) / 5000 )) # us (any decimal point) to ms a cycle
is "twenty connect-close cycles in a row each run and verify (0)" "$status" 0
if [ "$cycle_ms" -ge 300 ]; then
    TAP_N=$((TAP_N + 1))
    echo "ok $TAP_N - ... the rate limit held some back, and said so # SKIP a cycle took $cycle_ms ms: machine too busy to flap faster than 2 a second"
else
    ok "... the rate limit held some back, and said so ($cycle_ms ms a cycle)" \
        grep -q "vbd $g/$d: frontend connects too often" "$SIMDIR/sidecored.log"
fi
n=$(grep -c "vbd $g/$d: frontend connects too often" "$SIMDIR/sidecored.log")
ok "... once per burst, not per connect ($n lines)" test "$n" -lt 4
front "$other" "$od" --ios 200 --verify --rw mix:50 >"$SIMDIR/other" 2>&1
is "another guest's disk connects and verifies meanwhile (0)" "$?" 0
ok "... never held back" eval '! grep -q "vbd $other/$od: frontend connects too often" "$SIMDIR/sidecored.log"'
ok "sidecored stays up" sc_alive
sc_stop
is "sidecored exits 0" "$?" 0

ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
