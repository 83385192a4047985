#!/bin/bash
# profile - where a busy sidecore spends its time: perf record -e cpu-clock
# -g of the sidecore thread while one guest does 4 KiB random reads at
# queue depth 16 on a null disk, for sidecored and for the floor
# (echoback), with the top symbols of each (self time); or, with --idle N,
# of the sidecore polling N connected idle queues (idlebench.sh's set-up:
# what an empty round is made of).  Optional: not part of make bench (it
# needs perf: Debian's linux-perf; hardware counters are not needed,
# cpu-clock is a software event).
#
#   tools/bench/profile.sh [--seconds 5] [--top 15] [--backends sidecore,floor]
#       [--guests 1] [--qd 16] [--bs 4k] [--rw randread] [--idle N] [--out DIR]
#
# It runs blkbench.sh --profile (the same worlds and load as make bench, one
# cell per backend; perf attaches to the core thread after the guests have
# connected and stops when their I/O ends), then for each cell
#   perf report --no-children --sort symbol -g none
# and prints the symbols above 0.5% (at most --top), with the blkbench table
# of the profiled run (perf's sampling costs the core some throughput, so
# take the figures from make bench, not from here).  --out keeps the
# perf.data files and the full reports (report them before rebuilding: perf
# resolves symbols from the binaries in $SC_BUILD/bin).
# Needs: perf, the built programs in $SC_BUILD/bin (default ./build).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=benchlib.sh
. "$HERE/benchlib.sh"
SECONDS_PER_CELL=5
TOP=15
BACKENDS=sidecore,floor
GUESTS=1
QD=16
BS=4k
RW=randread
OUT=""
IDLE=""

bl_parse_opts --seconds=SECONDS_PER_CELL --top=TOP --backends=BACKENDS --guests=GUESTS --qd=QD \
    --bs=BS --rw=RW --out=OUT --idle=IDLE -- "$@"
[[ $TOP =~ ^[1-9][0-9]*$ ]] || bl_die "--top: a positive number"
[[ $GUESTS =~ ^[1-9][0-9]*$ ]] || bl_die "--guests: one guest count"
[ -z "$IDLE" ] || [[ $IDLE =~ ^[0-9]+$ ]] || bl_die "--idle: one idle guest count"
[[ $SECONDS_PER_CELL =~ ^[1-9][0-9]*$ ]] || bl_die "--seconds: a whole number of seconds"
command -v perf >/dev/null || bl_die "perf is missing (Debian: apt-get install linux-perf)"

DIR=$OUT
if [ -z "$DIR" ]; then
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/profile.XXXXXX")
    trap 'rm -rf "$DIR"' EXIT
fi
mkdir -p "$DIR"

status=0
if [ -n "$IDLE" ]; then
    GUESTS=$IDLE
    "$HERE/idlebench.sh" --guests "$IDLE" --backends "$BACKENDS" --seconds "$SECONDS_PER_CELL" \
        --profile "$DIR" || status=1
    echo
    echo "## Profile: perf record -e cpu-clock -g of the sidecore thread, $IDLE connected idle" \
         "queue(s), ${SECONDS_PER_CELL} s"
else
    "$HERE/blkbench.sh" --guests "$GUESTS" --backends "$BACKENDS" --seconds "$SECONDS_PER_CELL" \
        --qd "$QD" --bs "$BS" --rw "$RW" --profile "$DIR" || status=1
    echo
    echo "## Profile: perf record -e cpu-clock -g of the sidecore thread, $GUESTS guest(s)," \
         "$BS $RW qd $QD, null disk, ${SECONDS_PER_CELL} s"
fi
IFS=, read -r -a BACKEND_LIST <<<"$BACKENDS"
for b in "${BACKEND_LIST[@]}"; do
    data=$DIR/n$GUESTS-$b-r1.perf.data
    if [ ! -s "$data" ]; then
        echo "WARNING: $b: no profile recorded" >&2
        status=1
        continue
    fi
    perf report -i "$data" --no-children --sort symbol -g none --stdio 2>/dev/null \
        >"$DIR/$b.report.txt" || { echo "WARNING: $b: perf report failed" >&2; status=1; continue; }
    samples=$(sed -n 's/^# Samples: \([0-9.]*[KM]\{0,1\}\).*/\1/p' "$DIR/$b.report.txt" | head -1)
    echo
    echo "### $b ($samples samples; self time, symbols above 0.5%)"
    echo
    echo "| % | symbol |"
    echo "|---:|---|"
    # "  12.34%  [.] symbol   -  -" ([.] user, [k] kernel; then IPC columns)
    awk -v top="$TOP" '/^ *[0-9.]+%/ {
            pct = $1; sub(/%/, "", pct)
            if ($2 == "[k]") kernel += pct
            if (pct + 0 < 0.5 || ++n > top) next
            sym = $0; sub(/^ *[0-9.]+% +/, "", sym); sub(/( +-)* *$/, "", sym)
            printf "| %s | `%s` |\n", pct, sym
        }
        END { printf "\nkernel ([k]) in all: %.1f%%\n", kernel }' "$DIR/$b.report.txt"
done
[ -z "$OUT" ] || echo "profile: perf.data and full reports in $DIR" >&2
exit $status
