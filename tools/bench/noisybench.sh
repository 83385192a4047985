#!/bin/bash
# noisybench - a noisy neighbour (make bench; issue 12, item 6): 7 quiet
# guests at queue depth 1 (4 KiB random reads) on one sidecore, alone
# ("solo"), then beside one noisy guest at depth 256 with large reads
# ("noisy": 44 KiB, the most a direct request carries, which is what
# blkguest sends).  The goal: the quiet guests' p99 latency rises by less
# than 2x.  Null disks: the sidecore's work is the guests' grants (the null
# store zero-fills each read's pages, through a persistent mapping or a
# grant copy) and a persistent-grant miss's map.
#
#   tools/bench/noisybench.sh [--seconds 5] [--quiet 7] [--noisy-qd 256]
#       [--noisy-bs 44k] [--noisy-sched idle] [--max-persistent 1056,4096]
#       [--rounds 1] [--json FILE] [--keep DIR]
#
# --noisy-sched idle (the default) runs the noisy guest's process
# SCHED_IDLE (chrt --idle) on the guests' CPU: at depth 256 it never
# sleeps, and under the normal policy the quiet guests' processes would
# wait for it on that CPU (milliseconds: CFS's slices), which on Xen they
# would not (each guest has vCPUs of its own).  So what rises is what the
# backend adds; `normal` shows the two together.
#
# --max-persistent: sidecored's vbd.max-persistent (persistent grants per
# queue), one configuration each: 1056 (the default) is smaller than what
# the noisy guest keeps in flight (256 x 11 pages), so its segments miss
# the cache (a map, or a grant copy when every entry is in use; either way
# charged to it as a map); 4096 holds them all, so it stops missing once
# warm.  The sidecore runs on the last CPU, the guests on the others.  Each
# cell is a fresh world; per round and configuration the solo and noisy
# cells run back to back (in reverse order on even rounds).  Reported per
# round: the quiet guests' p99 (the median of the quiet guests' p99s) solo and
# beside the noise, their ratio, the worst quiet guest's p99 in both and
# its ratio, the noisy guest's IOPS and MB/s, and the noisy queue's mean
# visit (the sidecore's time in its visits and flushes per visit that
# consumed requests: how long the quiet guests may wait behind it) and
# requests per visit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/benchlib.sh

SECONDS_RUN=5 QUIET=7 NOISY_QD=256 NOISY_BS=44k NOISY_SCHED=idle MAXP=1056,4096 ROUNDS=1 JSON=""
bl_parse_opts --seconds=SECONDS_RUN --quiet=QUIET --noisy-qd=NOISY_QD --noisy-bs=NOISY_BS \
    --noisy-sched=NOISY_SCHED --max-persistent=MAXP --rounds=ROUNDS --json=JSON --keep=KEEP -- "$@"
