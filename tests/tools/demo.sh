#!/bin/bash
# make demo: sidecored serving the disks of 8 simulated guests and the
# networks of 2 more, in two phases: weights and a limit on one sidecore
# that is the bottleneck, then the balancer adding a second sidecore.
#
# Starts a private xensim world, sidecored (poll mode, in a network
# namespace of its own, where its internal switch's host port lives; with
# two CPUs or more: two sidecores, sc0 pinned with the whole process to the
# last CPU, sc1 to the one before, which it shares with the guests, and
# only sc0 active at the start: --cores 2 --cores-min 1), 8 guests each with
# a disk and 2 with a network interface on the internal switch scsw0.
#   Disks: guests 1-4 a null:1G disk whose every request costs the
#   sidecore 20 us of CPU (spin=20000), random reads at qd 256: they ask
#   more than one sidecore can serve, so the sidecore is their bottleneck;
#   guests 5-8 a 64 MiB temp file with data verification (random 50/50
#   reads and writes at qd 16; every read checked).  Fair-share weights
#   (sidecorectl set-tenant): 100, 100, 200, 400 for the null disks, the
#   default 100 for the files (they ask less than their share: weights do
#   not cut them), 800 for the network guests (so the null disks do not
#   crowd them out); guest 2 is also capped at 2,000 IOPS (lim_iops),
#   under its weight's share.
#   Networks: as root, each network guest is a Linux network stack (a
#   namespace behind simnetfront's TAP adapter) and iperf3 runs TCP both
#   ways between them through the switch; without root (or without ip
#   netns / iperf3), two simnetfront generators send verified frames to
#   each other (sidecored then needs an unprivileged user namespace; the
#   demo goes on without networks if it has none).
#   DEMO_NET=gen (or none) asks for the generators (or no networks) even
#   where the Linux stacks could run.
# Everything runs for DEMO_SECONDS (20) while sidecorectl shows the guests,
# the sidecores, the balancer, the vifs and the switch live.  Phase 1 (the
# first half): the balancer is off (rebalance = off in sidecored's config
# file), every queue on sc0, which is the bottleneck: the null disks share
# it by weight, guest 2 below its cap.  Phase 2 (the second half):
# rebalance = on (config file rewritten, SIGHUP): sc0 above 75% busy for
# two intervals (400 ms each) makes the balancer add sc1, and a plan that
# holds two intervals moves queues to it.  Then a summary: phase 1's IOPS
# per null disk, its share of the null disks' IOPS against the share its
# weight asks for (of what the limited guest left), how busy sc0 was, the
# limit; when sc1 came and which queues moved, the disks' IOPS in phase 1
# and after the moves; per disk over the whole run: IOPS, latency,
# verification, kicks per request and notifies per response; per network
# guest its throughput, packets, kicks and notifies.  With one CPU there
# is one sidecore and no phase 2.  The per-second samples stay in
# DEMO_OUT (default $SC_BUILD/demo) as demo.json, with their plot
# demo-throughput.png (tools/bench/plot.pl: each disk guest's IOPS over
# time, weights and the limit marked; no plot, a warning, without
# gnuplot).  Cleans up everything on exit.
set -euo pipefail

SC_BUILD=${SC_BUILD:-$(pwd)/build}
BIN=$SC_BUILD/bin
SECS=${DEMO_SECONDS:-20}
OUT=${DEMO_OUT:-$SC_BUILD/demo}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WEIGHTS=(100 100 200 400 100 100 100 100) # 1:1:2:4 for the null disks
LIMIT_IOPS=2000 # guest 2's cap: under its weight's share of one sidecore
LIMITS=("" "lim_iops=$LIMIT_IOPS" "" "" "" "" "" "")
SPIN_NS=20000   # sidecore CPU per request of the null disks
NULL_QD=256     # several rounds' worth: the null disks stay backlogged
FILE_QD=16
NET_WEIGHT=800 # the network guests: the null disks must not crowd them out
GEN_PPS=5000 # each way, without root: the generators share the guests' CPUs
NCPU=$(nproc)
PHASE1=$SECS # seconds before the balancer goes on (none with one CPU)
[ "$NCPU" -lt 2 ] || PHASE1=$((SECS / 2))

for p in xensimd xensimctl sidecored sidecorectl simblkfront simnetfront; do
    [ -x "$BIN/$p" ] || { echo "demo: $BIN/$p missing: run make first" >&2; exit 2; }
