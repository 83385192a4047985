#!/bin/bash
# blk_e2e_test.sh - data through sidecored's block backend end to end, and
# what it advertises: in poll and event mode, simblkfront writes and reads
# back (verifying) a file-backed disk with every feature negotiated and with
# each one switched off (persistent grants, indirect segments, one vs four
# queues, ring order 0 vs 4, the 32- and 64-bit ABIs); the backing file is
# then read behind the backend's back (every stamped sector at its own
# address, no torn block); the xenstore keys match the daemon's options and
# the store (sizes, read-only, discard, the limits: the vbd.* settings and
# their deprecated spellings), a read-only disk refuses writes and serves
# reads; sidecorectl shows the vbd's own view, and a file grown under a
# connected frontend is noticed (the vbd class's tick) and resize-check
# answers.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start

# run_ok NAME OUT CHECK GUEST DEVID ARGS...: one verified mixed run; passes
# if simblkfront exits 0 with a clean report, sectors verified, and the perl
# CHECK over its report ($j) is true.
run_ok() {
    local name=$1 out=$2 check=$3; shift 3
    front "$@" --verify --rw mix:50 --ios 3000 >"$out" 2>"$out.err"
    local status=$?
    TAP_N=$((TAP_N + 1))
    if [ "$status" = 0 ] && report_ok "$out" &&
        [ "$(jget '$j->{verified_sectors} > 0 && ('"$check"') ? 1 : 0' <"$out")" = 1 ]; then
        echo "ok $TAP_N - $name"
    else
        echo "not ok $TAP_N - $name"
        echo "#   exit $status; report: $(cat "$out")"
        sed 's/^/#   /' "$out.err" | head -5
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

# ---- data, both modes, every feature on and off ----
for mode in poll event; do
    ok "$mode: sidecored starts (2 cores, 4 queues a device)" \
        sc_start --mode "$mode" --cores 2 --vbd.max-queues 4
    g=$(guest_new "data-$mode")
    disk=$(disk_file 64M)
    d=$(disk_attach "$g" "$disk")
    ok "$mode: the disk waits for its frontend (InitWait)" wait_for 5 be_state_is "$g" "$d" 2
    o=$SIMDIR/run-$mode
    n=$'$j->{negotiated}'
    run_ok "$mode: everything negotiated, 64k requests through indirect segments" "$o.all" \
        "$n{persistent} && $n{max_indirect_segments} == 32 && \$j->{indirect_requests} > 0 &&
         $n{queues} == 4 && $n{ring_order} == 4 && $n{protocol} eq 'x86_64-abi'" \
        "$g" "$d" --bs 64k
    run_ok "$mode: --no-persistent (grant copy)" "$o.nopers" \
        "!$n{persistent} && $n{queues} == 4" "$g" "$d" --no-persistent --bs 16k
    run_ok "$mode: --no-indirect (11 segments at most)" "$o.noind" \
        "$n{max_indirect_segments} == 0 && \$j->{indirect_requests} == 0" \
        "$g" "$d" --no-indirect --bs 32k
    run_ok "$mode: --queues 1" "$o.q1" "$n{queues} == 1" "$g" "$d" --queues 1
    run_ok "$mode: --queues 4" "$o.q4" "$n{queues} == 4" "$g" "$d" --queues 4
    run_ok "$mode: --ring-order 0 (one page)" "$o.r0" \
        "$n{ring_order} == 0 && $n{ring_pages} == 1" "$g" "$d" --ring-order 0 --qd 64
    run_ok "$mode: --ring-order 4 (16 pages)" "$o.r4" \
        "$n{ring_order} == 4 && $n{ring_pages} == 16" "$g" "$d" --ring-order 4 --qd 64
    run_ok "$mode: --protocol x86_32-abi" "$o.abi32" "$n{protocol} eq 'x86_32-abi'" \
        "$g" "$d" --protocol x86_32-abi --bs 64k
    run_ok "$mode: --protocol x86_64-abi" "$o.abi64" "$n{protocol} eq 'x86_64-abi'" \
        "$g" "$d" --protocol x86_64-abi --bs 64k
    run_ok "$mode: everything off at once" "$o.none" \
        "!$n{persistent} && $n{max_indirect_segments} == 0 && $n{queues} == 1 &&
         $n{ring_pages} == 1 && $n{protocol} eq 'x86_32-abi'" \
        "$g" "$d" --no-persistent --no-indirect --queues 1 --ring-order 0 \
        --protocol x86_32-abi --bs 8k
    ok "$mode: the backing file holds every stamped sector at its address, none torn" \
        quiet disk_audit "$disk" 4096
    # simblkfront verifies only blocks its own run wrote, so a second run
    # re-reads the disk (through a reconnect) and the file is audited again.
    front "$g" "$d" --rw read --workload seq --ios 16384 >"$o.reread" 2>&1
    is "$mode: a second run reads the whole disk back (0)" "$?" 0
    ok "... its report is clean" report_ok "$o.reread"
    ok "... and the file still audits clean" quiet disk_audit "$disk" 4096
    ok "$mode: the daemon is still up" sc_alive
    sc_stop
    is "$mode: sidecored exits 0 on SIGTERM" "$?" 0
done

# ---- what is advertised: defaults and the store ----
ok "sidecored starts with its defaults (1 core)" sc_start
g=$(guest_new keys)
d=$(disk_attach "$g" "$(disk_file 48M)")
ok "probed: InitWait" wait_for 5 be_state_is "$g" "$d" 2
is "feature-persistent=1" "$(be_key "$g" "$d" feature-persistent)" 1
is "feature-max-indirect-segments=256 (the default)" \
    "$(be_key "$g" "$d" feature-max-indirect-segments)" 256
is "multi-queue-max-queues=1 (one per core)" "$(be_key "$g" "$d" multi-queue-max-queues)" 1
is "max-ring-page-order=4" "$(be_key "$g" "$d" max-ring-page-order)" 4
is "feature-flush-cache=1 (a file has a cache)" "$(be_key "$g" "$d" feature-flush-cache)" 1
is "feature-barrier with it" "$(be_key "$g" "$d" feature-barrier)" 1
is "feature-discard=1 (a file can punch holes)" "$(be_key "$g" "$d" feature-discard)" 1
ok "discard-granularity given with it" test -n "$(be_key "$g" "$d" discard-granularity)"
run_ok "a frontend asking 4 queues gets 1, and discard" "$SIMDIR/keys" \
    '$j->{negotiated}{queues} == 1 && $j->{negotiated}{discard} &&
     $j->{negotiated}{sectors} == 98304' "$g" "$d"
is "sectors: 48 MiB in 512-byte units" "$(be_key "$g" "$d" sectors)" 98304
is "sector-size=512" "$(be_key "$g" "$d" sector-size)" 512
ok "physical-sector-size a multiple of it" \
    test $(($(be_key "$g" "$d" physical-sector-size) % 512)) = 0
is "info=0 (writable disk)" "$(be_key "$g" "$d" info)" 0

dn=$(disk_attach "$g" null:1G)
ok "a null disk probes" wait_for 5 be_state_is "$g" "$dn" 2
front "$g" "$dn" --ios 2000 --rw write >"$SIMDIR/null.json" 2>&1
is "writes to null: succeed (0)" "$?" 0
is "sectors of null:1G" "$(be_key "$g" "$dn" sectors)" 2097152

# ---- read-only ----
ro_disk=$(disk_file 16M)
dr=$(disk_attach "$g" "$ro_disk" --mode r)
ok "a read-only disk probes" wait_for 5 be_state_is "$g" "$dr" 2
is "... without feature-discard" "$(be_key "$g" "$dr" feature-discard)" 0
front "$g" "$dr" --rw write --verify --ios 200 >"$SIMDIR/ro-w.json" 2>"$SIMDIR/ro-w.err"
is "writes to it fail: simblkfront exits 1" "$?" 1
is "... every write answered with an error" \
    "$(report_field "$SIMDIR/ro-w.json" '$j->{io_errors} . "/" . $j->{writes}')" "200/0"
is "info has VDISK_READONLY once connected" "$(( $(be_key "$g" "$dr" info) & 4 ))" 4
ok "the file was not touched" test -z "$(tr -d '\0' <"$ro_disk" | head -c 1)"
front "$g" "$dr" --rw read --ios 500 >"$SIMDIR/ro-r.json" 2>&1
is "reads from it work (0)" "$?" 0
ok "... a clean report" report_ok "$SIMDIR/ro-r.json"
dr2=$(disk_attach "$g" "$(disk_file 16M)" --mode r)
is "failed writes without --verify: simblkfront exits 1 (no crash)" \
    "$(rc front "$g" "$dr2" --rw write --ios 50)" 1
ok "the daemon logged the refused writes" grep -q "write to read-only disk" "$SIMDIR/sidecored.log"
is "sidecorectl: the read-only disk's class view says so" \
    "$(dev_field "$g" "$dr" 'class}{mode')" r

# ---- the vbd's view in sidecorectl, and resize ----
rs_disk=$(disk_file 16M)
drs=$(disk_attach "$g" "$rs_disk")
ok "a disk to grow probes" wait_for 5 be_state_is "$g" "$drs" 2
is "devices --json: the class view before connect: the store" \
    "$(dev_field "$g" "$drs" 'class}{store}{sectors')" 32768
is "... no connection yet" "$(dev_field "$g" "$drs" 'class}{connection')" ""
# Until SIGUSR1 after the last check that needs it Connected (resize-check
# answers only for a Connected disk; a 6 s run could end before it).
front_bg "$SIMDIR/rs.json" "$g" "$drs" --rw read --qd 1 --seconds 120
ok "a frontend connects" wait_for 5 dev_state_is "$g" "$drs" Connected
is "devices --json: the connection (queues, ABI)" \
    "$(dev_field "$g" "$drs" 'class}{connection}{queues') $(dev_field "$g" "$drs" 'class}{connection}{abi')" \
    "1 x86_64-abi"
is "... the summary" "$(dev_field "$g" "$drs" 'class}{summary')" \
    "16.0MiB rw, x86_64-abi, order 4, persistent, indirect 256"
ok "devices: the table shows the summary" \
    grep -q "vbd $g/$drs .*16.0MiB rw, x86_64-abi" <<<"$(ctl devices)"
ok "check-xenstore: the store matches the schema (one disk Connected, five closed)" store_clean
truncate -s 32M "$rs_disk"
grown() { [ "$(be_key "$g" "$drs" sectors)" = 65536 ]; }
ok "a grown file: the new size reaches xenstore within 5 s (the 1 s tick)" wait_for 5 grown
is "... and the class view" "$(dev_field "$g" "$drs" 'class}{store}{sectors')" 65536
ok "the log says so" grep -q "vbd $g/$drs: resized: 32768 -> 65536 sectors" "$SIMDIR/sidecored.log"
is "resize-check now: size unchanged" "$(ctl resize-check "vbd/$g/$drs")" \
    "vbd $g/$drs: size unchanged"
truncate -s 40M "$rs_disk"
ok "resize-check right after growing it again answers" quiet ctl resize-check "$g/$drs"
is "... and the size is there at once" "$(be_key "$g" "$drs" sectors)" 81920
kill -USR1 "$FRONT_PID"
is "resize-check of a disk never connected: not Connected (1)" \
    "$(rc ctl resize-check "vbd/$g/$dn")" 1
front_wait "$FRONT_PID"
is "the frontend's run ends cleanly (0)" "$?" 0
sc_stop

# ---- what is advertised: every limit lowered ----
ok "sidecored starts with lowered limits" sc_start --cores 2 --vbd.max-queues 2 \
    --vbd.max-persistent 0 --vbd.max-indirect=0 --vbd.max-ring-order 2 --vbd.discard no
g=$(guest_new limits)
d=$(disk_attach "$g" "$(disk_file 16M)")
ok "probed: InitWait" wait_for 5 be_state_is "$g" "$d" 2
is "vbd.max-persistent 0: feature-persistent=0" "$(be_key "$g" "$d" feature-persistent)" 0
is "vbd.max-indirect 0: no feature-max-indirect-segments node" \
    "$(rc xs0 xenstore-read "$(be_path "$g" "$d")/feature-max-indirect-segments")" 1
is "vbd.max-queues 2: multi-queue-max-queues=2" "$(be_key "$g" "$d" multi-queue-max-queues)" 2
is "vbd.max-ring-order 2: max-ring-page-order=2" "$(be_key "$g" "$d" max-ring-page-order)" 2
is "vbd.discard no: feature-discard=0" "$(be_key "$g" "$d" feature-discard)" 0
run_ok "a frontend asking for everything gets what was offered, and verifies" \
    "$SIMDIR/lim" '!$j->{negotiated}{persistent} && $j->{negotiated}{max_indirect_segments} == 0 &&
     $j->{negotiated}{queues} == 2 && $j->{negotiated}{ring_order} == 2 &&
     !$j->{negotiated}{discard}' "$g" "$d"
is "... and the keys stay so once connected" \
    "$(be_key "$g" "$d" feature-persistent)/$(be_key "$g" "$d" feature-discard)" "0/0"
sc_stop

# the deprecated spellings still work
ok "sidecored starts with --max-indirect 64 --no-discard" sc_start --max-indirect 64 --no-discard
g=$(guest_new indirect)
d=$(disk_attach "$g" null:64M)
ok "probed: InitWait" wait_for 5 be_state_is "$g" "$d" 2
is "feature-max-indirect-segments=64" "$(be_key "$g" "$d" feature-max-indirect-segments)" 64
is "feature-discard=0" "$(be_key "$g" "$d" feature-discard)" 0
front "$g" "$d" --max-indirect 128 --bs 256k --rw write --ios 200 >"$SIMDIR/ind.json" 2>&1
is "a frontend asking 128 uses 64: 256k requests go through (0)" "$?" 0
is "... negotiated 64" "$(report_field "$SIMDIR/ind.json" '$j->{negotiated}{max_indirect_segments}')" 64
ok "... as indirect requests" \
    test "$(report_field "$SIMDIR/ind.json" '$j->{indirect_requests}')" -gt 0
sc_stop

done_testing
