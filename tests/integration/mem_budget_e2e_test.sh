#!/bin/bash
# mem_budget_e2e_test.sh - the daemon's memory budget (--mem-budget): a queue
# whose reservation does not fit is refused at connect with a clear error in
# xenstore and the log, a disk and a vif alike, while a guest that fits goes
# on with its verified I/O; sidecorectl shows each guest's reservation and
# the budget; what a queue reserved comes back when it detaches.
#
# The budget (8 MiB) holds guest A's small disk (1 queue, a one-page ring,
# no persistent grants: under 2 MiB) but not guest B's (a 16-page ring with
# persistent grants: over 20 MiB), nor a vif queue (its frame buffers alone
# are over 8 MiB).  sidecored runs in a network namespace of its own, for
# the internal switch's host port (a TAP interface).
set -u
cd "$(dirname "$0")/../.."
. tests/tools/blk_e2e_lib.sh

unshare_net_or_skip # sets NS_RUN and SIMNETFRONT

BUDGET=$((8 * 1024 * 1024))
err_node() { echo "/local/domain/0/error/backend/$1/$2/$3/error"; }
err_of() { xs0 xenstore-read "$(err_node "$@")" 2>/dev/null; }
has_error() { err_of "$@" >/dev/null; }
# mem FIELD: a field of `status --json`'s memory object
mem() { ctl status --json 2>/dev/null | jget '$j->{memory}{'"$1"'}'; }
mem_is() { [ "$(mem "$1")" = "$2" ]; }
# guest_mem DOMID: its mem_reserved_bytes in `guests --json` (0 if not listed)
guest_mem() {
    ctl guests --json 2>/dev/null |
        jget 'my ($g) = grep { $_->{domid} == '"$1"' } @$j; $g ? $g->{mem_reserved_bytes} : 0'
}
guest_mem_above() { [ "$(guest_mem "$1")" -gt "$2" ]; }
be_failed() {
    local s
    s=$(xs0 xenstore-read "/local/domain/0/backend/$1/$2/$3/state" 2>/dev/null)
    [ "$s" = 5 ] || [ "$s" = 6 ]
}

simworld_start
ok "sidecored starts with an 8 MiB memory budget" \
    eval 'SC_LAUNCH=("${NS_RUN[@]}"); sc_start --cores 1 --mem-budget 8M'
sc_alive || { echo "Bail out! sidecored"; cat "$SIMDIR/sidecored.log"; exit 1; }
ok "... and says so" grep -q "memory budget for queues: 8.0 MiB, per guest unlimited" \
    "$SIMDIR/sidecored.log"
is "status: the budget, nothing reserved yet" "$(mem budget_bytes) $(mem reserved_bytes)" \
    "$BUDGET 0"

a=$(guest_new small) && da=$(disk_attach "$a" "$(disk_file 16M)") &&
    b=$(guest_new big) && db=$(disk_attach "$b" "$(disk_file 16M)") &&
    n=$(guest_new net) && "$XENSIMCTL" vif-attach "$n" mac=00:16:3e:00:0b:01 bridge=scsw0 \
        >/dev/null || { echo "Bail out! guests"; exit 1; }

# ---- A fits: its verified I/O runs through everything below ----
# Its reservation is asserted until B and the vif are refused, steps whose
# time a loaded sanitizer build does not bound (a 6 s run could end, and
# free it, before): the run ends by SIGUSR1 once they are done.
front_bg "$SIMDIR/a.json" "$a" "$da" --queues 1 --ring-order 0 --no-persistent --qd 8 \
    --seconds 120 --verify --rw mix:50
pid_a=$FRONT_PID
ok "guest A's disk connects and holds a reservation" wait_for 10 guest_mem_above "$a" 0
ra=$(guest_mem "$a")
ok "... of less than the budget ($ra bytes)" test "$ra" -lt "$BUDGET"
is "status: reserved is A's" "$(mem reserved_bytes)" "$ra"
is "status: left is the rest" "$(mem left_bytes)" "$((BUDGET - ra))"
is "queues --json: A's queue carries it" \
    "$(ctl queues --json | jget 'join ",", map { $_->{mem_reserved_bytes} } grep { $_->{domid} == '"$a"' } @$j')" \
    "$ra"
