#!/bin/bash
# netbench - sidecore's network benchmark (make bench): packet rates and
# TCP through sidecored's vifs, each load served side by side by
#   sidecore  sidecored --mode poll --cores 1   (polling sidecore)
#   event     sidecored --mode event            (a thread per queue woken by
#                                                its event channel: Linux's model)
#   floor     netecho --mode poll --cores 1     (same daemon and poll loop; a
#                                                vif class that answers every tx
#                                                packet OKAY, copies nothing,
#                                                receives nothing: tx-only loads)
# and, for TCP, a plain veth pair between two namespaces.
#
#   tools/bench/netbench.sh [--scenarios switch,tap-tx,tap-rx,tcp]
#       [--sizes 64,1514] [--guests 2,8,32] [--backends sidecore,event,floor]
#       [--seconds 2] [--tcp-seconds 3] [--rounds 1] [--pin yes|no]
#       [--nice -10] [--json FILE] [--keep DIR] [--profile DIR]
#
# --profile DIR: perf record -e cpu-clock -g of the backend's core threads
# over each cell's window (DIR/CELL.perf.data) and, pinned, perf record -e
# cpu-clock of the guests' CPUs (DIR/CELL.guests.perf.data: every process
# there, the machine's other jobs too); report them with perf report
# --sort symbol / --sort comm before rebuilding.
# Scenarios (each cell a fresh xensim world; sidecored runs in a network
# namespace of its own, where its TAP interfaces and its switch's host port
# scsw0 live):
#   switch  guest -> guest through the internal switch: N guests (each a
#           vif with bridge=scsw0), N/2 pairs gen -> sink, for each --sizes
#           and --guests.  gen: simnetfront --mode gen (test frames of SIZE
#           bytes, Ethernet header included, unpaced) to its sink's MAC.
#           sink: simnetfront --mode gen --rate 2 to its gen: it verifies
#           what comes and sends 2 frames a second, so the switch learns its
#           MAC (a port that never sends is flooded to, as on any learning
#           switch).  Sinks start 0.2 s before the gens (two barriers).
#   tap-tx  guest -> host: one guest whose vif has its TAP interface
#           vif<domid>.0 (bridge=none) brought up in sidecored's namespace;
#           gen to a MAC that is not the host's; the host's count is the
#           interface's rx_packets.
#   tap-rx  host -> guest: the same vif, a sink guest, and on the host a raw
#           packet socket (AF_PACKET, sendmmsg of 64 frames, a Perl helper
#           written to the scratch directory) sending SIZE-byte frames
#           (ethertype 0x88b5) into the TAP as fast as it can (it starts
#           first, the sink is released once it sends); what the backend
#           does not take in time the TAP drops (tx_dropped), what the
#           backend took but the guest's ring had no room for it drops
#           (rx_drops).  No floor: netecho receives nothing.
#   tcp     iperf3 -c for --tcp-seconds between two guests on the switch,
#           each guest's stack a namespace behind simnetfront --mode tap;
#           vs "veth": the same iperf3 between two namespaces joined by a
#           veth pair, unpinned (the kernel's own path with the whole
#           machine), and "veth-cpu0": the same, pinned to the guests' CPU.
# Pinning (--pin yes, the default with 2 CPUs or more): the backend on the
# last CPU, every guest, adapter, iperf3 and the host sender on the others.
# --nice N (default -10): the backend runs at that nice level, standing in
# for a driver domain's dedicated vCPU on a machine other jobs share: at
# nice 0 a polling sidecore is a CPU hog the scheduler preempts for every
# other runnable task on its CPU, while event mode's threads, waking from
# sleep, are let in first; both backends get the same level.
# Cells run interleaved per (scenario, size, guests): every backend in turn,
# in reverse order on even rounds.
# Measured per cell over a window of --seconds (from 0.2 s after the load
# starts flowing; the gens are stopped after it, tap-rx's load runs 2 s
# longer; for tcp, the iperf3 run): two snapshots of `sidecorectl
# devices --json` (class.traffic of every vif: tx/rx packets, drops, kicks,
# notifies) and of the backend's CPU (summed /proc/PID/task/*/schedstat
# on-CPU ns, and utime+stime ticks from /proc/PID/stat):
#   pps                packets per second: delivered into guests' rx rings
#                      (switch, tap-rx), answered on guests' tx rings (tap-tx,
#                      the floor), sent on both vifs' tx rings (tcp: GSO
#                      frames of up to 64 KiB)
#   pps/CPU-s          those packets / backend CPU seconds
#   kicks/pkt, notifies/pkt   frontend kicks received, backend notifications
#                      sent, over those packets
#   drops              the backend's tx_drops + rx_drops in the window; and
#                      the guests' loss over the whole run: frames a gen
#                      sent that its sink never received
#   Jain               Jain's fairness index over the pairs' delivered frames
#                      (switch; the floor: over the gens' sent frames)
# Prints markdown tables and the two goal ratios (64 B guest->guest packets
# per backend CPU-s sidecore/event, goal >= 2; TCP switch/veth, goal >= 0.8);
# with --json, every cell and aggregate.  Needs root (network namespaces),
# iperf3 for tcp (the scenario is skipped without it), perl, and the built
# programs in $SC_BUILD/bin (default ./build).  Without root it says so and
# exits 0 (make bench then runs the rest).  Cleans up every process,
# namespace and world on exit (also on Ctrl-C).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=benchlib.sh
. "$HERE/benchlib.sh"

