#!/bin/bash
# blk_hostile_e2e_test.sh - a frontend that writes garbage into its xenstore
# directory (a ring-ref that is no number, refs never granted, an event
# channel that does not exist, too many queues, too large a ring) and then
# says Initialised: that device fails (backend Closing/Closed, an error node
# where Linux's xenbus_dev_fatal puts it), sidecored stays up, and another
# guest's verified I/O running at the same time is unaffected; in poll and
# event mode.
# (Bad requests on a ring are the unit tests' business; simblkfront has no
# raw-request mode for ring overflow here.)
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start

err_node() { echo "/local/domain/0/error/backend/vbd/$1/$2/error"; }
has_error() { xs0 xenstore-read "$(err_node "$1" "$2")" >/dev/null 2>&1; }
failed_state() {
    local s
    s=$(be_key "$1" "$2" state)
    [ "$s" = 5 ] || [ "$s" = 6 ]
}

# hostile NAME GUEST KEY=VALUE...: a fresh disk of GUEST, the keys written
# as the guest into its frontend dir, then state=3; checks what follows.
hostile() {
    local name=$1 g=$2; shift 2
    local d fe kv
    d=$(disk_attach "$g" null:16M)
    fe=$(fe_path "$g" "$d")
    ok "$mode: $name: the disk waits in InitWait" wait_for 5 be_state_is "$g" "$d" 2
    for kv in "$@"; do
        xs_as "$g" xenstore-write "$fe/${kv%%=*}" "${kv#*=}"
    done
    xs_as "$g" xenstore-write "$fe/state" 3
    ok "$mode: $name: the backend fails the device (Closing/Closed)" \
        wait_for 5 failed_state "$g" "$d"
    ok "$mode: $name: ... with an error node" wait_for 5 has_error "$g" "$d"
    echo "#   $(xs0 xenstore-read "$(err_node "$g" "$d")" 2>&1)"
    ok "$mode: $name: ... and never Connected it" \
        test "$(dev_field "$g" "$d" state)" != Connected
    ok "$mode: $name: sidecored stays up" sc_alive
}

for mode in poll event; do
    ok "$mode: sidecored starts" sc_start --mode "$mode" --cores 2
    good=$(guest_new "good-$mode")
    gd=$(disk_attach "$good" "$(disk_file 64M)")
    front_bg "$SIMDIR/good-$mode" "$good" "$gd" --seconds 5 --verify --rw mix:50
    good_pid=$FRONT_PID
    ok "$mode: a well-behaved guest connects and runs" wait_for 5 dev_state_is "$good" "$gd" Connected

    bad=$(guest_new "bad-$mode")
    hostile "ring-ref xyz" "$bad" ring-ref=xyz event-channel=99999
    hostile "ring-ref never granted, event-channel 99999" "$bad" \
        ring-ref=12345 event-channel=99999
    hostile "ring-ref 2^32 (out of range)" "$bad" ring-ref=4294967296 event-channel=1
    hostile "ring-page-order 9" "$bad" ring-page-order=9 ring-ref0=8 ring-ref1=9 event-channel=1
    hostile "multi-queue-num-queues 1000" "$bad" multi-queue-num-queues=1000 \
        queue-0/ring-ref=8 queue-0/event-channel=1
    hostile "protocol bogus-abi" "$bad" ring-ref=8 event-channel=1 protocol=bogus-abi
    hostile "no ring-ref at all" "$bad" event-channel=1

    front_wait "$good_pid"
    is "$mode: the well-behaved guest's run finishes and verifies meanwhile (0)" "$?" 0
    ok "$mode: ... a clean report" report_ok "$SIMDIR/good-$mode"
    ok "$mode: ... and it reconnects fine afterwards" \
        quiet front "$good" "$gd" --ios 1000 --verify --rw mix:50
    ok "$mode: the control socket still answers" quiet ctl status
    sc_stop
    is "$mode: sidecored exits 0" "$?" 0
done

ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
