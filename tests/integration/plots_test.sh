#!/bin/bash
# plots_test: tools/bench/plot.pl on the checked-in reports of short real
# runs (tests/fixtures/plots/: make demo's demo.json, the --json of
# blkbench, netbench and rampbench, trimmed).  Each plot: made, a PNG (its signature), of
# the size plot.pl asks gnuplot for (the IHDR chunk), with nothing on
# stderr (gnuplot's warnings go there).  A malformed report and one of an
# unknown shape: a clear message and exit 1; no gnuplot on PATH: a warning,
# no plot, exit 0 (make demo and make bench go on).
. "$(dirname "$0")/../tools/simworld.sh"
HERE=$(cd "$(dirname "$0")/../.." && pwd)
PLOT=$HERE/tools/bench/plot.pl
FIX=$HERE/tests/fixtures/plots
command -v gnuplot >/dev/null || { echo "1..0 # SKIP gnuplot not installed (make deps)"; exit 0; }
PERL=$(command -v perl)

OUT=$(mktemp -d "${TMPDIR:-/tmp}/plots-test.XXXXXX")
plots_cleanup() { rm -rf "$OUT"; }
SIM_CLEANUP_HOOKS="plots_cleanup"

# png_size FILE: "WIDTHxHEIGHT" if FILE starts with the PNG signature and
# an IHDR chunk, else "not a PNG"
png_size() {
    perl -e 'open(my $f, "<:raw", $ARGV[0]) or exit 1; read($f, my $b, 24) == 24 or exit 1;
        my ($sig, $type, $w, $h) = unpack("a8 x4 a4 N N", $b);
        print $sig eq "\x89PNG\r\n\x1a\n" && $type eq "IHDR" ? "${w}x$h" : "not a PNG"' "$1" ||
        echo "not a PNG"
}

# check NAME FIXTURE PNG:SIZE...: plot FIXTURE into $OUT/NAME-*.png
check() {
    local name=$1 fix=$2 rc
    shift 2
    "$PERL" "$PLOT" --out "$OUT/$name" "$FIX/$fix" >"$OUT/$name.stdout" 2>"$OUT/$name.stderr"
    rc=$?
    is "$name: plot.pl exits 0" "$rc" 0
    is "$name: nothing on stderr (no gnuplot warning)" "$(cat "$OUT/$name.stderr")" ""
    local p png size
    for p in "$@"; do
        png=$OUT/$name-${p%%:*}.png size=${p#*:}
        is "$name-${p%%:*}.png: a PNG of $size" "$(png_size "$png")" "$size"
        ok "$name-${p%%:*}.png: its path printed" grep -qxF "plot: $png" "$OUT/$name.stdout"
    done
}

check demo demo.json throughput:1000x560
check blkbench blkbench.json by-guests:1100x450 latency-cdf:1200x420
check netbench netbench.json by-guests:1100x450
check rampbench rampbench.json timeline:1000x450

# --note: a second title line, no warning
"$PERL" "$PLOT" --note "short run, shape only" --out "$OUT/note" "$FIX/rampbench.json" \
    >/dev/null 2>"$OUT/note.stderr"
is "--note: exit 0" "$?" 0
is "--note: nothing on stderr" "$(cat "$OUT/note.stderr")" ""
is "--note: the plot" "$(png_size "$OUT/note-timeline.png")" "1000x450"

# the default prefix: the report's path without .json
cp "$FIX/netbench.json" "$OUT/copy.json"
"$PERL" "$PLOT" "$OUT/copy.json" >/dev/null 2>&1
is "default prefix: next to the JSON" "$(png_size "$OUT/copy-by-guests.png")" "1100x450"

# a malformed report: a clear error, exit 1, no plot
head -c 200 "$FIX/blkbench.json" >"$OUT/broken.json"
"$PERL" "$PLOT" "$OUT/broken.json" >"$OUT/broken.stdout" 2>"$OUT/broken.stderr"
is "malformed JSON: exit 1" "$?" 1
ok "malformed JSON: says so" grep -q "^plot: $OUT/broken.json: not JSON" "$OUT/broken.stderr"
ok "malformed JSON: no plot" test -z "$(ls "$OUT"/broken*.png 2>/dev/null)"

echo '{"rows": [1, 2]}' >"$OUT/other.json"
"$PERL" "$PLOT" "$OUT/other.json" >/dev/null 2>"$OUT/other.stderr"
is "a report of another shape: exit 1" "$?" 1
ok "a report of another shape: says so" grep -q "neither a demo, a blkbench, a netbench nor a rampbench report" \
    "$OUT/other.stderr"

# a histogram whose arrays differ in length
perl -MJSON::PP -e 'local $/; open(my $f, "<", $ARGV[0]) or die; my $j = decode_json(<$f>);
    my ($n) = sort { $a <=> $b } keys %{ $j->{results} };
    pop @{ $j->{results}{$n}{sidecore}{latency_hist_us}{n} };
    print encode_json($j)' "$FIX/blkbench.json" >"$OUT/badhist.json"
"$PERL" "$PLOT" "$OUT/badhist.json" >/dev/null 2>"$OUT/badhist.stderr"
is "a histogram with le and n of different lengths: exit 1" "$?" 1
ok "... says so" grep -q "le and n differ in length" "$OUT/badhist.stderr"

# no gnuplot: a warning, exit 0, no plot
PATH=/nonexistent "$PERL" "$PLOT" --out "$OUT/nognu" "$FIX/demo.json" >/dev/null 2>"$OUT/nognu.stderr"
is "no gnuplot: exit 0" "$?" 0
ok "no gnuplot: a warning" grep -q "warning: gnuplot not found" "$OUT/nognu.stderr"
ok "no gnuplot: no plot" test ! -e "$OUT/nognu-throughput.png"

# usage
"$PERL" "$PLOT" >/dev/null 2>&1
is "no argument: exit 2" "$?" 2

done_testing
