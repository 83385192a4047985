#!/bin/bash
# blk_crash_e2e_test.sh - sidecored killed with SIGKILL at random moments
# under verified I/O of three guests (persistent grants, none, the x86_32
# ABI), started again each time, in poll and event mode.  Across the kills
# no request may be lost (the guest would wait for it: its run stalls), none
# answered twice or to an id it did not ask (its ring check fails), no data
# wrong (reads verify); at the end each guest reads its whole disk back
# (every acknowledged write is there) and the backing files are audited
# behind the backend's back (no torn or misplaced write).
#
# SC_CRASH_KILLS kills per mode (default 10; `make soak` runs 100).
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

KILLS=${SC_CRASH_KILLS:-10}
simworld_start

# a pause of 50..450 ms: kills land anywhere in a run of requests
pause() { sleep "0.$(printf '%03d' $((50 + RANDOM % 400)))"; }

for mode in poll event; do
    ok "$mode: sidecored starts" sc_start --mode "$mode" --cores 2
    guests=() disks=() files=() pids=() outs=()
    variants=("" "--no-persistent" "--protocol x86_32-abi")
    for i in 0 1 2; do
        g=$(guest_new "crash-$mode-$i")
        f=$(disk_file_mem 32M)
        d=$(disk_attach "$g" "$f")
        guests+=("$g") disks+=("$d") files+=("$f")
    done
    # A bound that spans every kill even on a slow, shared machine (a restart
    # takes about a second there, more under a sanitizer); the runs are
    # stopped with SIGUSR1 once the kills are done.
    secs=$((30 + 5 * KILLS))
    for i in 0 1 2; do
        # shellcheck disable=SC2086 # the variant is a list of options
        front_bg "$SIMDIR/crash-$mode-$i" "${guests[i]}" "${disks[i]}" --seconds "$secs" \
            --verify --readback --rw mix:50 --qd 16 --queues 2 --seed $((i + 7)) \
            ${variants[i]}
        pids+=("$FRONT_PID") outs+=("$SIMDIR/crash-$mode-$i")
    done
    connected() {
        local i
        for i in 0 1 2; do dev_state_is "${guests[i]}" "${disks[i]}" Connected || return 1; done
    }
    ok "$mode: three guests connected under I/O" wait_for 10 connected

    restarted=0 adopted=0
    for ((k = 1; k <= KILLS; k++)); do
        pause
        kill -KILL "$SC_PID"
        wait "$SC_PID" 2>/dev/null
        SC_PID=""
        sc_start --mode "$mode" --cores 2 && restarted=$((restarted + 1))
        wait_for 10 connected && adopted=$((adopted + 1))
    done
    kill -USR1 "${pids[@]}"
    is "$mode: sidecored started again after each of $KILLS SIGKILLs" "$restarted" "$KILLS"
    is "$mode: ... and adopted the three connected devices each time" "$adopted" "$KILLS"

    for i in 0 1 2; do
        front_wait "${pids[i]}"
        is "$mode: guest $i (${variants[i]:-persistent grants}): its run and whole-disk read-back end clean (0)" \
            "$?" 0
        ok "$mode: ... no error, no lost or doubled answer, verified data" \
            eval 'report_ok "${outs[i]}" && [ "$(report_field "${outs[i]}" "\$j->{verified_sectors}")" -gt 0 ]'
        [ "$(report_field "${outs[i]}" '$j->{errors}')" = 0 ] ||
            sed "s/^/# /" "${outs[i]}.err"
    done
    sc_stop
    is "$mode: the last daemon exits 0" "$?" 0
    for i in 0 1 2; do
        ok "$mode: backing file $i audits clean (every stamped sector whole and in place)" \
            quiet disk_audit "${files[i]}"
    done
    ok "$mode: no response log left behind by a clean exit" \
        eval '[ -d "$XENSIM_DIR/sidecored.rings" ] && [ -z "$(ls -A "$XENSIM_DIR/sidecored.rings")" ]'
done
echo "# torn pushes finished by a successor: $(grep -c 'an unclean exit left half written' "$SIMDIR/sidecored.log")"

ok "no sanitizer report in sidecored's log" sc_log_clean
done_testing