ok "sidecorectl guests shows a MEM column" eval 'ctl guests | head -1 | grep -q " MEM "'
ok "sidecorectl status shows the budget" eval 'ctl status | grep -Eq "^memory +.* reserved of 8.0MiB"'

# ---- B does not fit: refused at connect, A unaffected ----
front "$b" "$db" --queues 1 --ring-order 4 --ios 50 --timeout-ms 5000 >"$SIMDIR/b.json" 2>&1
fails "guest B's disk (16-page ring, persistent grants) is not served" test $? = 0
ok "... its backend fails (Closing/Closed)" wait_for 5 be_failed vbd "$b" "$db"
ok "... with an error node" wait_for 5 has_error vbd "$b" "$db"
e=$(err_of vbd "$b" "$db")
ok "... that names the need and the budget ($e)" \
    eval '[[ "$e" =~ ^12\ queue\ 0\ needs\ [0-9.]+\ MiB,\ the\ daemon.s\ memory\ budget\ has\ [0-9.]+\ [KM]iB\ left\ of\ 8.0\ MiB\ \(sidecored\ --mem-budget\)$ ]]'
ok "... and so does the log" \
    grep -Eq "vbd $b/$db: queue 0 needs [0-9.]+ MiB, the daemon's memory budget has .* left of 8.0 MiB \(sidecored --mem-budget\)" \
    "$SIMDIR/sidecored.log"
is "... B holds nothing" "$(guest_mem "$b")" 0
is "... A's reservation is untouched" "$(mem reserved_bytes)" "$ra"
ok "... counted as refused" eval '[ "$(mem refused)" -ge 1 ]'

# ---- a vif queue does not fit either ----
"$SIMNETFRONT" --dir "$SIMDIR" --domid "$n" --devid 0 --mode sink --queues 1 --count 1 \
    --timeout-ms 5000 --json >"$SIMDIR/n.json" 2>"$SIMDIR/n.err"
fails "the vif is not served" test $? = 0
ok "... its backend fails" wait_for 5 be_failed vif "$n" 0
ok "... with an error node naming the budget" \
    eval 'wait_for 5 has_error vif "$n" 0 && err_of vif "$n" 0 | grep -q "memory budget has .* left of 8.0 MiB (sidecored --mem-budget)"'
ok "... and a log line" grep -Eq "vif $n/0: queue 0 needs [0-9.]+ MiB, the daemon's memory budget" \
    "$SIMDIR/sidecored.log"
is "... nothing more reserved" "$(mem reserved_bytes)" "$ra"
kill -USR1 "$pid_a"

# ---- A finishes its verified run; detaching returns every byte ----
front_wait "$pid_a"
is "guest A's verified I/O ran through it all (0)" "$?" 0
ok "... without an error" report_ok "$SIMDIR/a.json"
ok "A disconnected: the budget is back to zero" wait_for 10 mem_is reserved_bytes 0
is "... A holds nothing" "$(guest_mem "$a")" 0
is "... no reservation is left" "$(mem reservations)" 0
# B's frontend gave up (simblkfront exited): it closes, as a guest's would
ok "B's frontend closes: its backend reaches Closed" \
    eval 'xs_as "$b" xenstore-write "$(fe_path "$b" "$db")/state" 6 && wait_for 5 be_state_is "$b" "$db" 6'
ok "B's refused disk detaches" quiet "$XENSIMCTL" vbd-detach "$b" "$db" --timeout 10
ok "A's disk detaches" quiet "$XENSIMCTL" vbd-detach "$a" "$da" --timeout 10
is "... the budget is still zero" "$(mem reserved_bytes)" 0
ok "... its peak was A's" mem_is peak_bytes "$ra"

ok "sidecored stays up" sc_alive
sc_stop
is "sidecored exits 0" "$?" 0
ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