case $NOISY_SCHED in idle|normal) ;; *) bl_die "--noisy-sched: idle or normal" ;; esac
[[ $QUIET =~ ^[1-9][0-9]*$ && $QUIET -le 100 ]] || bl_die "--quiet: 1..100"
[[ $MAXP =~ ^[0-9]+(,[0-9]+)*$ ]] || bl_die "--max-persistent: a list like 1056,4096"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || bl_die "--rounds: a positive number"
bl_prepare xensimd xensimctl sidecored sidecorectl blkguest
# the noisy guest keeps up to 256 x 11 pages granted
GUEST_MEM=${GUEST_MEM:-32}
N=$((QUIET + 1))
GUEST_LIST=("$N")
BACKEND_LIST=()
IFS=, read -r -a MAXP_LIST <<<"$MAXP"
for m in "${MAXP_LIST[@]}"; do BACKEND_LIST+=("solo-$m" "noisy-$m"); done
NCELLS=$((${#BACKEND_LIST[@]} * ROUNDS))

# A cell: the world has N guests; the quiet ones are the first QUIET, the
# noisy one (last) is started only in a noisy cell.
run_cell() {
    local n=$1 cell=$2 round=$3 rc=0 p failed=0
    local mode=${cell%-*} maxp=${cell##*-} started=$QUIET
    bl_backend_start "$CELL_DIR/sidecored.log" "$BIN/sidecored" --mode poll --cores 1 \
        --vbd.max-persistent "$maxp" --log-level warn || return 1
    BL_ONLY="${DOMIDS[*]:0:QUIET}" bl_guests_start "$CELL_DIR" --qd 1 --bs 4k \
        --seconds "$SECONDS_RUN" --workload rand --rw read
    if [ "$mode" = noisy ]; then
        local taskset=("${GUEST_TASKSET[@]}")
        [ "$NOISY_SCHED" = normal ] || GUEST_TASKSET=(chrt --idle 0 "${taskset[@]}")
        BL_ONLY="${DOMIDS[QUIET]}" bl_guests_start "$CELL_DIR" --qd "$NOISY_QD" \
            --bs "$NOISY_BS" --seconds "$SECONDS_RUN" --workload rand --rw read
        GUEST_TASKSET=("${taskset[@]}")
        started=$n
    fi
    bl_wait_connected "$started" 60 || rc=1
    bl_release "$started"
    # the queues' counters near the end of the I/O (gone once the guests
    # disconnect)
    sleep "$(perl -e 'print $ARGV[0] * 0.8' "$SECONDS_RUN")"
    "$BIN/sidecorectl" queues --json >"$CELL_DIR/queues.json" 2>"$CELL_DIR/queues.err" || true
    bl_read_signals "$started" d $((${SECONDS_RUN%.*} + 30)) || rc=1
    for p in "${GUEST_PIDS[@]}"; do wait "$p" || failed=$((failed + 1)); done
    GUEST_PIDS=()
    [ "$failed" -eq 0 ] || { echo "$BL_NAME: $failed guests failed in $CELL" >&2; rc=1; }
    cat >"$CELL_DIR/meta.json" <<EOF
{"mode":"$mode","max_persistent":$maxp,"round":$round,"quiet":"${DOMIDS[*]:0:QUIET}","noisy":${DOMIDS[QUIET]},"failed_guests":$failed}
EOF
    return $rc
}

status=0
bl_run_cells guests || status=1

perl -MJSON::PP -e '
    my ($work, $json, $bs, $qd, $quiet, $sched) = @ARGV;
    my %cell;   # "maxp round" -> { solo => {...}, noisy => {...} }
    for my $dir (glob("$work/cells/*")) {
        open(my $m, "<", "$dir/meta.json") or next;
        my $meta = decode_json(do { local $/; <$m> });
        my $read = sub {
            open(my $f, "<", "$dir/guest-$_[0].json") or return undef;
            my $t = do { local $/; <$f> };
            return $t =~ /\S/ ? decode_json($t) : undef;
        };
        my @q = grep { defined } map { $read->($_) } split(" ", $meta->{quiet});
        next unless @q;
        my @p99 = sort { $a <=> $b } map { $_->{latency_us}{p99} } @q;
        my $c = { p99 => $p99[$#p99 / 2], worst => $p99[-1], iops => 0 };
        $c->{iops} += $_->{iops} for @q;
        if ($meta->{mode} eq "noisy") {
            my $n = $read->($meta->{noisy}) or next;
            $c->{noisy_iops} = $n->{iops};
            $c->{noisy_mb_s} = $n->{mb_per_s};
            # the visits of the noisy queue, as the sidecore counted them
            my $qs = eval { open(my $f, "<", "$dir/queues.json") or die;
                            local $/; decode_json(<$f>) } || [];
            my ($nq) = grep { $_->{domid} == $meta->{noisy} } @$qs;
            if ($nq && $nq->{busy_polls}) {
                $c->{visit_us} = $nq->{busy_ns} / $nq->{busy_polls} / 1000;
                $c->{req_per_visit} = $nq->{requests} / $nq->{busy_polls};
            }
        }
        $cell{"$meta->{max_persistent} $meta->{round}"}{$meta->{mode}} = $c;
    }
    my (@rows, %ratios);
    for my $k (sort { my @a = split " ", $a; my @b = split " ", $b;
                      $a[0] <=> $b[0] || $a[1] <=> $b[1] } keys %cell) {
        my ($s, $n) = @{$cell{$k}}{qw(solo noisy)};
        next unless $s && $n && $s->{p99} > 0 && $s->{worst} > 0;
        my ($maxp, $round) = split " ", $k;
        my $r = { max_persistent => $maxp + 0, round => $round + 0,
                  quiet_p99_solo_us => $s->{p99}, quiet_p99_noisy_us => $n->{p99},
                  ratio => $n->{p99} / $s->{p99},
                  worst_p99_solo_us => $s->{worst}, worst_p99_noisy_us => $n->{worst},
                  worst_ratio => $n->{worst} / $s->{worst},
                  quiet_iops_solo => $s->{iops}, quiet_iops_noisy => $n->{iops},
                  noisy_iops => $n->{noisy_iops}, noisy_mb_s => $n->{noisy_mb_s},
                  noisy_visit_us => $n->{visit_us} // 0,
                  noisy_requests_per_visit => $n->{req_per_visit} // 0 };
        push @rows, $r;
        push @{$ratios{$maxp}}, $r->{ratio};
    }
    printf "%d quiet guests (qd 1, 4 KiB random reads) beside one noisy (qd %d, %s reads, %s); 1 sidecore\n",
        $quiet, $qd, $bs, $sched;
    print "| max-persistent | round | quiet p99 solo (us) | with noise (us) | ratio | worst solo (us) | worst with noise (us) | worst ratio | quiet IOPS solo | with noise | noisy IOPS | noisy MB/s | noisy visit (us) | its requests per visit |\n";
    print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    printf "| %d | %d | %.1f | %.1f | %.2fx | %.1f | %.1f | %.2fx | %.0f | %.0f | %.0f | %.1f | %.1f | %.2f |\n",
        @$_{qw(max_persistent round quiet_p99_solo_us quiet_p99_noisy_us ratio worst_p99_solo_us
               worst_p99_noisy_us worst_ratio quiet_iops_solo quiet_iops_noisy noisy_iops
               noisy_mb_s noisy_visit_us noisy_requests_per_visit)} for @rows;
    for my $m (sort { $a <=> $b } keys %ratios) {
        my @s = sort { $a <=> $b } @{$ratios{$m}};
        my $med = $s[$#s / 2];
        printf "max-persistent %d: median p99 ratio %.2fx (%s the < 2x goal)\n", $m, $med,
            $med < 2 ? "meets" : "misses";
    }
    if ($json) { open(my $f, ">", $json) or die "$json: $!"; print $f encode_json(\@rows) }
' "$WORK" "$JSON" "$NOISY_BS" "$NOISY_QD" "$QUIET" "SCHED_$NOISY_SCHED"
exit $status
