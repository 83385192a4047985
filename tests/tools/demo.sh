#!/bin/bash
# make demo: sidecored serving the disks of 8 simulated guests.
#
# Starts a private xensim world, sidecored (poll mode, one sidecore, pinned
# with its whole process to the last CPU when there are two or more, the
# guests on the others), and 8 guests each with a disk: guests 1-4 a
# null:1G disk (random reads), guests 5-8 a 64 MiB temp file with data
# verification (random 50/50 reads and writes; every read checked).  Each
# guest gets a fair-share weight (sidecorectl set-tenant): 100, 100, 200,
# 400 for the null disks and the same for the files; guest 2 is also capped
# at 20,000 IOPS (lim_iops), which holds whether or not the sidecore is the
# bottleneck.  The guests run for
# DEMO_SECONDS (20) while sidecorectl shows the guests and the sidecore
# live; then a summary: per guest IOPS, share against weight share,
# latency, verification, kicks per request and notifies per response, and
# how busy the sidecore was.  Weights decide shares only when the sidecore
# is the bottleneck (busy near 100%); otherwise every guest gets what it
# asks.  Cleans up everything on exit.
set -euo pipefail

SC_BUILD=${SC_BUILD:-$(pwd)/build}
BIN=$SC_BUILD/bin
SECS=${DEMO_SECONDS:-20}
WEIGHTS=(100 100 200 400 100 100 200 400)
LIMITS=("" lim_iops=20000 "" "" "" "" "" "")
NCPU=$(nproc)

for p in xensimd xensimctl sidecored sidecorectl simblkfront; do
    [ -x "$BIN/$p" ] || { echo "blk-demo: $BIN/$p missing: run make first" >&2; exit 2; }
done
command -v perl >/dev/null || { echo "blk-demo: perl is needed for the summary" >&2; exit 2; }

DIR=$(mktemp -d "${TMPDIR:-/tmp}/blk-demo.XXXXXX")
SIM_PID=""
SC_PID=""
GUEST_PIDS=()
cleanup() {
    local p
    for p in "${GUEST_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${GUEST_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
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
    echo "blk-demo: $2 did not start" >&2
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

echo "== sidecored --mode poll --cores 1${BE_PIN:+ (pinned to CPU $((NCPU - 1)))}"
"${BE_PIN[@]}" "$BIN/sidecored" --mode poll --cores 1 --log-level warn \
    3>"$DIR/sc-ready" --ready-fd 3 2>"$DIR/sidecored.log" &
SC_PID=$!
wait_ready "$DIR/sc-ready" sidecored
for i in $(seq 0 7); do
    "$BIN/sidecorectl" set-tenant "${DOMIDS[i]}" "weight=${WEIGHTS[i]}" ${LIMITS[i]} >/dev/null
done
echo "== guest ${DOMIDS[1]}: limited to 20000 IOPS"

echo "== guests start: ${SECS} s of I/O"
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

# The live view, bounded by the run: guests and the sidecore every 4 s.
sleep 2
end=$(($(date +%s) + SECS - 4))
while [ "$(date +%s)" -lt "$end" ]; do
    echo
    echo "-- $(date +%T)  sidecorectl guests"
    "$BIN/sidecorectl" guests || true
    echo "-- sidecorectl cores"
    "$BIN/sidecorectl" cores || true
    sleep 4
done
"$BIN/sidecorectl" cores --json >"$DIR/cores.json" 2>/dev/null || echo '[]' >"$DIR/cores.json"
"$BIN/sidecorectl" guests --json >"$DIR/sc-guests.json" 2>/dev/null || echo '[]' >"$DIR/sc-guests.json"

failed=0
for p in "${GUEST_PIDS[@]}"; do wait "$p" || failed=$((failed + 1)); done
GUEST_PIDS=()

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
if [ -s "$DIR/sidecored.log" ]; then
    echo "sidecored log:"
    sed 's/^/  /' "$DIR/sidecored.log" | tail -5
fi
for f in "$DIR"/guest-*.err; do
    [ -s "$f" ] && { echo "$(basename "$f" .err):"; sed 's/^/  /' "$f" | head -5; }
done
[ "$failed" -eq 0 ] || { echo "blk-demo: $failed guest(s) failed" >&2; exit 1; }
echo "demo done"
