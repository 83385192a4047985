#!/bin/bash
# make demo: sidecored serving the disks of 8 simulated guests and the
# networks of 2 more, on one sidecore.
#
# Starts a private xensim world, sidecored (poll mode, one sidecore, pinned
# with its whole process to the last CPU when there are two or more, the
# guests on the others; in a network namespace of its own, where its
# internal switch's host port lives), 8 guests each with a disk and 2 with
# a network interface on the internal switch scsw0.
#   Disks: guests 1-4 a null:1G disk (random reads), guests 5-8 a 64 MiB
#   temp file with data verification (random 50/50 reads and writes; every
#   read checked).  Each gets a fair-share weight (sidecorectl set-tenant):
#   100, 100, 200, 400 for the null disks and the same for the files; guest
#   2 is also capped at 20,000 IOPS (lim_iops), which holds whether or not
#   the sidecore is the bottleneck.
#   Networks: as root, each network guest is a Linux network stack (a
#   namespace behind simnetfront's TAP adapter) and iperf3 runs TCP both
#   ways between them through the switch; without root (or without ip
#   netns / iperf3), two simnetfront generators send verified frames to
#   each other (sidecored then needs an unprivileged user namespace; the
#   demo goes on without networks if it has none).
#   DEMO_NET=gen (or none) asks for the generators (or no networks) even
#   where the Linux stacks could run.
# Everything runs for DEMO_SECONDS (20) while sidecorectl shows the guests,
# the sidecore, the vifs and the switch live; then a summary: per disk IOPS,
# share against weight share, latency, verification, kicks per request and
# notifies per response, and how busy the sidecore was; per network guest
# its throughput, packets, kicks and notifies.  Weights decide shares only
# when the sidecore is the bottleneck (busy near 100%); otherwise every
# guest gets what it asks.  Cleans up everything on exit.
set -euo pipefail

SC_BUILD=${SC_BUILD:-$(pwd)/build}
BIN=$SC_BUILD/bin
SECS=${DEMO_SECONDS:-20}
WEIGHTS=(100 100 200 400 100 100 200 400)
LIMITS=("" lim_iops=20000 "" "" "" "" "" "")
GEN_PPS=5000 # each way, without root: the generators share the guests' CPUs
NCPU=$(nproc)

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

BE_PIN=()
GUEST_PIN=()
if [ "$NCPU" -ge 2 ]; then
    BE_PIN=(taskset -c $((NCPU - 1)))
    GUEST_PIN=(taskset -c 0-$((NCPU - 2)))
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
        target=null:1G
    else
        target=$DIR/disk$i.img
        truncate -s 64M "$target"
    fi
    "$BIN/xensimctl" vbd-attach "$domid" --backend-domid 0 --target "$target" --vdev xvda \
        >/dev/null
    echo "$domid $target ${WEIGHTS[i - 1]}" >>"$DIR/guests"
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

echo "== sidecored --mode poll --cores 1${BE_PIN:+ (pinned to CPU $((NCPU - 1)))}" \
    "${NS_RUN:+in a network namespace}"
"${BE_PIN[@]}" "${NS_RUN[@]}" "$BIN/sidecored" --mode poll --cores 1 --log-level warn \
    3>"$DIR/sc-ready" --ready-fd 3 2>"$DIR/sidecored.log" &
SC_PID=$!
wait_ready "$DIR/sc-ready" sidecored
for i in $(seq 0 7); do
    "$BIN/sidecorectl" set-tenant "${DOMIDS[i]}" "weight=${WEIGHTS[i]}" ${LIMITS[i]} >/dev/null
done
echo "== guest ${DOMIDS[1]}: limited to 20000 IOPS"

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

