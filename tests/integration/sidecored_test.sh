#!/bin/bash
# sidecored_test.sh - the daemon and its admin tool end to end on xensim:
# start-up and the control socket (status, cores, devices, guests as tables
# and JSON), guest settings at run time and by SIGHUP, a null disk served to
# a simulated blkfront, a second daemon refused, SIGTERM, bad configs.
set -u
. "$(dirname "$0")/../tools/simworld.sh"

SIDECORED="$SC_BUILD/bin/sidecored"
SIDECORECTL="$SC_BUILD/bin/sidecorectl"
SIMBLKFRONT="$SC_BUILD/bin/simblkfront"
SC_PID=""
FRONT_PID=""

stop_all() {
    [ -n "$FRONT_PID" ] && kill "$FRONT_PID" 2>/dev/null && wait "$FRONT_PID" 2>/dev/null
    FRONT_PID=""
    if [ -n "$SC_PID" ]; then
        kill "$SC_PID" 2>/dev/null
        wait "$SC_PID" 2>/dev/null
        SC_PID=""
    fi
    return 0
}
SIM_CLEANUP_HOOKS="$SIM_CLEANUP_HOOKS stop_all"

# start_sidecored ARGS...: in the background, logging to $SIMDIR/sidecored.log;
# returns once it wrote "ready" (1 if it did not within 10 s).
start_sidecored() {
    rm -f "$SIMDIR/sc-ready"
    "$SIDECORED" "$@" 3>"$SIMDIR/sc-ready" --ready-fd 3 2>>"$SIMDIR/sidecored.log" &
    SC_PID=$!
    for _ in $(seq 1 200); do
        grep -q ready "$SIMDIR/sc-ready" 2>/dev/null && return 0
        kill -0 "$SC_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

ctl() { "$SIDECORECTL" "$@"; }
rc() { "$@" >/dev/null 2>&1; echo $?; }
quiet() { "$@" >/dev/null; }

simworld_start

# ---- start-up and the views ----
ok "sidecored starts (2 cores, a tenant) and reports ready" \
    start_sidecored --cores 2 --tenant 5:weight=300,lim_iops=5k
ok "the socket is in the world's directory" test -S "$XENSIM_DIR/sidecored.sock"

status=$(ctl status)
ok "status: platform xensim" grep -Eq '^platform +xensim$' <<<"$status"
ok "status: our domid" grep -Eq '^domid +0$' <<<"$status"
ok "status: poll mode" grep -Eq '^mode +poll$' <<<"$status"
ok "status: 2 cores" grep -Eq '^cores +2$' <<<"$status"
ok "status: no devices" grep -Eq '^devices +0$' <<<"$status"
json=$(ctl status --json)
is "status --json: pid is the daemon's" "$(jget '$j->{pid}' <<<"$json")" "$SC_PID"
is "status --json: mode" "$(jget '$j->{mode}' <<<"$json")" "poll"
is "status --json: cores" "$(jget '$j->{cores}' <<<"$json")" "2"
is "status --json: types (vbd and vif by default)" "$(jget 'join(",", @{$j->{types}})' <<<"$json")" "vbd,vif"
ok "status --json: a version" grep -q '"version"' <<<"$json"

cores=$(ctl cores)
ok "cores: a header" grep -Eq '^CORE +CPU +QUEUES +BUSY%' <<<"$cores"
ok "cores: sc0 and sc1, unpinned, no queues" \
    test "$(grep -Ec '^sc[01] +- +0 ' <<<"$cores")" = 2
is "cores --json: two cores" "$(ctl cores --json | jget 'scalar @$j')" "2"

is "devices: only the header" "$(ctl devices | wc -l)" "1"
is "devices --json: empty" "$(ctl devices --json | jget 'scalar @$j')" "0"
is "queues --json: empty" "$(ctl queues --json | jget 'scalar @$j')" "0"

# ---- guest settings ----
ok "guests: the configured tenant's disks" grep -Eq '^ +5 +vbd +300 +- +5\.0k ' <<<"$(ctl guests)"
ok "... and its vifs, their own copy" grep -Eq '^ +5 +vif +300 +- +5\.0k ' <<<"$(ctl guests)"
ok "set-tenant changes it" quiet ctl set-tenant 5 weight=50 res_iops=100
is "... weight" "$(ctl guests --json | jget '(grep { $_->{domid} == 5 } @$j)[0]{weight}')" "50"
is "... the limit it did not name is kept" \
    "$(ctl guests --json | jget '(grep { $_->{domid} == 5 } @$j)[0]{limit_iops}')" "5000"
is "set-tenant weight=0 is refused (1)" "$(rc ctl set-tenant 5 weight=0)" 1
is "a reservation above the limit is refused (1)" "$(rc ctl set-tenant 5 res_iops=6000)" 1
is "set-tenant with a bad setting is a usage error" "$(rc ctl set-tenant 5 speed=3)" 2
is "set-tenant without a domid is a usage error" "$(rc ctl set-tenant weight=3)" 2
is "unknown command is a usage error" "$(rc ctl frobnicate)" 2
is "resize-check of a missing device fails (1)" "$(rc ctl resize-check vbd/9/51712)" 1
is "a refused setting left the old one" \
    "$(ctl guests --json | jget '(grep { $_->{domid} == 5 } @$j)[0]{weight}')" "50"

# ---- the protocol, raw ----
# rpc_raw LINE...: sends the lines, closes its sending side, prints the answers.
rpc_raw() {
    timeout 10 perl -MIO::Socket::UNIX -e '
        $SIG{PIPE} = "IGNORE";
        my $s = IO::Socket::UNIX->new(Peer => shift @ARGV) or die "connect: $!";
        print $s "$_\n" for @ARGV;
        shutdown($s, 1);
        print while <$s>;' "$XENSIM_DIR/sidecored.sock" "$@"
}
code_of() { jget '$j->{error}{code}'; }
is "not JSON: parse error" "$(rpc_raw 'not json' | code_of)" -32700
is "unknown method" "$(rpc_raw '{"jsonrpc":"2.0","id":1,"method":"nope"}' | code_of)" -32601
is "wrong version" "$(rpc_raw '{"jsonrpc":"1.0","id":1,"method":"status"}' | code_of)" -32600
is "batches refused" "$(rpc_raw '[{"jsonrpc":"2.0","id":1,"method":"status"}]' | code_of)" -32600
is "bad params" "$(rpc_raw '{"jsonrpc":"2.0","id":2,"method":"set-tenant","params":{"domid":"x"}}' |
    code_of)" -32602
