# net_e2e_lib.sh - sourced by the network end-to-end tests (it sources
# blk_e2e_lib.sh, and so simworld.sh: sc_stop, ctl, guest_new): sidecored in
# a network namespace of its own (its TAP interfaces and switch live there),
# guests whose network stacks are namespaces behind simnetfront's TAP
# adapter, and a "host" namespace reached through a Linux bridge.
#
#   net_world_start               net_require, simworld_start, net_setup (bails out)
#   net_require                   skip the whole test unless root with ip netns
#   net_setup                     namespaces $NS_D (daemon) and $NS_H (host),
#                                 bridge br0 in $NS_D, veth br0 <-> $NS_H 10.9.1.254
#   net_sc_start ARGS...          sidecored in $NS_D (control socket $SIMDIR/ctl.sock)
#   vif_add G MAC BRIDGE [k=v..]  xensimctl vif-attach (devid 0 first)
#   guest_net G NS ADDR [opts]    the guest's adapter: its stack is namespace NS
#   guest_net_stop G              SIGTERM it; its JSON report is in $SIMDIR/tap-G.json
#   in_ns NS CMD...               run CMD in namespace NS
#   xfer_ok FROM_NS TO_NS TO_IP BYTES   a verified TCP transfer (sha256 both ends)
#
# Cleanup (EXIT) kills the adapters, stops sidecored, deletes the namespaces.

. "$(dirname "${BASH_SOURCE[0]}")/blk_e2e_lib.sh"

SIMNETFRONT="$SC_BUILD/bin/simnetfront"
NET_TAG="sc$$"
NS_D="${NET_TAG}d"
NS_H="${NET_TAG}h"
NET_NS_LIST=""
NET_PIDS=""

net_cleanup() {
    local p ns pids=""
    for p in $NET_PIDS; do pids="$pids ${p#*:}"; done
    # shellcheck disable=SC2086 # a list of pids
    stop_pids $pids
    NET_PIDS=""
    sc_stop
    for ns in $NET_NS_LIST; do ip netns del "$ns" 2>/dev/null; done
    NET_NS_LIST=""
    return 0
}
SIM_CLEANUP_HOOKS="$SIM_CLEANUP_HOOKS net_cleanup"

# The start every network test shares: skip without root and namespaces,
# a private xensim world, the daemon's and the host's namespaces.
net_world_start() {
    net_require
    simworld_start
    net_setup || { echo "Bail out! network namespaces"; exit 1; }
}

net_require() {
    if [ "$(id -u)" != 0 ] || ! ip netns add "${NET_TAG}probe" 2>/dev/null; then
        echo "1..0 # SKIP needs root and network namespaces"
        exit 0
    fi
    ip netns del "${NET_TAG}probe"
    command -v iperf3 >/dev/null || { echo "1..0 # SKIP iperf3 missing"; exit 0; }
}

in_ns() {
    local ns=$1; shift
    ip netns exec "$ns" "$@"
}

ns_add() {
    ip netns add "$1" && NET_NS_LIST="$NET_NS_LIST $1" && in_ns "$1" ip link set lo up
}

net_setup() {
    ns_add "$NS_D" && ns_add "$NS_H" || return 1
    in_ns "$NS_D" ip link add br0 type bridge &&
        in_ns "$NS_D" ip link set br0 up &&
        ip link add "${NET_TAG}v0" netns "$NS_D" type veth peer name "${NET_TAG}v1" netns "$NS_H" &&
        in_ns "$NS_D" ip link set "${NET_TAG}v0" master br0 up &&
        in_ns "$NS_H" ip addr add 10.9.1.254/24 dev "${NET_TAG}v1" &&
        in_ns "$NS_H" ip link set "${NET_TAG}v1" up
}

# sidecored inside $NS_D (`ip netns exec` execs it: $! is the daemon).
net_sc_start() {
    SC_LAUNCH=(ip netns exec "$NS_D")
    sc_start --ctl "$SIMDIR/ctl.sock" "$@"
}

vif_add() {
    local g=$1 mac=$2 bridge=$3; shift 3
    "$XENSIMCTL" vif-attach "$g" "mac=$mac" "bridge=$bridge" "$@" >/dev/null
}

vif_be() { echo "/local/domain/0/backend/vif/$1/${2:-0}"; }
vif_state_is() { [ "$(xs0 xenstore-read "$(vif_be "$1" "${3:-0}")/state" 2>/dev/null)" = "$2" ]; }

