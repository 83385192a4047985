#!/bin/bash
# dir_limits_e2e_test.sh - a guest's disks limited per direction
# (read_iops, read_bps, write_iops, write_bps): a mixed run's reads held to
# their limit while its writes are not (and the other way round), bytes
# limits, the limit shared by all the guest's queues on all cores, live
# changes, event mode, and verified data through a limit (held requests
# wait in the ring, none lost or answered twice).
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

simworld_start
log="$SIMDIR/sidecored.log"
rate() { # FILE FIELD: the field (reads, writes, ios) per second of the run
    report_field "$1" 'int($j->{'"$2"'} / $j->{seconds})'
}
# Above the limit is the failure that matters; the lower bound only shows
# the limit is not a stall, and a sanitizer build on a loaded machine can
# fall well short of a rate (745 of 1000 seen under TSan).
near() { [ "$1" -ge $(($2 * 55 / 100)) ] && [ "$1" -le $(($2 * 13 / 10)) ]; }

ok "sidecored starts (2 sidecores)" sc_start --mode poll --cores 2 --rebalance off \
    --vbd.max-queues 2
g=$(guest_new limited) && d=$(disk_attach "$g" null:1G)
d2=$(disk_attach "$g" null:1G)

ok "reads of guest $g limited to 1000 IOPS" quiet ctl set-tenant "$g" read_iops=1000
ok "a 50/50 run" eval 'front "$g" "$d" --queues 1 --rw mix:50 --qd 16 --seconds 3 >"$SIMDIR/mix.json"'
r=$(rate "$SIMDIR/mix.json" reads) w=$(rate "$SIMDIR/mix.json" writes)
ok "... reads about 1000/s ($r)" near "$r" 1000
# the writes wait for the reads ahead of them in the ring, so they follow
# the reads' pace in a 50/50 mix; alone they are free:
ok "a write-only run is not limited" \
    eval 'front "$g" "$d" --queues 1 --rw write --qd 16 --seconds 2 >"$SIMDIR/w.json"'
w=$(rate "$SIMDIR/w.json" writes)
ok "... far above 1000/s ($w)" test "$w" -ge 3000
ok "guests shows the limit and what it held back" \
    eval '[ "$(ctl guests --json | jget "my (\$g) = grep { \$_->{domid} == '"$g"' } @\$j;
          \$g->{read_iops} . q{ } . (\$g->{read_throttled} > 0)")" = "1000 1" ]'

ok "writes limited to 2 MiB/s instead, reads free" \
    quiet ctl set-tenant "$g" read_iops=0 write_bps=2M
ok "64 KiB writes" \
    eval 'front "$g" "$d" --queues 1 --rw write --bs 64k --qd 8 --seconds 3 >"$SIMDIR/wb.json"'
mbs=$(report_field "$SIMDIR/wb.json" 'int($j->{mb_per_s} * 1000)')
ok "... about 2 MiB/s ($mbs thousandths of MB/s)" near "$mbs" 2097
ok "reads are free again" \
    eval 'front "$g" "$d" --queues 1 --rw read --qd 16 --seconds 2 >"$SIMDIR/r.json"'
ok "... ($(rate "$SIMDIR/r.json" reads)/s)" test "$(rate "$SIMDIR/r.json" reads)" -ge 3000

# (one simblkfront process per guest at a time: two would both be the
# guest's grant table; a guest's disks share its limit object by domid)
ok "one limit over two queues on two sidecores: write_iops 1200, write_bps off" \
    quiet ctl set-tenant "$g" write_bps=0 write_iops=1200
# The cores are asked while the run goes on, a sidecorectl call or more on
# a loaded sanitizer build: a 3 s run could end first (no queue, no core).
# It ends by SIGUSR1 3 s after they are seen (the rate is per second it ran).
front_bg "$SIMDIR/two.json" "$g" "$d2" --queues 2 --rw write --qd 16 --seconds 120
cores_used() {
    ctl queues --json | jget 'my %c = map { $_->{core} => 1 }
        grep { $_->{name} =~ m{^vbd '"$g/$d2"' } } @$j; scalar keys %c'
}
cores=""
two_cores() { cores=$(cores_used); [ "$cores" = 2 ]; }
wait_for 5 two_cores
sleep 3
kill -USR1 "$FRONT_PID"
ok "a two-queue write run" front_wait "$FRONT_PID"
nq=$(report_field "$SIMDIR/two.json" '$j->{negotiated}{queues}')
w=$(rate "$SIMDIR/two.json" writes)
ok "... on two queues, two sidecores ($nq, $cores), about 1200 writes/s in all ($w)" \
    eval '[ "$nq" = 2 ] && [ "$cores" = 2 ] && near "$w" 1200'

ok "verified I/O through a limit (file disk, 400 writes/s)" \
    quiet ctl set-tenant "$g" write_iops=400
d3=$(disk_attach "$g" "$(disk_file 16M)")
ok "... every request checked and the disk read back" \
    eval 'front "$g" "$d3" --queues 2 --verify --readback --rw mix:50 --qd 16 --seconds 3 \
          >"$SIMDIR/v.json" && report_ok "$SIMDIR/v.json"'
ok "sidecored still serving, log clean" eval 'sc_alive && sc_log_clean'
sc_stop

ok "sidecored starts (event mode, from the command line)" \
    sc_start --mode event --vbd.max-queues 2 --tenant "$g:read_iops=800"
ok "event mode, two queues" \
    eval 'front "$g" "$d" --queues 2 --rw read --qd 16 --seconds 3 >"$SIMDIR/ev.json"'
r=$(rate "$SIMDIR/ev.json" reads)
ok "... about 800 reads/s in all ($r)" near "$r" 800
ok "no sanitizer report" sc_log_clean

done_testing