done
command -v perl >/dev/null || { echo "demo: perl is needed for the summary" >&2; exit 2; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/sidecore-demo.XXXXXX")
SIM_PID=""
SC_PID=""
GUEST_PIDS=()
NET_PIDS=()
NET_NS=()
cleanup() {
    local p
    for p in "${GUEST_PIDS[@]}" "${NET_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${GUEST_PIDS[@]}" "${NET_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    for p in "${NET_NS[@]}"; do ip netns del "$p" 2>/dev/null || true; done
    for p in $SC_PID $SIM_PID; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_ready() {
    for _ in $(seq 200); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.05; done
    echo "demo: $2 did not start" >&2
    return 1
}

# One sidecore, or two of which the balancer activates the second (sc1,
# on a guests' CPU) when sc0 is busy; the balancer is switched on for phase
# 2 by rewriting the config file and SIGHUP (the command line would win
# over the file, so rebalance is set there only).
BE_PIN=()
GUEST_PIN=()
SC_ARGS=(--cores 1)
if [ "$NCPU" -ge 2 ]; then
    BE_PIN=(taskset -c $((NCPU - 1)))
    GUEST_PIN=(taskset -c 0-$((NCPU - 2)))
    SC_ARGS=(--cores 2 --cores-min 1 --cpus "$((NCPU - 1)),$((NCPU - 2))"
        --rebalance-interval-ms 400 --config "$DIR/sidecored.conf")
fi

echo "== xensim world in $DIR"
"$BIN/xensimd" --dir "$DIR" --exit-with-parent 3>"$DIR/ready" --ready-fd 3 &
SIM_PID=$!
wait_ready "$DIR/ready" xensimd
export XENSIM_DIR=$DIR

echo "== 8 guests with a disk each"
DOMIDS=()
for i in $(seq 1 8); do
    domid=$("$BIN/xensimctl" create "guest$i" --mem 64)
    if [ "$i" -le 4 ]; then
        target=null:1G,spin=$SPIN_NS
    else
        target=$DIR/disk$i.img
        truncate -s 64M "$target"
    fi
    "$BIN/xensimctl" vbd-attach "$domid" --backend-domid 0 --target "$target" --vdev xvda \
        >/dev/null
    echo "$domid $target ${WEIGHTS[i - 1]} ${LIMITS[i - 1]#lim_iops=}" >>"$DIR/guests"
    DOMIDS+=("$domid")
done

# The network guests: Linux stacks with iperf3 as root, else generators.
# sidecored gets a network namespace of its own either way (its switch's
# host port scsw0 is a TAP interface): `unshare -n` as root, else a user
# namespace (`unshare -rn`) where the kernel allows one.
NET_MODE=none
NS_RUN=()
NET_MACS=(00:16:3e:5c:00:01 00:16:3e:5c:00:02)
NET_ADDRS=(10.77.0.1 10.77.0.2)
NET_DOMIDS=()
if [ -c /dev/net/tun ] && [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
    NS_RUN=(unshare -n)
    NET_MODE=gen
    if command -v iperf3 >/dev/null && ip netns add "scdemo$$probe" 2>/dev/null; then
        ip netns del "scdemo$$probe"
        NET_MODE=tap
    fi
elif [ -r /dev/net/tun ] && [ -w /dev/net/tun ] && unshare -rn true 2>/dev/null; then
    NS_RUN=(unshare -rn)
    NET_MODE=gen
fi
case "${DEMO_NET:-auto}" in
auto | tap) ;;
gen) [ "$NET_MODE" = none ] || NET_MODE=gen ;;
none) NET_MODE=none NS_RUN=() ;;
*) echo "demo: DEMO_NET is auto, tap, gen or none" >&2; exit 2 ;;
esac
if [ "$NET_MODE" = none ]; then
    echo "== no network guests: they need root, or a user namespace and access to /dev/net/tun"
else
    if [ "$NET_MODE" = tap ]; then
        echo "== 2 guests with a network interface on the switch scsw0 (Linux stacks, iperf3)"
    else
        echo "== 2 guests with a network interface on the switch scsw0 (frame generators)"
    fi
    for i in 0 1; do
        domid=$("$BIN/xensimctl" create "net$((i + 1))" --mem 64)
        "$BIN/xensimctl" vif-attach "$domid" "mac=${NET_MACS[i]}" bridge=scsw0 >/dev/null
        NET_DOMIDS+=("$domid")
    done
fi

echo "rebalance = off" >"$DIR/sidecored.conf"
if [ "$NCPU" -ge 2 ]; then
    echo "== sidecored --mode poll ${SC_ARGS[*]:0:4} (sc0 on CPU $((NCPU - 1)) with the process," \
        "sc1 on CPU $((NCPU - 2)) with the guests; sc1 parked, balancer off)" \
        "${NS_RUN:+in a network namespace}"
else
    echo "== sidecored --mode poll --cores 1 ${NS_RUN:+in a network namespace}"
fi
# (unshare and taskset exec it: SC_PID is sidecored's own, for SIGHUP)
"${BE_PIN[@]}" "${NS_RUN[@]}" "$BIN/sidecored" --mode poll "${SC_ARGS[@]}" --log-level warn \
    3>"$DIR/sc-ready" --ready-fd 3 2>"$DIR/sidecored.log" &