# The guest's adapter; returns once its address is up and the vif Connected.
guest_net() {
    local g=$1 ns=$2 addr=$3; shift 3
    "$SIMNETFRONT" --dir "$SIMDIR" --domid "$g" --devid 0 --mode tap --netns "$ns" \
        --ifname eth0 --addr "$addr" --json "$@" >"$SIMDIR/tap-$g.json" 2>"$SIMDIR/tap-$g.err" &
    NET_PIDS="$NET_PIDS $g:$!"
    wait_for 15 vif_state_is "$g" 4 && wait_for 10 guest_addr_up "$ns" "${addr%/*}"
}

guest_addr_up() { in_ns "$1" ip -o addr show dev eth0 2>/dev/null | grep -q "inet $2/"; }

guest_net_stop() {
    local g=$1 p keep=""
    for p in $NET_PIDS; do
        if [ "${p%%:*}" = "$g" ]; then
            kill -TERM "${p#*:}" 2>/dev/null
            wait "${p#*:}" 2>/dev/null
        else
            keep="$keep $p"
        fi
    done
    NET_PIDS=$keep
}

# A field of a stopped adapter's JSON report.
tap_field() { jget '$j->{'"$2"'}' <"$SIMDIR/tap-$1.json"; }

# A verified TCP transfer: BYTES random bytes from FROM_NS to TO_IP in TO_NS.
xfer_ok() {
    local from=$1 to=$2 ip=$3 bytes=$4 port=$((20000 + RANDOM % 20000))
    local f="$SIMDIR/xfer.$port"
    head -c "$bytes" /dev/urandom >"$f" || return 1
    local want
    want="$bytes $(sha256sum <"$f" | cut -d' ' -f1)"
    in_ns "$to" perl tests/tools/tcpxfer.pl recv "$port" >"$f.got" 2>"$f.err" &
    local rpid=$!
    sleep 0.2
    in_ns "$from" perl tests/tools/tcpxfer.pl send "$ip" "$port" "$f" 2>>"$f.err"
    local s=$?
    wait "$rpid"
    local r=$?
    local got
    got=$(cat "$f.got")
    rm -f "$f"
    [ "$s" = 0 ] && [ "$r" = 0 ] && [ "$got" = "$want" ] && return 0
    echo "# transfer $from -> $ip: sent $s, received $r: got '$got', want '$want'"
    sed 's/^/# /' "$f.err"
    return 1
}

# iperf3 from FROM_NS to a server in TO_NS at TO_IP; extra client args after.
iperf_ok() {
    local from=$1 to=$2 ip=$3; shift 3
    local port=$((40000 + RANDOM % 20000)) out="$SIMDIR/iperf.$RANDOM"
    in_ns "$to" iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
    local spid=$!
    sleep 0.3
    in_ns "$from" timeout 30 iperf3 -c "$ip" -p "$port" -J "$@" >"$out" 2>&1
    local rc=$?
    kill "$spid" 2>/dev/null
    wait "$spid" 2>/dev/null
    if [ "$rc" != 0 ]; then
        echo "# iperf3 $from -> $ip $*: exit $rc"
        head -c 600 "$out" | sed 's/^/# /'
        return 1
    fi
    IPERF_JSON=$out
}

# ---- simulated guests without a network stack (gen/sink/echo/hostile) ----
#
#   nf_bg NAME G ARGS...        simnetfront --domid G ARGS in the background,
#                               JSON report in $SIMDIR/NAME.json; sets NF_PID
#   nf_wait PID                 its exit code
#   nf_run NAME G ARGS...       the same in the foreground (exit code kept)
#   nf_field NAME EXPR          e.g. nf_field g1 '$j->{lost}'
#   hostile_run NAME G ATTACK [ARGS]   simnetfront --mode hostile --attack
#   net_ctl ARGS...             sidecorectl on this daemon's socket
#   vif_field G FIELD [DEVID]   a field of vif G/DEVID in `devices --json`
#   vif_traffic G KEY [DEVID]   its class.traffic counter KEY (0 if none)
#   vif_err G [DEVID]           the error node's value (status 1 if none)
#   vif_failed G [DEVID]        the backend Closing or Closed
#   vif_mac G                   the MAC the toolstack gave vif G/0
#   nf_ready FILE               a --ready-fd file says 'c' (connected)

nf_bg() {
    local name=$1 g=$2; shift 2
    "$SIMNETFRONT" --dir "$SIMDIR" --domid "$g" --json "$@" \
        >"$SIMDIR/$name.json" 2>"$SIMDIR/$name.err" &
    NF_PID=$!
    NET_PIDS="$NET_PIDS $name:$NF_PID"
}

