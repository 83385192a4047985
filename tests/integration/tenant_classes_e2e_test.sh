#!/bin/bash
# tenant_classes_e2e_test.sh - a guest's disks and its network interfaces
# are two tenants of the scheduler (docs/design.md, "Per direction"): a
# limit set for the guest's vif does not hold back its disk, and one set
# for its vbd does not hold back its vif; a prefixed weight stays with its
# class; `guests --json` has a row for each.  With one tenant per guest
# (the old way) the vif's limit would have been the disk's too.
#
# One guest, a null disk and a vif on the internal switch, each busy in
# turn: simblkfront reading, simnetfront sending 1000-byte frames to a
# second guest's sink.  sidecored runs in a network namespace of its own
# (the switch's host port is a TAP interface), on one sidecore.
set -u
cd "$(dirname "$0")/../.."
. tests/tools/blk_e2e_lib.sh

unshare_net_or_skip # sets NS_RUN and SIMNETFRONT

NF_PIDS=""
nf_cleanup() {
    # shellcheck disable=SC2086 # a list of pids
    stop_pids $NF_PIDS
    NF_PIDS=""
}
SIM_CLEANUP_HOOKS="$SIM_CLEANUP_HOOKS nf_cleanup"

simworld_start
g=$(guest_new both) && d=$(disk_attach "$g" null:1G) &&
    "$XENSIMCTL" vif-attach "$g" mac=00:16:3e:00:0c:01 bridge=scsw0 >/dev/null &&
    r=$(guest_new sink) &&
    "$XENSIMCTL" vif-attach "$r" mac=00:16:3e:00:0c:02 bridge=scsw0 >/dev/null ||
    { echo "Bail out! guests"; exit 1; }

ok "sidecored starts (1 sidecore; the guest's vif weighted 800 on the command line)" \
    eval 'SC_LAUNCH=("${NS_RUN[@]}"); sc_start --mode poll --cores 1 --rebalance off \
          --tenant "$g:weight=200,vif.weight=800"'
sc_alive || { echo "Bail out! sidecored"; cat "$SIMDIR/sidecored.log"; exit 1; }

# row G CLASS FIELD: a field of guest G's row of that class in `guests --json`
row() {
    ctl guests --json 2>/dev/null |
        jget 'my ($g) = grep { $_->{domid} == '"$1"' && $_->{class} eq "'"$2"'" } @$j;
              $g ? $g->{'"$3"'} // "" : ""'
}
# sched G CLASS FIELD: the same, of the row's scheduler counters
sched() {
    ctl guests --json 2>/dev/null |
        jget 'my ($g) = grep { $_->{domid} == '"$1"' && $_->{class} eq "'"$2"'" } @$j;
              $g ? $g->{sched}{'"$3"'} // "" : ""'
}
is "guests --json: a vbd row and a vif row for the guest" \
    "$(ctl guests --json |
       jget 'join(",", map { $_->{class} } grep { $_->{domid} == '"$g"' } @$j)')" \
    "vbd,vif"
is "... the plain weight on its disks, the prefixed one on its vif" \
    "$(row "$g" vbd weight)/$(row "$g" vif weight)" "200/800"
ok "guests: a CLASS column" eval 'ctl guests | head -1 | grep -q "^ *DOMID  *CLASS "'

# The sink guest's receiver, for the whole test.
"$SIMNETFRONT" --dir "$SIMDIR" --domid "$r" --json --mode sink --seconds 60 \
    >"$SIMDIR/sink.json" 2>"$SIMDIR/sink.err" &
NF_PIDS="$NF_PIDS $!"

# both SECONDS NAME: the guest's disk, then its vif, each busy for SECONDS
# ($SIMDIR/NAME-blk.json and NAME-net.json hold the reports).  One after
# the other: two simulated frontends of one domain would hand out the same
# grant references (each process keeps its own free list).
both() {
    local secs=$1 name=$2
    front "$g" "$d" --queues 1 --rw read --qd 16 --seconds "$secs" >"$SIMDIR/$name-blk.json" ||
        return 1
    "$SIMNETFRONT" --dir "$SIMDIR" --domid "$g" --json --mode gen --dst-mac 00:16:3e:00:0c:02 \
        --size 1000 --seconds "$secs" --linger-ms 100 >"$SIMDIR/$name-net.json" \
        2>"$SIMDIR/$name-net.err"
    local nrc=$?
    [ "$nrc" -le 1 ] || sed 's/^/# net: /' "$SIMDIR/$name-net.err" "$SIMDIR/$name-net.json"
    [ "$nrc" -le 1 ] # frames the sink missed are not this test's
}
iops() { report_field "$SIMDIR/$1-blk.json" 'int($j->{iops})'; }
pps() { report_field "$SIMDIR/$1-net.json" 'int($j->{pps_tx})'; }

# ---- a limit on the vif alone ----
ok "set-tenant: 500 requests/s for the guest's vif" quiet ctl set-tenant "$g" vif.lim_iops=500
is "... on its vif row, not on its vbd row" \
    "$(row "$g" vif limit_iops)/$(row "$g" vbd limit_iops)" "500/0"
ok "disk, then vif, busy for 3 s each" both 3 vif
n=$(iops vif) p=$(pps vif)
ok "... the vif held near its 500 frames/s ($p)" \
    eval '[ "${p:-0}" -gt 100 ] && [ "${p:-0}" -le 800 ]'
ok "... the disk not held by the vif's limit: far above 500 IOPS ($n)" test "${n:-0}" -ge 2000
ok "... the scheduler held back the vif, never the disk" \
    eval '[ "$(sched "$g" vif throttled)" -gt 0 ] && [ "$(sched "$g" vbd throttled)" = 0 ]'

# ---- and the other way round ----
ok "set-tenant: the vif free, 500 requests/s for the disks" \
    quiet ctl set-tenant "$g" vif.lim_iops=0 vbd.lim_iops=500
is "... rows" "$(row "$g" vif limit_iops)/$(row "$g" vbd limit_iops)" "0/500"
ok "disk, then vif, busy for 3 s each" both 3 vbd
n=$(iops vbd) p2=$(pps vbd)
ok "... the disk held near its 500 IOPS ($n)" eval '[ "${n:-0}" -gt 100 ] && [ "${n:-0}" -le 800 ]'
ok "... the vif not held by the disk's limit: far above 500 frames/s ($p2)" \
    test "${p2:-0}" -ge 2000
ok "each row's scheduler counted its own class's requests" \
    eval '[ "$(sched "$g" vbd requests)" -gt 0 ] && [ "$(sched "$g" vif requests)" -gt 0 ]'
ok "a read/write limit is the disks' alone" eval '! quiet ctl set-tenant "$g" vif.read_iops=5'
ok "sidecored still serving, log clean" eval 'sc_alive && sc_log_clean'

done_testing
