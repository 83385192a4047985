#!/bin/bash
# metrics_e2e_test.sh - sidecored's Prometheus endpoint, scraped with curl and
# parsed strictly (tests/tools/promcheck.pl, which first proves here that it
# rejects broken expositions):
#   - off by default: no listening socket, `status` says null;
#   - on 127.0.0.1 (port 0: the one it got is in `status`): two guests'
#     disks under load; every counter a queue, a core and a guest export is
#     there with labels naming the device, and the ones the load drives grow
#     between two scrapes (requests, bytes, latency histogram, busy time,
#     rounds); HEAD, 404 and 405;
#   - an address in use: a second daemon refuses to start, saying so;
#   - a bad setting: refused before anything starts;
#   - on a Unix socket (curl --unix-socket), sidecored in a network
#     namespace of its own with two vifs on its switch sending to each other:
#     the vif counters by domid and devid, growing.
set -u
cd "$(dirname "$0")/../.."
. tests/tools/blk_e2e_lib.sh

PROMCHECK=tests/tools/promcheck.pl
SCRAPE_N=0

# scrape URL [curl options]: the exposition into $SIMDIR/scrape-N.txt
# (N counts up; $SCRAPE the file's path); fails unless HTTP 200.
scrape() {
    local url=$1; shift
    SCRAPE_N=$((SCRAPE_N + 1))
    SCRAPE="$SIMDIR/scrape-$SCRAPE_N.txt"
    curl -sS --fail --max-time 5 "$@" -o "$SCRAPE" "$url"
}

# mget FILE NAME [LABEL=VALUE...]: the sum of the matching samples (0 if none).
mget() { "$PROMCHECK" --get "$@" 2>/dev/null || echo 0; }
mcount() { "$PROMCHECK" --count "$@" 2>/dev/null || echo 0; }
valid() {
    local f
    for f in "$@"; do "$PROMCHECK" "$f" || return 1; done
}

# grew NAME LABELS...: the metric is larger in $S2 than in $S1.
grew() {
    local a b
    a=$(mget "$S1" "$@") b=$(mget "$S2" "$@")
    perl -e 'exit !($ARGV[1] > $ARGV[0] && $ARGV[0] >= 0)' "$a" "$b" ||
        { echo "# $1 $2: $a -> $b"; return 1; }
}
positive() { perl -e 'exit !($ARGV[0] > 0)' "$(mget "$@")"; }
status_metrics() { ctl status --json | jget '$j->{metrics} // "null"'; }

# listens PID: the process has a listening TCP socket.
listens() { ss -ltnpH 2>/dev/null | grep -q "pid=$1,"; }

# ---- the parser itself must be strict ----
simworld_start
bad_case() {
    printf '%b' "$2" >"$SIMDIR/bad.txt"
    fails "promcheck rejects $1" "$PROMCHECK" "$SIMDIR/bad.txt"
}
GOOD='# HELP x_total x\n# TYPE x_total counter\nx_total{a="1"} 3\n'
printf '%b' "$GOOD" >"$SIMDIR/good.txt"
ok "promcheck accepts a valid exposition" "$PROMCHECK" "$SIMDIR/good.txt"
bad_case "a sample before its TYPE" 'x_total 1\n# HELP x_total x\n# TYPE x_total counter\n'
bad_case "a series twice" "$GOOD"'x_total{a="1"} 4\n'
bad_case "a family split by another" "$GOOD"'# HELP y y\n# TYPE y gauge\ny 1\nx_total{a="2"} 1\n'
bad_case "a bad label escape" '# HELP y y\n# TYPE y gauge\ny{a="\\q"} 1\n'
bad_case "a counter without _total" '# HELP y y\n# TYPE y counter\ny 1\n'
H='# HELP h h\n# TYPE h histogram\n'
bad_case "non-cumulative buckets" "$H"'h_bucket{le="1"} 5\nh_bucket{le="2"} 4\nh_bucket{le="+Inf"} 5\nh_sum 1\nh_count 5\n'
bad_case "+Inf != _count" "$H"'h_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'
bad_case "a histogram without +Inf" "$H"'h_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'
bad_case "a value that is no number" '# HELP y y\n# TYPE y gauge\ny 1x\n'

# ---- two guests with a disk each ----
G1=$(guest_new m1) && G2=$(guest_new m2) || { echo "Bail out! guests"; exit 1; }
# one disk a file (io_uring: latencies), one the null store (answered at once)
D1=$(disk_attach "$G1" "$(disk_file_mem 256M)") && D2=$(disk_attach "$G2" null:256M) ||
    { echo "Bail out! disks"; exit 1; }

# ---- off by default ----
ok "sidecored starts without --metrics" sc_start --cores 2
is "status: no metrics endpoint" "$(status_metrics)" null
fails "... and no listening TCP socket" listens "$SC_PID"
ok "sidecored stops" sc_stop