echo "== guests start: ${SECS} s of I/O"
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
        args=(--rw read)
    else
        args=(--rw mix:50 --verify)
    fi
    "${GUEST_PIN[@]}" "$BIN/simblkfront" --dir "$DIR" --domid "$domid" --vdev 51712 \
        --backend-domid 0 --workload rand --bs 4k --qd 16 --seconds "$SECS" "${args[@]}" \
        --json >"$DIR/guest-$domid.json" 2>"$DIR/guest-$domid.err" &
    GUEST_PIDS+=($!)
done

# The live view, bounded by the run: guests, the sidecore, the vifs and the
# switch every 4 s.
sleep 2
end=$(($(date +%s) + SECS - 4))
while [ "$(date +%s)" -lt "$end" ]; do
    echo
    echo "-- $(date +%T)  sidecorectl guests"
    "$BIN/sidecorectl" guests || true
    echo "-- sidecorectl cores"
    "$BIN/sidecorectl" cores || true
    if [ "$NET_MODE" != none ]; then
        echo "-- sidecorectl vifs"
        "$BIN/sidecorectl" vifs || true
        echo "-- sidecorectl switch"
        "$BIN/sidecorectl" switch || true
    fi
    sleep 4
done
"$BIN/sidecorectl" cores --json >"$DIR/cores.json" 2>/dev/null || echo '[]' >"$DIR/cores.json"
"$BIN/sidecorectl" guests --json >"$DIR/sc-guests.json" 2>/dev/null || echo '[]' >"$DIR/sc-guests.json"
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
echo "== summary (${SECS} s, 4k random, qd 16 per guest)"
perl -MJSON::PP -e '
    my ($dir) = @ARGV;
    sub slurp { local $/; open(my $f, "<", $_[0]) or return undef; my $t = <$f>;
                return eval { decode_json($t) } }
    my (@g, $wsum, $isum);
    open(my $gl, "<", "$dir/guests") or die;
    while (<$gl>) {
        my ($domid, $target, $w) = split;
        my $j = slurp("$dir/guest-$domid.json") || {};
        push @g, [$domid, $target =~ /^null/ ? "null:1G" : "file 64M", $w, $j];
        $wsum += $w; $isum += $j->{iops} // 0;
    }
    printf "%-5s %-8s %6s %6s %9s %6s %8s %8s %-16s %9s %9s\n", "DOMID", "DISK", "WEIGHT",
        "W-SHR", "IOPS", "SHARE", "P50us", "P99us", "VERIFY", "KICKS/REQ", "NOTIF/RSP";
    for (@g) {
        my ($d, $disk, $w, $j) = @$_;
        my $verify = !%$j ? "no result"
            : $j->{verified_sectors} ? ($j->{verify_errors} ? "$j->{verify_errors} ERRORS"
                                        : "ok ($j->{verified_sectors} sect)")
            : "off";
        printf "%-5d %-8s %6d %5.1f%% %9.0f %5.1f%% %8.1f %8.1f %-16s %9.4f %9.4f\n", $d, $disk,
            $w, 100 * $w / $wsum, $j->{iops} // 0, $isum ? 100 * ($j->{iops} // 0) / $isum : 0,
            $j->{latency_us}{p50} // 0, $j->{latency_us}{p99} // 0, $verify,
            $j->{kicks_sent_per_request} // 0, $j->{kicks_received_per_response} // 0;
    }
    my $cores = slurp("$dir/cores.json") || [];
    printf "total %.0f IOPS; ", $isum;
    printf "sidecore %s busy %.1f%% of its time (rounds %d, slept %d times)\n",
        $_->{name}, $_->{busy_pct}, $_->{rounds}, $_->{sleeps} for @$cores;
    print "\n" unless @$cores;
    print "the sidecore had time to spare, so each guest got what its own CPU could ask;\n",
          "weights decide the shares only when the sidecore is the bottleneck\n"
        if @$cores && $cores->[0]{busy_pct} < 95;
    my @e = grep { !%{ $_->[3] } || $_->[3]{errors} } @g;
    print scalar(@e) ? "errors: guests @{[map { $_->[0] } @e]}\n" : "no I/O or verification error\n";
' "$DIR"
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