out=$(rpc_raw '{"jsonrpc":"2.0","method":"status"}' '{"jsonrpc":"2.0","id":"s7","method":"status"}')
is "a notification gets no answer, the next request one" "$(wc -l <<<"$out")" 1
is "... with its id" "$(jget '$j->{id}' <<<"$out")" "s7"
big=$(head -c 70000 /dev/zero | tr '\0' x)
is "an oversized request: an error" "$(rpc_raw "$big" | code_of)" -32600
ok "the daemon still answers" quiet ctl status
many=$(timeout 10 perl -MIO::Socket::UNIX -e '
    my @keep = map { IO::Socket::UNIX->new(Peer => $ARGV[0]) or die } 1 .. 16;
    my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die;
    print scalar <$s>;' "$XENSIM_DIR/sidecored.sock")
ok "a 17th client is turned away" grep -q "too many clients" <<<"$many"
ok "... and served once the others left" wait_for 5 ctl status

# ---- a second daemon on the same socket ----
out=$("$SIDECORED" --cores 1 2>&1)
is "a second daemon exits 1" "$?" 1
ok "... saying the socket is served" grep -q "another sidecored is serving" <<<"$out"
ok "the first one still answers" quiet ctl status

# ---- a null disk served to a simulated blkfront ----
guest=$("$XENSIMCTL" create blkguest)
ok "vbd-attach of a null disk" quiet "$XENSIMCTL" vbd-attach "$guest" --backend-domid 0 \
    --target null:64M --vdev xvda
devjson() { ctl devices --json | jget '(grep { $_->{name} eq "vbd '"$guest"'/51712" } @$j)[0]{'"$1"'}'; }
in_state() { [ "$(devjson state)" = "$1" ]; }
ok "the device appears and waits for its frontend (InitWait)" wait_for 5 in_state InitWait
# A bound no check reaches (a 3 s run could end, and the device close,
# between the sidecorectl calls below on a loaded sanitizer build); SIGUSR1
# ends it once the checks made under its load are done.
"$SIMBLKFRONT" --dir "$XENSIM_DIR" --domid "$guest" --vdev 51712 --backend-domid 0 \
    --seconds 120 --verify --quiet &
FRONT_PID=$!
ok "the frontend connects: Connected" wait_for 5 in_state Connected
is "devices: the frontend is Connected too" "$(devjson frontend_state)" "Connected"
ok "devices (table) shows it" grep -Eq "^vbd $guest/51712 +Connected +Connected +yes " \
    <<<"$(ctl devices)"
qn=$(ctl devices --json | jget 'scalar @{(grep { $_->{name} eq "vbd '"$guest"'/51712" } @$j)[0]{queues}}')
ok "queues listed with their cores" test "$qn" -ge 1
busy() { [ "$(ctl queues --json | jget 'my $s = 0; $s += $_->{requests} for @$j; $s')" -gt 0 ]; }
ok "requests counted while the guest runs" wait_for 5 busy
ok "the guest's requests summed" \
    test "$(ctl guests --json | jget '(grep { $_->{domid} == '"$guest"' } @$j)[0]{requests}')" -gt 0
kill -USR1 "$FRONT_PID"
wait "$FRONT_PID"
is "simblkfront finished its I/O and verification (0)" "$?" 0
FRONT_PID=""
ok "vbd-detach" "$XENSIMCTL" vbd-detach "$guest" 51712 --timeout 5
gone() { [ "$(ctl devices --json | jget 'scalar @$j')" = 0 ]; }
ok "the device is gone from the daemon" wait_for 5 gone

# ---- SIGTERM ----
kill -TERM "$SC_PID"
stopped() { ! kill -0 "$SC_PID" 2>/dev/null; }
ok "SIGTERM: the daemon stops within 5 s" wait_for 5 stopped
wait "$SC_PID"
is "... with exit code 0" "$?" 0
SC_PID=""
ok "... removing its socket" test ! -e "$XENSIM_DIR/sidecored.sock"
is "sidecorectl without a daemon fails (1)" "$(rc ctl status)" 1

# ---- the config file: SIGHUP reload, malformed files ----
conf="$SIMDIR/sidecored.conf"
printf '# test\nmode = event\ntenant.7.weight = 300\n' >"$conf"
ok "sidecored starts from a config file" start_sidecored --config "$conf"
is "event mode from the file" "$(ctl status --json | jget '$j->{mode}')" "event"
is "event mode starts no core before a queue" "$(ctl status --json | jget '$j->{cores}')" "0"
printf 'mode = event\ntenant.7.weight = 70\n' >"$conf"
kill -HUP "$SC_PID"
weight7() { [ "$(ctl guests --json | jget '(grep { $_->{domid} == 7 } @$j)[0]{weight}')" = "$1" ]; }
ok "SIGHUP reloads guest settings" wait_for 5 weight7 70
printf 'tenant.7.weight = nope\n' >"$conf"
kill -HUP "$SC_PID"
ok "a bad file on SIGHUP is logged" wait_for 5 grep -q "reload failed" "$SIMDIR/sidecored.log"
ok "... and changes nothing" weight7 70
ok "... and the daemon lives on" quiet ctl status
stop_all

printf 'cores = 2\nmode = sideways\n' >"$conf"
out=$("$SIDECORED" --config "$conf" 2>&1)
is "a malformed config file: exit 2" "$?" 2
ok "... naming file and line" grep -q "$conf:2: mode: 'sideways'" <<<"$out"
out=$("$SIDECORED" --cores many 2>&1)
is "a bad option: exit 2" "$?" 2
ok "... naming the option" grep -q -- "--cores: 'many'" <<<"$out"
ok "nothing listens after those" test ! -e "$XENSIM_DIR/sidecored.sock"

done_testing