SCENARIOS=switch,tap-tx,tap-rx,tcp
SIZES=64,1514
GUESTS=2,8,32
BACKENDS=sidecore,event,floor
SECONDS_PER_CELL=2
# The load's bound, beyond the window: the gens (and the tap-tx gen) run
# until the window's last snapshot is taken, then SIGUSR1 ends their sending
# (their sinks get theirs GEN_TO_SINK_S later, so the gens' last frames
# still land).  A fixed tail is not enough: with 32 unpaced guests on the
# harness's CPU, its snapshots were seen taking 2 s more than the window.
TAIL=60
GEN_TO_SINK_S=0.5
# tap-rx's sink and host sender (which SIGUSR1 does not end) run this much
# longer than the window: one guest, so the snapshots are quick there.
RX_TAIL=2
TCP_SECONDS=3
ROUNDS=1
CORES=1
BE_NICE=-10
JSON_OUT=""

bl_parse_opts --scenarios=SCENARIOS --sizes=SIZES --guests=GUESTS --backends=BACKENDS \
    --seconds=SECONDS_PER_CELL --tcp-seconds=TCP_SECONDS --rounds=ROUNDS --nice=BE_NICE --json=JSON_OUT \
    --keep=KEEP --pin=PIN --profile=PROFILE -- "$@"
if ! [[ $SECONDS_PER_CELL =~ ^[0-9]+(\.[0-9]+)?$ ]] ||
    ! perl -e 'exit !($ARGV[0] >= 1)' "$SECONDS_PER_CELL"; then
    bl_die "--seconds: a number, 1 or more"
fi
[[ $BE_NICE =~ ^-?[0-9]+$ ]] || bl_die "--nice: a nice level, -20..19"
[[ $TCP_SECONDS =~ ^[1-9][0-9]*$ ]] || bl_die "--tcp-seconds: a whole number of seconds"
[[ $SIZES =~ ^[0-9]+(,[0-9]+)*$ ]] || bl_die "--sizes: a list like 64,1514"
IFS=, read -r -a SIZE_LIST <<<"$SIZES"
for s in "${SIZE_LIST[@]}"; do
    if [ "$s" -lt 64 ] || [ "$s" -gt 1514 ]; then bl_die "--sizes: 64..1514 each (one slot, no GSO)"; fi
done
IFS=, read -r -a SCEN_LIST <<<"$SCENARIOS"
for s in "${SCEN_LIST[@]}"; do
    case $s in switch|tap-tx|tap-rx|tcp) ;; *) bl_die "--scenarios: switch, tap-tx, tap-rx, tcp" ;; esac
done
bl_cell_lists 2 2,8,32 sidecore event floor
for n in "${GUEST_LIST[@]}"; do
    [ $((n % 2)) -eq 0 ] || bl_die "--guests: even counts (pairs)"
done