SC_PID=$!
wait_ready "$DIR/sc-ready" sidecored
for i in $(seq 0 7); do
    # shellcheck disable=SC2086 # an empty LIMITS entry is no argument
    "$BIN/sidecorectl" set-tenant "${DOMIDS[i]}" "weight=${WEIGHTS[i]}" ${LIMITS[i]} >/dev/null
done
for d in "${NET_DOMIDS[@]}"; do
    "$BIN/sidecorectl" set-tenant "$d" "weight=$NET_WEIGHT" >/dev/null
done
echo "== disk weights ${WEIGHTS[*]}${NET_DOMIDS[0]:+, network weights $NET_WEIGHT};" \
    "guest ${DOMIDS[1]} limited to $LIMIT_IOPS IOPS"

vifs_connected() {
    "$BIN/sidecorectl" vifs --json 2>/dev/null |
        perl -MJSON::PP -0777 -ne 'print scalar grep { $_->{state} eq "Connected" } @{decode_json($_)}'
}
# (not `ip | grep -q`: under pipefail, grep's early exit can fail the pipe)
addr_up() { [[ "$(ip -n "$1" -o addr show dev eth0 2>/dev/null)" == *"inet $2/"* ]]; }
if [ "$NET_MODE" = tap ]; then
    for i in 0 1; do
        ns="scdemo$$n$i"
        ip netns add "$ns" && NET_NS+=("$ns") && ip -n "$ns" link set lo up
        "${GUEST_PIN[@]}" "$BIN/simnetfront" --dir "$DIR" --domid "${NET_DOMIDS[i]}" --mode tap \
            --netns "$ns" --ifname eth0 --addr "${NET_ADDRS[i]}/24" --json \
            >"$DIR/net-${NET_DOMIDS[i]}.json" 2>"$DIR/net-${NET_DOMIDS[i]}.err" &
        NET_PIDS+=($!)
    done
    for i in 0 1; do
        for _ in $(seq 300); do addr_up "${NET_NS[i]}" "${NET_ADDRS[i]}" && break; sleep 0.05; done
        addr_up "${NET_NS[i]}" "${NET_ADDRS[i]}" ||
            { echo "demo: network guest ${NET_DOMIDS[i]} did not come up" >&2; exit 1; }
    done
    echo "== network guests ${NET_DOMIDS[0]} (${NET_ADDRS[0]}) and ${NET_DOMIDS[1]} (${NET_ADDRS[1]}) up"
    "${GUEST_PIN[@]}" ip netns exec "${NET_NS[1]}" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    NET_PIDS+=($!)
elif [ "$NET_MODE" = gen ]; then
    # connected now, sending from the start of the run (the barrier file)
    for i in 0 1; do
        "${GUEST_PIN[@]}" "$BIN/simnetfront" --dir "$DIR" --domid "${NET_DOMIDS[i]}" --mode gen \
            --dst-mac "${NET_MACS[1 - i]}" --size 1514 --rate "$GEN_PPS" --seconds "$SECS" \
            --barrier "$DIR/net-go" --json \
            >"$DIR/net-${NET_DOMIDS[i]}.json" 2>"$DIR/net-${NET_DOMIDS[i]}.err" &
        NET_PIDS+=($!)
    done
    for _ in $(seq 300); do [ "$(vifs_connected)" = 2 ] && break; sleep 0.05; done
    [ "$(vifs_connected)" = 2 ] || { echo "demo: the network guests did not connect" >&2; exit 1; }
    echo "== network guests ${NET_DOMIDS[0]} and ${NET_DOMIDS[1]} connected"
fi

if [ "$NCPU" -ge 2 ]; then
    echo "== guests start: ${SECS} s of I/O; phase 1 (0-${PHASE1} s) sc0 alone, the balancer off;" \
        "phase 2 (${PHASE1}-${SECS} s) the balancer on"
else
    echo "== guests start: ${SECS} s of I/O on one sidecore (one CPU: no phase 2)"
fi
now_ms() { echo $(($(date +%s%N) / 1000000)); }
T0=$(now_ms)
IPERF_PID=""
if [ "$NET_MODE" = tap ]; then
    sleep 0.2 # the iperf3 server listens
    "${GUEST_PIN[@]}" ip netns exec "${NET_NS[0]}" iperf3 -c "${NET_ADDRS[1]}" -p 5201 --bidir \
        -t "$SECS" -J >"$DIR/iperf.json" 2>"$DIR/iperf.err" &
    IPERF_PID=$!
elif [ "$NET_MODE" = gen ]; then
    touch "$DIR/net-go"
fi
for i in $(seq 0 7); do
    domid=${DOMIDS[i]}
    if [ "$i" -lt 4 ]; then
        args=(--rw read --qd "$NULL_QD")
    else
        args=(--rw mix:50 --verify --qd "$FILE_QD")
    fi
    "${GUEST_PIN[@]}" "$BIN/simblkfront" --dir "$DIR" --domid "$domid" --vdev 51712 \
        --backend-domid 0 --queues 1 --workload rand --bs 4k --seconds "$SECS" "${args[@]}" \
        --json >"$DIR/guest-$domid.json" 2>"$DIR/guest-$domid.err" &
    GUEST_PIDS+=($!)