# ---- a bad setting ----
out=$("$SIDECORED" --metrics 10.0.0.1:http 2>&1)
is "a bad --metrics is a usage error" "$?" 2
ok "... that says what is accepted" grep -q "metrics: '10.0.0.1:http' is not off, PORT" <<<"$out"

# ---- on loopback, two disks under load ----
ok "sidecored starts with --metrics 127.0.0.1:0" sc_start --cores 2 --metrics 127.0.0.1:0
W=$(status_metrics)
ok "status: where it listens ($W)" grep -Eq '^127\.0\.0\.1:[0-9]+$' <<<"$W"
ok "it logged the address" grep -q "metrics at http://$W/metrics" "$SIMDIR/sidecored.log"
URL="http://$W/metrics"
ok "a scrape before any guest" scrape "$URL"
ok "... parses" "$PROMCHECK" "$SCRAPE"
is "... up, with its version" "$(mget "$SCRAPE" sidecore_build_info platform=xensim mode=poll)" 1
is "... two sidecores" "$(mcount "$SCRAPE" sidecore_core_rounds_total)" 2

# Counters must grow between two scrapes made under load, after steps a
# loaded sanitizer build does not bound: the runs end by SIGUSR1 after the
# second scrape, not after 6 s.
front_bg "$SIMDIR/f1.json" "$G1" "$D1" --workload rand --rw mix:50 --bs 4k --qd 8 --seconds 120
F1=$FRONT_PID
front_bg "$SIMDIR/f2.json" "$G2" "$D2" --workload seq --rw read --bs 64k --qd 4 --seconds 120
F2=$FRONT_PID
has_requests() { scrape "$URL" && positive "$SCRAPE" sidecore_queue_requests_total "domid=$1"; }
ok "guest $G1's queue appears with requests" wait_for 10 has_requests "$G1"
ok "guest $G2's queue appears with requests" wait_for 10 has_requests "$G2"
scrape "$URL"
S1=$SCRAPE
sleep 1.5
scrape "$URL"
S2=$SCRAPE
kill -USR1 "$F1" "$F2"
ok "both scrapes parse strictly" valid "$S1" "$S2"
for g in "$G1" "$G2"; do
    d=$([ "$g" = "$G1" ] && echo "$D1" || echo "$D2")
    q=(type=vbd "domid=$g" "devid=$d" queue=0)
    is "vbd $g/$d q0: one latency histogram" \
        "$(mcount "$S2" sidecore_queue_latency_seconds_count "${q[@]}")" 1
    for m in requests_total bytes_total busy_seconds_total busy_polls_total \
             latency_seconds_count; do
        ok "vbd $g/$d q0: sidecore_queue_$m grows" grew "sidecore_queue_$m" "${q[@]}"
    done
    for m in errors_total kicks_total notifies_total empty_polls_total failed load_ratio \
             mem_reserved_bytes; do
        is "vbd $g/$d q0: sidecore_queue_$m is exported" \
            "$(mcount "$S2" "sidecore_queue_$m" "${q[@]}")" 1
    done
    is "vbd $g/$d q0: no errors" "$(mget "$S2" sidecore_queue_errors_total "${q[@]}")" 0
    is "vbd $g/$d q0: its sidecore named in sidecore_queue_info" \
        "$(mcount "$S2" sidecore_queue_info "${q[@]}")" 1
    ok "guest $g: sidecore_guest_requests_total grows" \
        grew sidecore_guest_requests_total type=vbd "domid=$g"
    ok "guest $g: sidecore_guest_bytes_total grows" \
        grew sidecore_guest_bytes_total type=vbd "domid=$g"
    is "guest $g: its weight" "$(mget "$S2" sidecore_guest_weight type=vbd "domid=$g")" 100
done
ok "vbd $G1/$D1 q0 (a file): sidecore_queue_latency_seconds_sum grows" \
    grew sidecore_queue_latency_seconds_sum type=vbd "domid=$G1"
ok "the sidecores' io_uring submissions grow" grew sidecore_core_io_submitted_total
is "the latency +Inf bucket of guest $G1" \
    "$(mget "$S2" sidecore_queue_latency_seconds_bucket type=vbd "domid=$G1" le=+Inf)" \
    "$(mget "$S2" sidecore_queue_latency_seconds_count type=vbd "domid=$G1")"
ok "the sidecores' rounds grow" grew sidecore_core_rounds_total
ok "the sidecores' busy time grows" grew sidecore_core_busy_seconds_total
for m in idle_seconds_total sleep_seconds_total wakeups_total sleeps_total kicks_total turn_shift; do
    is "sidecore_core_$m for both sidecores" "$(mcount "$S2" "sidecore_core_$m")" 2
done
is "the sidecores hold the queues exported" "$(mget "$S2" sidecore_core_queues)" \
    "$(mcount "$S2" sidecore_queue_requests_total)"