if [ "$(id -u)" != 0 ] || ! ip netns add "nbprobe$$" 2>/dev/null; then
    echo "netbench: skipped: needs root and network namespaces" >&2
    exit 0
fi
ip netns del "nbprobe$$"
if [[ " ${SCEN_LIST[*]} " == *" tcp "* ]] && ! command -v iperf3 >/dev/null; then
    echo "netbench: iperf3 is missing: the tcp scenario is skipped" >&2
    SCEN_LIST=("${SCEN_LIST[@]/tcp/}")
fi
bl_prepare xensimd xensimctl sidecored sidecorectl netecho simnetfront

NS_D=nb$$d          # sidecored's namespace (its TAPs and scsw0)
NS_LIST=()
TAP_IF=""           # the tap scenarios' interface, sampled with the backend
HOST_PID=""
TCP_PIDS=()
HOST_MAC=02:00:00:00:00:fe

# shellcheck disable=SC2317  # the EXIT trap runs it
nb_cleanup() {
    local p ns
    nb_perf_stop
    for p in "${TCP_PIDS[@]}" $HOST_PID; do kill "$p" 2>/dev/null || true; done
    for p in "${TCP_PIDS[@]}" $HOST_PID; do wait "$p" 2>/dev/null || true; done
    exec 7>&-
    bl_cleanup
    for ns in "${NS_LIST[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap nb_cleanup EXIT

nb_ns_add() {
    ip netns add "$1" && NS_LIST+=("$1") && ip -n "$1" link set lo up &&
        ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
            net.ipv6.conf.default.disable_ipv6=1
}
nb_ns_add "$NS_D" || bl_die "cannot create the namespace $NS_D"

# A number with decimals: perl does the arithmetic.
calc() { perl -e "printf '%.3f', $1"; }

nb_mac() { printf '00:16:3e:01:%02x:%02x' $(($1 >> 8)) $(($1 & 255)); }

# nb_world_start N BRIDGE: xensimd in CELL_DIR's world and N guests, each
# with a vif (devid 0, MAC from its domid, bridge BRIDGE).  Exports
# XENSIM_DIR; sets SIM_PID, SIM, DOMIDS.
nb_world_start() {
    local n=$1 bridge=$2 i domid
    SIM=$WORK/sim-$CELL
    mkdir -p "$SIM" "$CELL_DIR"
    "$BIN/xensimd" --dir "$SIM" --dom0-mem 64 --exit-with-parent 3>"$SIM/ready" --ready-fd 3 \
        2>"$CELL_DIR/xensimd.log" &
    SIM_PID=$!
    bl_wait_file "$SIM/ready" ready 10 || { echo "netbench: xensimd did not start" >&2; return 1; }
    export XENSIM_DIR=$SIM
    DOMIDS=()
    for i in $(seq 1 "$n"); do
        domid=$("$BIN/xensimctl" create "guest$i" --mem 16) || return 1
        "$BIN/xensimctl" vif-attach "$domid" "mac=$(nb_mac "$domid")" "bridge=$bridge" \
            >/dev/null || return 1
        DOMIDS+=("$domid")
    done
}

# nb_backend_start BACKEND: the backend in NS_D on BE_TASKSET, ready.
nb_backend_start() {
    local cmd
    case $1 in
    sidecore) cmd=("$BIN/sidecored" --mode poll --cores "$CORES" --vif.max-queues 1) ;;
    event) cmd=("$BIN/sidecored" --mode event --vif.max-queues 1) ;;
    floor) cmd=("$BIN/netecho" --mode poll --cores "$CORES") ;;
    esac
    ip netns exec "$NS_D" nice -n "$BE_NICE" "${BE_TASKSET[@]}" "${cmd[@]}" --log-level warn \
        3>"$SIM/be-ready" --ready-fd 3 2>"$CELL_DIR/backend.log" &
    BE_PID=$!
    bl_wait_file "$SIM/be-ready" ready 10 || { echo "netbench: $1 did not start" >&2; return 1; }
}

# The FIFOs of the barrier: fd 6 the guests' signals ("c" connected, "d"
# done, "f" failed), fd 5 releases gens, fd 7 sinks (one byte each).
nb_fifos() {
    mkfifo "$SIM/ready.fifo" "$SIM/go.fifo" "$SIM/go2.fifo"
    exec 5<>"$SIM/go.fifo" 6<>"$SIM/ready.fifo" 7<>"$SIM/go2.fifo"
}