nf_wait() {
    local pid=$1 p keep="" status
    wait "$pid"
    status=$?
    for p in $NET_PIDS; do [ "${p#*:}" = "$pid" ] || keep="$keep $p"; done
    NET_PIDS=$keep
    return "$status"
}

nf_run() {
    local name=$1 g=$2; shift 2
    "$SIMNETFRONT" --dir "$SIMDIR" --domid "$g" --json "$@" \
        >"$SIMDIR/$name.json" 2>"$SIMDIR/$name.err"
}

nf_field() { jget "$2" <"$SIMDIR/$1.json" 2>/dev/null; }

hostile_run() {
    local name=$1 g=$2 attack=$3; shift 3
    nf_run "$name" "$g" --mode hostile --attack "$attack" --timeout-ms 5000 "$@"
}

net_ctl() { "$SIDECORECTL" --socket "$SIMDIR/ctl.sock" "$@"; }

vif_field() {
    net_ctl devices --json 2>/dev/null |
        jget '(grep { $_->{name} eq "vif '"$1/${3:-0}"'" } @$j)[0]{'"$2"'}'
}

vif_traffic() {
    local v
    v=$(net_ctl devices --json 2>/dev/null |
        jget '(grep { $_->{name} eq "vif '"$1/${3:-0}"'" } @$j)[0]{class}{traffic}{'"$2"'}')
    echo "${v:-0}"
}

vif_err() { xs0 xenstore-read "/local/domain/0/error/backend/vif/$1/${2:-0}/error" 2>/dev/null; }

vif_failed() {
    local s
    s=$(xs0 xenstore-read "$(vif_be "$1" "${2:-0}")/state" 2>/dev/null)
    [ "$s" = 5 ] || [ "$s" = 6 ]
}

vif_mac() { xs0 xenstore-read "$(vif_be "$1" "${2:-0}")/mac" 2>/dev/null; }

nf_ready() { grep -q c "$1" 2>/dev/null; }

# ---- lifecycle helpers ----
#
#   guest_tap_bg G NS ADDR [opts]  the TAP adapter in the background, not
#                                  waiting for the vif (guest_net_stop stops it)
#   hotplug_online G [DEVID]       tools/hotplug/vif-sidecore online, as the
#                                  driver domain runs it (in $NS_D)
#   net_sc_kill                    SIGKILL sidecored (no cleanup of its own)
#   in_bridge IF BR                interface IF of $NS_D is a port of BR

guest_tap_bg() {
    local g=$1 ns=$2 addr=$3; shift 3
    "$SIMNETFRONT" --dir "$SIMDIR" --domid "$g" --devid 0 --mode tap --netns "$ns" \
        --ifname eth0 --addr "$addr" --json "$@" >"$SIMDIR/tap-$g.json" 2>"$SIMDIR/tap-$g.err" &
    NET_PIDS="$NET_PIDS $g:$!"
}

hotplug_online() {
    ip netns exec "$NS_D" env XENBUS_PATH="$(vif_be "$1" "${2:-0}")" \
        XENSTORED_PATH="$SIMDIR/xs-0.sock" tools/hotplug/vif-sidecore online \
        >>"$SIMDIR/hotplug.log" 2>&1
}

net_sc_kill() {
    [ -n "$SC_PID" ] || return 0
    kill -KILL "$SC_PID" 2>/dev/null
    wait "$SC_PID" 2>/dev/null
    SC_PID=""
}

in_bridge() { in_ns "$NS_D" ip -o link show "$1" 2>/dev/null | grep -q "master $2"; }

# net_rpc METHOD [PARAMS-JSON]: one call on the control socket (JSON-RPC
# 2.0, a line each way); prints the result as JSON, fails on an error.
net_rpc() {
    RPC_METHOD=$1 RPC_PARAMS=${2:-} perl -MIO::Socket::UNIX -MJSON::PP -e '
        my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
        my %req = (jsonrpc => "2.0", id => 1, method => $ENV{RPC_METHOD});
        $req{params} = decode_json($ENV{RPC_PARAMS}) if length $ENV{RPC_PARAMS};
        print $s encode_json(\%req), "\n";
        my $line = <$s> // die "no answer\n";
        my $r = decode_json($line);
        die "$r->{error}{message}\n" if $r->{error};
        print JSON::PP->new->canonical->encode($r->{result}), "\n";
    ' "$SIMDIR/ctl.sock"
}