out=$(curl -sS -I --max-time 5 "$URL")
ok "HEAD answers 200 with the exposition's content type" \
    grep -qi '^content-type: text/plain; version=0.0.4' <<<"$out"
is "another path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://$W/")" 404
is "POST is 405" "$(curl -s -o /dev/null -w '%{http_code}' -d x "$URL")" 405

# ---- the address in use ----
"$SIDECORED" --ctl "$SIMDIR/second.sock" --metrics "$W" >"$SIMDIR/second.log" 2>&1
is "a second daemon on the same address exits 1" "$?" 1
ok "... saying the address is in use and what to do" \
    grep -q "metrics: cannot listen on $W: Address already in use (another process listens there: stop it, or give --metrics another address or port)" \
    "$SIMDIR/second.log"
ok "... before touching xenstore (the first still serves)" scrape "$URL"

front_wait "$F1"
ok "guest $G1's load ran clean" report_ok "$SIMDIR/f1.json"
front_wait "$F2"
ok "guest $G2's load ran clean" report_ok "$SIMDIR/f2.json"
ok "sidecored stops" sc_stop
ok "no sanitizer report" sc_log_clean

# ---- a Unix socket; vifs (sidecored in a network namespace of its own) ----
NS_RUN=(unshare -n)
[ "$(id -u)" = 0 ] || NS_RUN=(unshare -rn)
if ! "${NS_RUN[@]}" true 2>/dev/null || [ ! -w /dev/net/tun ]; then
    TAP_N=$((TAP_N + 1))
    echo "ok $TAP_N # SKIP vifs need a network namespace and /dev/net/tun"
    done_testing
    exit
fi
SIMNETFRONT="$SC_BUILD/bin/simnetfront"
MAC1=00:16:3e:00:0b:01
MAC2=00:16:3e:00:0b:02
"$XENSIMCTL" vif-attach "$G1" mac=$MAC1 bridge=scsw0 >/dev/null &&
    "$XENSIMCTL" vif-attach "$G2" mac=$MAC2 bridge=scsw0 >/dev/null ||
    { echo "Bail out! vif-attach"; exit 1; }
SOCK="$SIMDIR/metrics.sock"
SC_LAUNCH=("${NS_RUN[@]}")
ok "sidecored starts with --metrics unix:PATH" sc_start --cores 1 --metrics "unix:$SOCK"
SC_LAUNCH=()
is "status: the socket" "$(status_metrics)" "unix:$SOCK"
ok "the socket file is there" test -S "$SOCK"
ok "it logged the socket" grep -q "metrics at /metrics on the socket $SOCK" "$SIMDIR/sidecored.log"
for pair in "$G1 $MAC2" "$G2 $MAC1"; do
    set -- $pair
    "$SIMNETFRONT" --dir "$SIMDIR" --domid "$1" --mode gen --dst-mac "$2" --size 1000 \
        --rate 2000 --seconds 60 --queues 1 --json >"$SIMDIR/gen-$1.json" \
        2>"$SIMDIR/gen-$1.err" &
    FRONT_PIDS="$FRONT_PIDS $!"
done
UURL=http://localhost/metrics
vif_sending() {
    scrape "$UURL" --unix-socket "$SOCK" &&
        [ "$(mget "$SCRAPE" sidecore_vif_tx_packets_total type=vif "domid=$1" devid=0)" -gt 200 ]
}
ok "guest $G1's vif counts frames it sent" wait_for 15 vif_sending "$G1"
ok "guest $G2's vif counts frames it sent" wait_for 15 vif_sending "$G2"
scrape "$UURL" --unix-socket "$SOCK"
S1=$SCRAPE
sleep 1
scrape "$UURL" --unix-socket "$SOCK"
S2=$SCRAPE
ok "both scrapes parse strictly" valid "$S1" "$S2"
for g in "$G1" "$G2"; do
    v=(type=vif "domid=$g" devid=0 queue=0)
    for m in vif_tx_packets_total vif_tx_bytes_total vif_rx_packets_total \
             vif_rx_bytes_total queue_requests_total; do
        ok "vif $g/0 q0: sidecore_$m grows" grew "sidecore_$m" "${v[@]}"
    done
    is "vif $g/0 q0: a latency histogram" \
        "$(mcount "$S2" sidecore_queue_latency_seconds_count "${v[@]}")" 1
    ok "guest $g's vif row: sidecore_guest_requests_total grows" \
        grew sidecore_guest_requests_total type=vif "domid=$g"
done
is "only the vifs have queues now" "$(mcount "$S2" sidecore_queue_requests_total type=vbd)" 0
ok "sidecored stops" sc_stop
ok "the socket file is removed" test ! -e "$SOCK"
ok "no sanitizer report" sc_log_clean
fails "libmicrohttpd had nothing to complain about" grep -q "warning: metrics:" "$SIMDIR/sidecored.log"
done_testing