done

# Every second a sample for the summary (the queues' counters and cores,
# the sidecores' busy time, the balancer's counts); during phase 2 what the
# balancer did since the last one; the live view (guests, sidecores, vifs,
# switch) every 4 s; at PHASE1 s the balancer goes on.
mkdir "$DIR/samples"
sample() {
    local f=$DIR/samples/$1
    echo "$1 $(($(now_ms) - T0))" >>"$DIR/samples/list"
    "$BIN/sidecorectl" queues --json >"$f.queues" 2>/dev/null || true
    "$BIN/sidecorectl" cores --json >"$f.cores" 2>/dev/null || true
    "$BIN/sidecorectl" status --json >"$f.status" 2>/dev/null || true
}
# balancer_news K: sc1 added or parked, queues moved, between samples K-1 and K
balancer_news() {
    perl -MJSON::PP -e '
        my ($s, $k, $t) = @ARGV;
        sub slurp { local $/; open(my $f, "<", $_[0]) or return undef; my $x = <$f>;
                    return eval { decode_json($x) } }
        my ($r0, $r1) = map { (slurp("$s/$_.status") || {})->{rebalance} || {} } $k - 1, $k;
        my %was = map { $_->{name} => $_->{core} // "-" } @{ slurp("$s/" . ($k - 1) . ".queues") || [] };
        printf "-- %4.1f s  balancer: a sidecore added (now %d active)\n", $t / 1000,
            $r1->{active_cores} if ($r1->{cores_added} // 0) > ($r0->{cores_added} // 0);
        printf "-- %4.1f s  balancer: a sidecore parked (now %d active)\n", $t / 1000,
            $r1->{active_cores} if ($r1->{cores_parked} // 0) > ($r0->{cores_parked} // 0);
        for my $q (@{ slurp("$s/$k.queues") || [] }) {
            my $c = $q->{core} // "-";
            next if !defined $was{$q->{name}} || $was{$q->{name}} eq $c || $c eq "-";
            printf "-- %4.1f s  balancer: %s moved %s -> %s (its load %.0f%% of a core)\n",
                $t / 1000, $q->{name}, $was{$q->{name}}, $c, 100 * ($q->{load} // 0);
        }
    ' "$DIR/samples" "$1" "$2" || true
}
live_view() {
    echo
    echo "-- $(date +%T)  sidecorectl guests"
    "$BIN/sidecorectl" guests || true
    echo "-- sidecorectl cores"
    "$BIN/sidecorectl" cores || true
    if [ "$NCPU" -ge 2 ]; then
        echo "-- sidecorectl status (the balancer)"
        "$BIN/sidecorectl" status 2>/dev/null | grep -E '^(balance|sidecores) ' || true
    fi
    if [ "$NET_MODE" != none ]; then
        echo "-- sidecorectl vifs"
        "$BIN/sidecorectl" vifs || true
        echo "-- sidecorectl switch"
        "$BIN/sidecorectl" switch || true
    fi
}
k=0
while [ $(((k + 1) * 1000)) -le $((SECS * 1000 - 500)) ]; do
    k=$((k + 1))
    wait_ms=$((T0 + k * 1000 - $(now_ms)))
    [ "$wait_ms" -le 0 ] || sleep "$((wait_ms / 1000)).$(printf %03d $((wait_ms % 1000)))"
    sample "$k"
    t_ms=$(($(now_ms) - T0))
    [ "$k" -le "$PHASE1" ] || balancer_news "$k" "$t_ms"
    if [ "$k" -eq "$PHASE1" ] && [ "$NCPU" -ge 2 ]; then
        echo "rebalance = on" >"$DIR/sidecored.conf"
        kill -HUP "$SC_PID"
        echo
        echo "== phase 2 at ${k} s: rebalance = on (config file rewritten, SIGHUP to sidecored):" \
            "sc1 is added once sc0 is above 75% busy for 1 s"
    fi
    [ $(((k - 2) % 4)) -ne 0 ] || [ "$k" -gt $((SECS - 2)) ] || live_view
done
"$BIN/sidecorectl" cores --json >"$DIR/cores.json" 2>/dev/null || echo '[]' >"$DIR/cores.json"
"$BIN/sidecorectl" queues --json >"$DIR/queues.json" 2>/dev/null || echo '[]' >"$DIR/queues.json"
# the vifs' counters while they are connected (a generator's vif goes when it ends)
"$BIN/sidecorectl" vifs --json >"$DIR/vifs.json" 2>/dev/null || echo '[]' >"$DIR/vifs.json"

failed=0
for p in "${GUEST_PIDS[@]}"; do wait "$p" || failed=$((failed + 1)); done
GUEST_PIDS=()
net_failed=0
if [ -n "$IPERF_PID" ]; then
    wait "$IPERF_PID" || net_failed=$((net_failed + 1))
    "$BIN/sidecorectl" vifs --json >"$DIR/vifs.json" 2>/dev/null || true
    for p in "${NET_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
fi
for p in "${NET_PIDS[@]}"; do
    # the TAP adapters and the iperf3 server end on SIGTERM: only generators count
    wait "$p" || [ "$NET_MODE" = tap ] || net_failed=$((net_failed + 1))
done
NET_PIDS=()

echo
echo "== summary (${SECS} s of 4k random I/O: null disks reads at qd $NULL_QD, each request" \
    "$((SPIN_NS / 1000)) us of sidecore CPU; file disks 50/50 at qd $FILE_QD, verified)"
perl -MJSON::PP -e '
    my ($dir, $phase1, $ncpu, $fqd, $nqd) = @ARGV;
    sub slurp { local $/; open(my $f, "<", $_[0]) or return undef; my $t = <$f>;
                return eval { decode_json($t) } }
    sub pct { sprintf "%.1f%%", 100 * $_[0] }
    # the guests: domid, disk, weight, limit (IOPS, 0: none), simblkfront report
    my @g;
    open(my $gl, "<", "$dir/guests") or die;
    while (<$gl>) {
        my ($domid, $target, $w, $lim) = split;
        push @g, { d => $domid, null => scalar($target =~ /^null/), w => $w, lim => $lim // 0,
                   disk => $target =~ /^null/ ? "null spin" : "file 64M",
                   j => slurp("$dir/guest-$domid.json") || {} };
    }
    # the samples: k -> { t (ms from the start), queues, cores, status }
    my %s;
    if (open(my $sl, "<", "$dir/samples/list")) {
        while (<$sl>) {
            my ($k, $t) = split;
            $s{$k} = { t => $t, queues => slurp("$dir/samples/$k.queues") || [],
                       cores => slurp("$dir/samples/$k.cores") || [],
                       status => slurp("$dir/samples/$k.status") || {} };
        }
    }
    my @ks = sort { $a <=> $b } keys %s;
    sub req { my ($k, $d) = @_; my $n = 0;
              $n += $_->{requests} // 0 for grep { $_->{domid} == $d } @{ $s{$k}{queues} }; $n }
    sub secs { ($s{$_[1]}{t} - $s{$_[0]}{t}) / 1000 }
    sub iops { my ($k0, $k1, $d) = @_;
               secs($k0, $k1) > 0 ? (req($k1, $d) - req($k0, $d)) / secs($k0, $k1) : 0 }
    sub busy { my ($k0, $k1, $c) = @_; my %x;
               for my $k ($k0, $k1) {
                   $x{$k} = 0;
                   $x{$k} += $_->{busy_ns} for grep { $_->{name} eq $c } @{ $s{$k}{cores} };
               }
               secs($k0, $k1) > 0 ? ($x{$k1} - $x{$k0}) / 1e9 / secs($k0, $k1) : 0 }
    sub sum_iops { my ($k0, $k1, @gs) = @_; my $n = 0; $n += iops($k0, $k1, $_->{d}) for @gs; $n }
    my @null = grep { $_->{null} } @g;
    my @file = grep { !$_->{null} } @g;
    my $lim_g = (grep { $_->{lim} } @g)[0];

    # Phase 1: after a second of warm-up to the switch
    my ($p1a) = grep { $_ >= 2 } @ks;
    $p1a //= $ks[0];
    my ($p1b) = reverse grep { $_ <= $phase1 } @ks;
    if (defined $p1a && defined $p1b && $p1b > $p1a) {
        printf "%s (%.0f-%.0f s, %s): sc0 %s busy\n", $ncpu >= 2 ? "phase 1" : "the run",
            $s{$p1a}{t} / 1000, $s{$p1b}{t} / 1000,
            $ncpu >= 2 ? "every queue on sc0, the balancer off" : "one sidecore",
            pct(busy($p1a, $p1b, "sc0"));
        # the share each null disk should get of their IOPS: its weight
        # share of what the limited guest left (it takes what its cap lets it
        # have, which is its weight share too when the cap is above that)
        my $tot = sum_iops($p1a, $p1b, @null);
        my (%want, %limited);
        my ($left, $wall, $ws) = ($tot, 0, 0);
        $wall += $_->{w} for @null;
        for (grep { $_->{lim} } @null) {
            $limited{$_->{d}} = $_->{w} / $wall * $tot; # its weight alone would give it
            $left -= iops($p1a, $p1b, $_->{d});
        }
        my @free = grep { !$_->{lim} } @null;
        $ws += $_->{w} for @free;
        $want{$_->{d}} = $ws ? $_->{w} / $ws * $left : 0 for @free;
        printf "%-5s %-9s %6s %6s %9s %7s %7s %6s\n", "DOMID", "DISK", "WEIGHT", "LIMIT", "IOPS",
            "SHARE", "W-SHR", "OFF";
        my ($worst, $worst_d) = (0, 0);
        for my $x (@null) {
            my $i = iops($p1a, $p1b, $x->{d});
            my $off = $want{$x->{d}} ? ($i - $want{$x->{d}}) / $want{$x->{d}} : 0;
            if ($limited{$x->{d}}) {
                printf "%-5d %-9s %6d %6s %9.0f %7s %7s %6s  (limited)\n", $x->{d},
                    $x->{disk}, $x->{w}, $x->{lim}, $i, pct($tot ? $i / $tot : 0), "-", "-";
                next;
            }
            ($worst, $worst_d) = (abs $off, $x->{d}) if abs $off > $worst;
            printf "%-5d %-9s %6d %6s %9.0f %7s %7s %+5.1f%%\n", $x->{d}, $x->{disk}, $x->{w},
                $x->{lim} || "-", $i, pct($tot ? $i / $tot : 0),
                pct($tot ? $want{$x->{d}} / $tot : 0), 100 * $off;
        }
        for my $x (@file) {
            printf "%-5d %-9s %6d %6s %9.0f   (verified)\n", $x->{d}, $x->{disk}, $x->{w},
                $x->{lim} || "-", iops($p1a, $p1b, $x->{d});
        }
        print "SHARE: of the IOPS of the null disks; W-SHR: the share their weights give of what the",
            " limited guest left\n";
        # the file disks: a guest that asks less than its share gets all it asks
        my ($fi, $fw, $aw) = (sum_iops($p1a, $p1b, @file), 0, 0);
        $fw += $_->{w} for @file;
        $aw += $_->{w} for @g;
        printf "file disks: %.1f%% of the disk requests where their weights would allow %.1f%%:" .
            " at qd %d they ask less than their share, so they get all they ask\n",
            100 * $fi / ($tot + $fi || 1), 100 * $fw / $aw, $fqd if @file && $fi / ($tot + $fi || 1) < $fw / $aw;
        my $b0 = busy($p1a, $p1b, "sc0");
        if ($b0 < 0.9) {
            printf "sc0 had time to spare (%s busy): each guest got about what it asked;" .
                " weights decide the shares only when the sidecore is the bottleneck\n", pct($b0);
        } elsif ($worst <= 0.1) {
            printf "weights hold: sc0 is the bottleneck and every null disk is within %.1f%% of" .
                " the share its weight asks for\n", 100 * $worst;
        } else {
            printf "weights: the shares of the null disks are off their weights by up to %.1f%% (guest %d)" .
                " although sc0 is the bottleneck (a noisy machine? see docs/benchmarks.md)\n",
                100 * $worst, $worst_d;
        }
        if ($lim_g) {
            my $i = iops($p1a, $p1b, $lim_g->{d});
            printf "limit: guest %d ran at %.0f IOPS against its cap of %d (%s; its weight alone" .
                " would give it %.0f)\n", $lim_g->{d}, $i, $lim_g->{lim},
                $i <= 1.05 * $lim_g->{lim} ? "holds" : "EXCEEDED", $limited{$lim_g->{d}};
        }
    } else {
        print "phase 1: too short to measure (DEMO_SECONDS)\n";
    }

    # Phase 2: what the balancer did, and the IOPS after its last move
    if ($ncpu >= 2) {
        print "\n";
        my @p2 = grep { $_ > $phase1 } @ks;
        my ($added, @moves, $last_move);
        for my $k (@p2) {
            my ($r0, $r1) = map { $s{$_}{status}{rebalance} || {} } $k - 1, $k;
            $added //= $k if ($r1->{cores_added} // 0) > ($r0->{cores_added} // 0);
            my %was = map { $_->{name} => $_->{core} // "-" } @{ $s{$k - 1}{queues} || [] };
            for my $q (@{ $s{$k}{queues} }) {
                my $c = $q->{core} // "-";
                next if !defined $was{$q->{name}} || $was{$q->{name}} eq $c || $c eq "-";
                push @moves, sprintf "%s %s->%s", $q->{name}, $was{$q->{name}}, $c;
                $last_move = $k;
            }
        }
        my $rb = @ks ? $s{$ks[-1]}{status}{rebalance} || {} : {};
        printf "phase 2 (%d-%d s, the balancer on): %s; %s\n", $phase1, $ks[-1] // $phase1,
            defined $added ? sprintf("sc1 added by %.1f s (sc0 above 75%% busy)", $s{$added}{t} / 1000)
                           : "no sidecore added",
            @moves ? sprintf("%d queue%s moved by %.1f s: %s", scalar @moves, @moves == 1 ? "" : "s",
                             $s{$last_move}{t} / 1000, join(", ", @moves))
                   : "no queue moved";
        printf "balancer: %d active sidecore%s, %d added, %d parked, %d move%s in all\n",
            $rb->{active_cores} // 0, ($rb->{active_cores} // 0) == 1 ? "" : "s",
            $rb->{cores_added} // 0, $rb->{cores_parked} // 0, $rb->{moves} // 0,
            ($rb->{moves} // 0) == 1 ? "" : "s";
        # after: from a second after the last move (or the switch) to the end
        my ($a2) = grep { $_ > ($last_move // $phase1) } @ks;
        my $b2 = $ks[-1];
        if (@moves && defined $a2 && $b2 - $a2 >= 2 && defined $p1b && $p1b > $p1a) {
            my ($before, $after) = (sum_iops($p1a, $p1b, @g), sum_iops($a2, $b2, @g));
            printf "disks: %.0f IOPS in phase 1 (sc0 %s busy), %.0f after the moves (%.0f-%.0f s;" .
                " sc0 %s, sc1 %s busy): %+.0f%%\n", $before, pct(busy($p1a, $p1b, "sc0")), $after,
                $s{$a2}{t} / 1000, $s{$b2}{t} / 1000, pct(busy($a2, $b2, "sc0")),
                pct(busy($a2, $b2, "sc1")), $before ? 100 * ($after / $before - 1) : 0;
            printf "after, per disk: %s\n", join(", ", map { sprintf "%d %.0f", $_->{d},
                iops($a2, $b2, $_->{d}) } @g);
            if ($lim_g) {
                my $i = iops($a2, $b2, $lim_g->{d});
                printf "limit: guest %d at %.0f IOPS after the moves (%s)\n", $lim_g->{d}, $i,
                    $i <= 1.05 * $lim_g->{lim} ? "holds" : "EXCEEDED";
            }
        } elsif (@moves) {
            print "too little time after the last move to measure it (DEMO_SECONDS)\n";
        }
    }

    # the whole run, as each guest reported it
    printf "\nthe whole run, as each guest measured it%s:\n", @null ? " (null disk latency" .
        " is mostly the wait in the ring: qd $nqd against a saturated sidecore)" : "";
    printf "%-5s %-9s %6s %9s %8s %8s %-16s %9s %9s\n", "DOMID", "DISK", "WEIGHT", "IOPS",
        "P50us", "P99us", "VERIFY", "KICKS/REQ", "NOTIF/RSP";
    my $isum = 0;
    for my $x (@g) {
        my $j = $x->{j};
        $isum += $j->{iops} // 0;
        my $verify = !%$j ? "no result"
            : $j->{verified_sectors} ? ($j->{verify_errors} ? "$j->{verify_errors} ERRORS"
                                        : "ok ($j->{verified_sectors} sect)")
            : "off";
        printf "%-5d %-9s %6d %9.0f %8.1f %8.1f %-16s %9.4f %9.4f\n", $x->{d}, $x->{disk}, $x->{w},
            $j->{iops} // 0, $j->{latency_us}{p50} // 0, $j->{latency_us}{p99} // 0, $verify,
            $j->{kicks_sent_per_request} // 0, $j->{kicks_received_per_response} // 0;
    }
    my $cores = slurp("$dir/cores.json") || [];
    printf "total %.0f IOPS; %s\n", $isum, join("; ", map { sprintf "%s busy %.1f%% of its time" .
        " (rounds %d, slept %d times)%s", $_->{name}, $_->{busy_pct}, $_->{rounds}, $_->{sleeps},
        $_->{active} ? "" : ", parked" } @$cores);
    my @e = grep { !%{ $_->{j} } || $_->{j}{errors} } @g;
    print scalar(@e) ? "errors: guests @{[map { $_->{d} } @e]}\n" : "no I/O or verification error\n";
' "$DIR" "$PHASE1" "$NCPU" "$FILE_QD" "$NULL_QD"
if [ "$NET_MODE" != none ]; then
    echo
    if [ "$NET_MODE" = tap ]; then
        echo "== network (${SECS} s of iperf3 TCP both ways between the guests, through scsw0)"
    else
        echo "== network (${SECS} s, 1514-byte frames at up to $GEN_PPS/s each way, verified)"
    fi
    # per guest: its own report (throughput, verification) and the vif's
    # counters as sidecored saw them (packets are ring packets: a GSO frame is one)
    perl -MJSON::PP -e '
        my ($dir, $mode, @g) = @ARGV;
        sub slurp { local $/; open(my $f, "<", $_[0]) or return undef; my $t = <$f>;
                    return eval { decode_json($t) } }
        my $vifs = slurp("$dir/vifs.json") || [];
        my $iperf = $mode eq "tap" ? slurp("$dir/iperf.json") || {} : undef;
        my $errors = 0;
        printf "%-5s %-17s %-12s %8s %9s %9s %6s %9s %9s  %s\n", "DOMID", "MAC", "SENDS",
            "Mbit/s", "TX-PKTS", "RX-PKTS", "DROPS", "KICKS/PKT", "NOTIF/PKT", "CHECK";
        for my $i (0, 1) {
            my ($d, $mac, $addr) = split /,/, $g[$i];
            my ($peer) = (split /,/, $g[1 - $i])[0];
            my ($v) = grep { $_->{frontend_id} == $d } @$vifs;
            my $t = $v->{class}{traffic} || {};
            my ($sends, $mbit, $check);
            if ($iperf) {
                my $sum = $iperf->{end}{$i ? "sum_received_bidir_reverse" : "sum_received"} || {};
                $sends = "TCP to $peer";
                $mbit = ($sum->{bits_per_second} // 0) / 1e6;
                $check = $iperf->{error} ? "iperf3: $iperf->{error}"
                       : $sum->{bytes} ? "ok ($sum->{bytes} bytes)" : "no result";
            } else {
                my $r = slurp("$dir/net-$d.json") || {};
                $sends = "frames to $peer";
                $mbit = $r->{mbit_tx} // 0;
                $check = !%$r ? "no result"
                       : $r->{bad} || $r->{out_of_order} ? "$r->{bad} bad, $r->{out_of_order} out of order"
                       : "ok ($r->{verified} verified, $r->{lost} lost)";
            }
            $errors++ unless $check =~ /^ok/;
            my $tx = $t->{tx_packets} // 0;
            my $rx = $t->{rx_packets} // 0;
            printf "%-5d %-17s %-12s %8.0f %9d %9d %6d %9.4f %9.4f  %s\n", $d, $mac, $sends, $mbit,
                $tx, $rx, ($t->{tx_drops} // 0) + ($t->{rx_drops} // 0),
                $tx ? ($t->{kicks} // 0) / $tx : 0, $rx ? ($t->{notifies} // 0) / $rx : 0, $check;
        }
        print $errors ? "network errors: see above\n" : "no network error\n";
    ' "$DIR" "$NET_MODE" "${NET_DOMIDS[0]},${NET_MACS[0]},${NET_ADDRS[0]}" \
        "${NET_DOMIDS[1]},${NET_MACS[1]},${NET_ADDRS[1]}"
fi
# The samples as a report for tools/bench/plot.pl: per disk guest its
# weight and limit, per sample each guest's IOPS since the one before
# (sidecored's count of its queue's requests; none before T0: the guests
# connect after it).
mkdir -p "$OUT"
if perl -MJSON::PP -e '
    my ($dir, $phase1, $ncpu, $secs) = @ARGV;
    sub slurp { local $/; open(my $f, "<", $_[0]) or return undef; my $t = <$f>;
                return eval { decode_json($t) } }
    my @g;
    open(my $gl, "<", "$dir/guests") or die "demo: $dir/guests: $!\n";
    while (<$gl>) {
        my ($domid, $target, $w, $lim) = split;
        push @g, { domid => $domid + 0, disk => $target =~ /^null/ ? "null spin" : "file 64M",
                   weight => $w + 0, limit_iops => $lim ? $lim + 0 : undef };
    }
    my ($t0, %r0) = (0);
    my @samples;
    if (open(my $sl, "<", "$dir/samples/list")) {
        while (<$sl>) {
            my ($k, $t) = split;
            my $q = slurp("$dir/samples/$k.queues") or next;
            my %r;
            $r{$_->{domid}} += $_->{requests} // 0 for @$q;
            my $dt = ($t - $t0) / 1000;
            next unless $dt > 0;
            push @samples, { t_s => $t / 1000, iops => { map { my $d = $_->{domid};
                ($d => (($r{$d} // 0) - ($r0{$d} // 0)) / $dt) } @g } };
            ($t0, %r0) = ($t, %r);
        }
    }
    print JSON::PP->new->canonical->pretty->encode({
        title => "make demo: IOPS per disk guest, one sample a second" .
                 ($ncpu >= 2 ? " (sc0 alone, then the balancer on)" : " (one sidecore)"),
        seconds => $secs + 0, phase1_s => $ncpu >= 2 ? $phase1 + 0 : undef,
        guests => \@g, samples => \@samples });
' "$DIR" "$PHASE1" "$NCPU" "$SECS" >"$OUT/demo.json"; then
    echo
    echo "== plots of the per-second samples ($OUT/demo.json):"
    perl "$ROOT/tools/bench/plot.pl" "$OUT/demo.json" || echo "demo: no plot (see above)"
else
    echo "demo: no report of the samples in $OUT/demo.json"
fi
if [ -s "$DIR/sidecored.log" ]; then
    echo "sidecored log:"
    sed 's/^/  /' "$DIR/sidecored.log" | tail -5
fi
for f in "$DIR"/guest-*.err "$DIR"/net-*.err "$DIR"/iperf.err; do
    [ -s "$f" ] && { echo "$(basename "$f" .err):"; sed 's/^/  /' "$f" | head -5; }
done
[ "$failed" -eq 0 ] || { echo "demo: $failed guest(s) failed" >&2; exit 1; }
[ "$net_failed" -eq 0 ] || { echo "demo: $net_failed network guest(s) failed" >&2; exit 1; }
echo "demo done"