# nb_guest DOMID START_FD ARGS...: simnetfront for the guest, one queue,
# behind the barrier; its JSON into CELL_DIR/guest-DOMID.json.
nb_guest() {
    local d=$1 sfd=$2
    shift 2
    "${GUEST_TASKSET[@]}" "$BIN/simnetfront" --dir "$SIM" --domid "$d" --queues 1 \
        --timeout-ms 30000 --ready-fd 6 --start-fd "$sfd" --json --quiet "$@" \
        >"$CELL_DIR/guest-$d.json" 2>"$CELL_DIR/guest-$d.err" &
    GUEST_PIDS+=($!)
    LAST_GUEST_PID=$!
}

# nb_end_load: the window is over; SIGUSR1 ends the gens' sending, then
# (GEN_TO_SINK_S later) the switch sinks' (each lingers for what is still
# on its way).
# The cell loop empties both lists before each cell.
GEN_PIDS=()
SINK_PIDS=()
nb_end_load() {
    local p
    for p in "${GEN_PIDS[@]}"; do kill -USR1 "$p" 2>/dev/null || true; done
    if [ ${#SINK_PIDS[@]} -gt 0 ]; then
        sleep "$GEN_TO_SINK_S"
        for p in "${SINK_PIDS[@]}"; do kill -USR1 "$p" 2>/dev/null || true; done
    fi
}

# "on-CPU ns (all threads, schedstat) ticks (utime+stime)" of a process.
nb_cpu() {
    local ns=0 t a rest
    for t in /proc/"$1"/task/*/schedstat; do
        read -r a rest <"$t" 2>/dev/null && ns=$((ns + a))
    done
    echo "$ns $(bl_cpu_ticks "$1")"
}

# nb_sample PREFIX: the devices view (the counters) between two clock
# reads (PREFIX.t: both, ns), the backend's CPU and the TAP's counters
# right after, the core threads' CPU, the cores view.  The control calls run
# at the backend's nice level: on a busy machine a plain one can wait
# seconds for a CPU, and the window would stretch past the load.
nb_sample() {
    local p=$1 ta
    ta=$(bl_now_ns)
    nice -n "$BE_NICE" "$BIN/sidecorectl" devices --json >"$p.devices.json" 2>"$p.devices.err" || true
    echo "$ta $(bl_now_ns)" >"$p.t"
    nb_cpu "$BE_PID" >"$p.cpu"
    if [ -n "$TAP_IF" ]; then
        ip -n "$NS_D" -j -s link show dev "$TAP_IF" >"$p.link.json" 2>/dev/null || true
    fi
    bl_core_threads "$BE_PID" >"$p.threads" || true
    nice -n "$BE_NICE" "$BIN/sidecorectl" cores --json >"$p.cores.json" 2>"$p.cores.err" || true
}

# Waits for every guest's "d", then for the processes; FAILED counts the
# guests that exited non-zero.
nb_finish_guests() {
    local n=$1 p rc=0
    bl_read_signals "$n" d $((${SECONDS_PER_CELL%.*} + TAIL + 10)) || rc=1
    FAILED=0
    for p in "${GUEST_PIDS[@]}"; do wait "$p" || FAILED=$((FAILED + 1)); done
    GUEST_PIDS=()
    return $rc
}

# nb_meta SCENARIO SIZE N BACKEND ROUND KEY=VALUE...: the cell's meta.json.
nb_meta() {
    local scen=$1 size=$2 n=$3 backend=$4 round=$5 alive=1 kv extra=""
    shift 5
    if [ -n "$BE_PID" ] && ! kill -0 "$BE_PID" 2>/dev/null; then
        echo "netbench: $backend died (cell $CELL)" >&2
        alive=0
    fi
    for kv in "$@"; do extra="$extra,\"${kv%%=*}\":${kv#*=}"; done
    cat >"$CELL_DIR/meta.json" <<EOF
{"scenario":"$scen","size":$size,"guests":$n,"backend":"$backend","round":$round,"clk_tck":$CLK_TCK,"failed_guests":${FAILED:-0},"backend_alive":$alive$extra}
EOF
    [ "$alive" = 1 ]
}

# --profile: perf of the backend's core threads (benchlib's bl_perf_start)
# and, with --pin yes, of the guests' CPUs as a whole (everything running
# there, other jobs included), into PROFILE/CELL.guests.perf.data.
GPERF_PID=""
nb_perf_start() {
    [ -z "$BE_PID" ] || bl_perf_start all
    [ -n "$PROFILE" ] && [ "$PIN" = yes ] || return 0
    perf record -q -e cpu-clock -C "0-$((NCPU - 2))" -o "$PROFILE/$CELL.guests.perf.data" \
        2>"$CELL_DIR/perf-guests.log" &
    GPERF_PID=$!
}
nb_perf_stop() {
    bl_stop_perf
    [ -n "$GPERF_PID" ] || return 0
    kill -INT "$GPERF_PID" 2>/dev/null || true
    wait "$GPERF_PID" 2>/dev/null || true
    GPERF_PID=""
}

# The packets the backend has moved so far (tx + rx over every vif).
nb_moved() {
    nice -n "$BE_NICE" "$BIN/sidecorectl" devices --json 2>/dev/null | perl -MJSON::PP -e '
        local $/; my $j = eval { decode_json(<STDIN>) } || []; my $n = 0;
        for (@$j) { my $t = ref $_->{class} eq "HASH" ? $_->{class}{traffic} : undef;
                    $n += $t->{tx_packets} + $t->{rx_packets} if $t }
        print $n'
}

# The measurement window of a packet cell, --seconds long, once the load
# flows: from 0.2 s after the backend has moved more than the sinks'
# announcements (a gen counts its time from its own start, which a busy
# machine delays).  The gens run until nb_end_load.  perf (--profile)
# was started before the release: attaching takes half a second.
nb_window() {
    local floor=$1 i
    for i in $(seq 100); do
        [ "$(nb_moved)" -gt "$floor" ] && break
        sleep 0.05
    done
    sleep 0.2
    nb_sample "$CELL_DIR/s0"
    local t0
    read -r t0 _ <"$CELL_DIR/s0.t"
    sleep "$(perl -e 'my $l = $ARGV[0] - ($ARGV[1] - $ARGV[2]) / 1e9; printf "%.3f", $l > 0.1 ? $l : 0.1' \
        "$SECONDS_PER_CELL" "$(bl_now_ns)" "$t0")"
    nb_sample "$CELL_DIR/s1"
    nb_perf_stop
}

# ---- scenario: guest -> guest through the switch ----
cell_switch() {
    local n=$1 backend=$2 round=$3 size=$4 i g s rc=0 t0 connect_ms
    nb_world_start "$n" scsw0 || return 1
    nb_backend_start "$backend" || return 1
    nb_fifos
    : >"$CELL_DIR/roles"
    for ((i = 0; i < n; i += 2)); do
        g=${DOMIDS[i]} s=${DOMIDS[i + 1]}
        nb_guest "$s" 7 --mode gen --rate 2 --size 64 --dst-mac "$(nb_mac "$g")" \
            --seconds "$(calc "$SECONDS_PER_CELL + $TAIL + 1")" --linger-ms 200
        SINK_PIDS+=("$LAST_GUEST_PID")
        nb_guest "$g" 5 --mode gen --size "$size" --dst-mac "$(nb_mac "$s")" \
            --seconds "$(calc "$SECONDS_PER_CELL + $TAIL")" --linger-ms 200
        GEN_PIDS+=("$LAST_GUEST_PID")
        echo "$g gen $s" >>"$CELL_DIR/roles"
        echo "$s sink $g" >>"$CELL_DIR/roles"
    done
    t0=$(bl_now_ns)
    bl_wait_connected "$n" $((60 + n)) || rc=1
    connect_ms=$((($(bl_now_ns) - t0) / 1000000))
    nb_perf_start
    printf '%*s' $((n / 2)) '' >&7 # the sinks announce their MACs
    sleep 0.2
    bl_release $((n / 2))
    nb_window $((4 * n))
    nb_end_load
    nb_finish_guests "$GOT" || rc=1
    nb_meta switch "$size" "$n" "$backend" "$round" "connect_ms=$connect_ms" || rc=1
    return $rc
}

# ---- scenarios: guest -> host, host -> guest through a TAP ----
cell_tap() {
    local dir=$1 backend=$2 round=$3 size=$4 d rc=0 host=""
    nb_world_start 1 none || return 1
    d=${DOMIDS[0]}
    nb_backend_start "$backend" || return 1
    nb_fifos
    if [ "$dir" = tx ]; then
        nb_guest "$d" 5 --mode gen --size "$size" --dst-mac "$HOST_MAC" \
            --seconds "$(calc "$SECONDS_PER_CELL + $TAIL")" --linger-ms 200
        GEN_PIDS+=("$LAST_GUEST_PID")
    else
        nb_guest "$d" 5 --mode sink --seconds "$(calc "$SECONDS_PER_CELL + $RX_TAIL + 1")"
    fi
    bl_wait_connected 1 60 || rc=1
    if [ "$backend" != floor ]; then
        TAP_IF=vif$d.0
        ip -n "$NS_D" link set "$TAP_IF" up || rc=1
    fi
    if [ "$dir" = rx ] && [ -n "$TAP_IF" ]; then
        # the host starts first (Perl takes a while on a busy CPU): the sink
        # is released once frames flow
        ip netns exec "$NS_D" "${GUEST_TASKSET[@]}" perl "$WORK/hostsend.pl" "$TAP_IF" \
            "$(calc "$SECONDS_PER_CELL + $RX_TAIL + 0.5")" "$size" "$(nb_mac "$d")" 3>"$CELL_DIR/host.ready" \
            >"$CELL_DIR/host.out" 2>"$CELL_DIR/host.err" &
        HOST_PID=$!
        bl_wait_file "$CELL_DIR/host.ready" ready 10 || rc=1
    fi
    nb_perf_start
    bl_release 1
    nb_window 0
    nb_end_load
    if [ -n "$HOST_PID" ]; then
        wait "$HOST_PID" || rc=1
        HOST_PID=""
        host=$(awk '{print $1 / $3}' "$CELL_DIR/host.out")
    fi
    nb_finish_guests "$GOT" || rc=1
    TAP_IF=""
    nb_meta "tap-$dir" "$size" 1 "$backend" "$round" "host_sent_pps=${host:-null}" || rc=1
    return $rc
}

# The host's sender: a raw packet socket on the TAP, sendmmsg(2) of 64
# copies of one frame per call (Perl's own send would cost a syscall and
# an interpreter loop per frame, and measure Perl rather than the backend).
cat >"$WORK/hostsend.pl" <<'EOF'
use strict; use warnings; use Socket; use Time::HiRes qw(time);
my ($if, $secs, $size, $dst) = @ARGV;
my $ETH_P = 0x88b5;
socket(my $s, 17, SOCK_RAW, 0) or die "socket: $!\n";   # AF_PACKET
open(my $f, '<', "/sys/class/net/$if/ifindex") or die "$if: $!\n";
my $idx = <$f> + 0;
bind($s, pack('S n i S C C a8', 17, $ETH_P, $idx, 0, 0, 6, "")) or die "bind: $!\n";
if (open(my $r, '>&=', 3)) { print $r "ready\n"; close $r; }
my $frame = pack('H12', $dst =~ s/://gr) . pack('H12', '020000000001') . pack('n', $ETH_P)
    . ("\x5a" x ($size - 14));
my $B = 64;
my $iov = pack('QQ', unpack('Q', pack('p', $frame)), length $frame);
my $msg = pack('QLx4QQQQLx4Lx4', 0, 0, unpack('Q', pack('p', $iov)), 1, 0, 0, 0, 0);
my $vec = $msg x $B;              # struct mmsghdr[64]
my $SYS_sendmmsg = 307;           # x86_64
my ($sent, $fail) = (0, 0);
my $t0 = time;
my $end = $t0 + $secs;
while (time < $end) {
    for (1 .. 50) {
        my $r = syscall($SYS_sendmmsg, fileno($s), $vec, $B, 0);
        if ($r > 0) { $sent += $r } else { $fail++ }
    }
}
printf "%d %d %.3f\n", $sent, $fail, time - $t0;
EOF

# ---- scenario: TCP, guest -> guest through the switch vs a veth pair ----
TCP_NS1=nb$$g1
TCP_NS2=nb$$g2
TCP_V1=nb$$v1
TCP_V2=nb$$v2

nb_addr_up() { ip -n "$1" -o addr show 2>/dev/null | grep -q "inet $2/"; }
nb_wait() { # TIMEOUT_S CMD...
    local t=$1 i
    shift
    for i in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done
    return 1
}

# nb_iperf FROM_NS TO_NS TO_IP TASKSET...: iperf3 -c for TCP_SECONDS, with
# the backend sampled around it (when there is one); JSON in CELL_DIR/iperf.json.
nb_iperf() {
    local from=$1 to=$2 ip=$3 port=$((40000 + RANDOM % 20000)) spid rc=0
    shift 3
    ip netns exec "$to" "$@" iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
    spid=$!
    TCP_PIDS+=("$spid")
    sleep 0.3
    [ -z "$BE_PID" ] || nb_sample "$CELL_DIR/s0"
    nb_perf_start
    bl_now_ns >"$CELL_DIR/t0"
    ip netns exec "$from" "$@" timeout $((TCP_SECONDS + 20)) iperf3 -c "$ip" -p "$port" \
        -t "$TCP_SECONDS" -J >"$CELL_DIR/iperf.json" 2>"$CELL_DIR/iperf.err" || rc=1
    bl_now_ns >"$CELL_DIR/t1"
    nb_perf_stop
    [ -z "$BE_PID" ] || nb_sample "$CELL_DIR/s1"
    kill "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    TCP_PIDS=()
    return $rc
}

cell_tcp() {
    local backend=$1 round=$2 rc=0 p
    case $backend in
    veth|veth-cpu0)
        mkdir -p "$CELL_DIR"
        ip link add "${TCP_V1}a" netns "$TCP_V1" type veth peer name "${TCP_V2}b" \
            netns "$TCP_V2" || return 1
        ip -n "$TCP_V1" addr add 10.78.0.1/24 dev "${TCP_V1}a" &&
            ip -n "$TCP_V2" addr add 10.78.0.2/24 dev "${TCP_V2}b" &&
            ip -n "$TCP_V1" link set "${TCP_V1}a" up && ip -n "$TCP_V2" link set "${TCP_V2}b" up ||
            rc=1
        nb_wait 5 ip netns exec "$TCP_V1" ping -c 1 -W 1 10.78.0.2 >/dev/null || rc=1
        if [ "$backend" = veth ]; then
            nb_iperf "$TCP_V1" "$TCP_V2" 10.78.0.2 env || rc=1
        else
            nb_iperf "$TCP_V1" "$TCP_V2" 10.78.0.2 "${GUEST_TASKSET[@]}" || rc=1
        fi
        ip -n "$TCP_V1" link del "${TCP_V1}a" 2>/dev/null || true
        FAILED=0
        nb_meta tcp 0 2 "$backend" "$round" || rc=1
        return $rc
        ;;
    esac
    nb_world_start 2 scsw0 || return 1
    nb_backend_start "$backend" || return 1
    local i=0 d ns
    for d in "${DOMIDS[@]}"; do
        i=$((i + 1))
        ns=$TCP_NS1
        [ $i = 2 ] && ns=$TCP_NS2
        "${GUEST_TASKSET[@]}" "$BIN/simnetfront" --dir "$SIM" --domid "$d" --queues 1 \
            --timeout-ms 30000 --mode tap --netns "$ns" --ifname eth0 --addr "10.77.0.$i/24" \
            --json >"$CELL_DIR/guest-$d.json" 2>"$CELL_DIR/guest-$d.err" &
        GUEST_PIDS+=($!)
    done
    nb_wait 30 nb_addr_up "$TCP_NS1" 10.77.0.1 && nb_wait 30 nb_addr_up "$TCP_NS2" 10.77.0.2 ||
        { echo "netbench: the TCP guests' adapters did not come up" >&2; rc=1; }
    # ARP both ways, and the switch learns both MACs
    nb_wait 10 ip netns exec "$TCP_NS1" ping -c 1 -W 1 10.77.0.2 >/dev/null || rc=1
    [ $rc = 0 ] && { nb_iperf "$TCP_NS1" "$TCP_NS2" 10.77.0.2 "${GUEST_TASKSET[@]}" || rc=1; }
    for p in "${GUEST_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    FAILED=0
    for p in "${GUEST_PIDS[@]}"; do wait "$p" || FAILED=$((FAILED + 1)); done
    GUEST_PIDS=()
    nb_meta tcp 0 2 "$backend" "$round" || rc=1
    return $rc
}

# ---- the cells ----
NCELLS=0
declare -a CELLS=() # "scenario size guests backend round"
for scen in "${SCEN_LIST[@]}"; do
    [ -n "$scen" ] || continue
    case $scen in
    switch) sizes=("${SIZE_LIST[@]}"); counts=("${GUEST_LIST[@]}"); bes=("${BACKEND_LIST[@]}") ;;
    tap-tx) sizes=("${SIZE_LIST[@]}"); counts=(1); bes=("${BACKEND_LIST[@]}") ;;
    tap-rx) sizes=("${SIZE_LIST[@]}"); counts=(1); bes=()
        for b in "${BACKEND_LIST[@]}"; do [ "$b" = floor ] || bes+=("$b"); done ;;
    tcp) sizes=(0); counts=(2); bes=()
        for b in "${BACKEND_LIST[@]}"; do [ "$b" = floor ] || bes+=("$b"); done
        bes+=(veth veth-cpu0) ;;
    esac
    for size in "${sizes[@]}"; do
        for n in "${counts[@]}"; do
            for round in $(seq 1 "$ROUNDS"); do
                order=("${bes[@]}")
                if [ $((round % 2)) -eq 0 ]; then
                    order=()
                    for ((i = ${#bes[@]} - 1; i >= 0; i--)); do order+=("${bes[i]}"); done
                fi
                for b in "${order[@]}"; do CELLS+=("$scen $size $n $b $round"); done
            done
        done
    done
done
NCELLS=${#CELLS[@]}
[ "$NCELLS" -gt 0 ] || bl_die "no cell to run"
if [[ " ${SCEN_LIST[*]} " == *" tcp "* ]]; then
    for ns in "$TCP_NS1" "$TCP_NS2" "$TCP_V1" "$TCP_V2"; do
        nb_ns_add "$ns" || bl_die "cannot create the namespace $ns"
    done
fi

echo "netbench: {${SCEN_LIST[*]}} sizes $SIZES, guests $GUESTS, {$BACKENDS}, $ROUNDS round(s):" \
     "$NCELLS cells of ${SECONDS_PER_CELL} s (tcp ${TCP_SECONDS} s), $NCPU CPUs, pinned: $PIN" >&2
status=0
k=0
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for c in "${CELLS[@]}"; do
    read -r scen size n b round <<<"$c"
    k=$((k + 1))
    printf 'netbench: [%d/%d] %s, %s B, %d guest(s), %s, round %d\n' "$k" "$NCELLS" "$scen" \
        "$size" "$n" "$b" "$round" >&2
    CELL=$scen-s$size-n$n-$b-r$round
    CELL_DIR=$WORK/cells/$CELL
    mkdir -p "$CELL_DIR"
    GEN_PIDS=() SINK_PIDS=() # a cell that failed early leaves no pid to signal
    case $scen in
    switch) cell_switch "$n" "$b" "$round" "$size" || status=1 ;;
    tap-tx) cell_tap tx "$b" "$round" "$size" || status=1 ;;
    tap-rx) cell_tap rx "$b" "$round" "$size" || status=1 ;;
    tcp) cell_tcp "$b" "$round" || status=1 ;;
    esac
    nb_perf_stop
    exec 7>&-
    bl_stop_world
    TAP_IF=""
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
perl "$HERE/netbench-report.pl" --seconds "$SECONDS_PER_CELL" --tcp-seconds "$TCP_SECONDS" \
    --pin "$PIN" --nice "$BE_NICE" --load "$LOAD_START / $LOAD_END" --json "$JSON_OUT" \
    "$WORK/cells" || status=1
exit $status
