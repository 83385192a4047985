#!/bin/sh
# The rig's side-by-side comparison: one boot of tests/rig/bench/blk-compare.sh
# (the same fio workload in a DomU against sidecored poll, sidecored event,
# Linux's xen-blkback and QEMU's qdisk), its TAP on stderr, then a markdown
# table on stdout with each backend's figures and their ratio to blkback.
# Indicative only: under QEMU TCG every cost is distorted.  Exit 0/1 as run.sh.
set -u
RIG_DIR=$(cd "$(dirname "$0")" && pwd)
export RIG_LOGS=${RIG_LOGS:-/tmp/rig-logs}
# RIG_BACKENDS (e.g. "blkback qdisk") picks the backends: it reaches Dom0 as a
# wrapper scenario of the same name that sets it and sources the real one.
scenario="$RIG_DIR/bench/blk-compare.sh"
if [ -n "${RIG_BACKENDS:-}" ]; then
    wrap=$(mktemp -d)
    trap 'rm -rf "$wrap"' EXIT
    printf '#!/bin/sh\nRIG_BACKENDS="%s"\n. ./bench/blk-compare.sh\n' "$RIG_BACKENDS" >"$wrap/blk-compare.sh"
    chmod +x "$wrap/blk-compare.sh"
    scenario="$wrap/blk-compare.sh"
fi
"$RIG_DIR/run.sh" "$scenario" >&2
rc=$?
grep -a "^RIG-BENCH " "$RIG_LOGS/blk-compare.serial" | tr -d '\r' | awk '
    { b = $2; if (!(b in seen)) { seen[b] = 1; order[++n] = b } }
    $3 == "randread"  { v[b, "rr"] = $4 }
    $3 == "randwrite" { v[b, "rw"] = $6 }
    $3 == "seqread"   { v[b, "sr"] = $5 / 1024 }
    $3 == "seqwrite"  { v[b, "sw"] = $7 / 1024 }
    $3 == "dom0-busy-percent" { v[b, "cpu"] = $4 }
    $3 == "steal-percent" { v[b, "steal"] = $4 }
    function cell(b, k, fmt) {
        if (!((b, k) in v)) return "–"
        s = sprintf(fmt, v[b, k])
        if (("blkback", k) in v && v["blkback", k] > 0 && b != "blkback")
            s = s sprintf(" (%.2f×)", v[b, k] / v["blkback", k])
        return s
    }
    END {
        print "| backend | 4k randread IOPS (qd16) | 4k randwrite IOPS (qd16) | 1M seq read MiB/s (qd4) | 1M seq write MiB/s (qd4) | Dom0 busy % | sidecore steal % |"
        print "|---|---|---|---|---|---|---|"
        for (i = 1; i <= n; i++) {
            b = order[i]
            printf "| %s | %s | %s | %s | %s | %s | %s |\n", b, cell(b, "rr", "%d"), cell(b, "rw", "%d"),
                   cell(b, "sr", "%.1f"), cell(b, "sw", "%.1f"), cell(b, "cpu", "%d"),
                   cell(b, "steal", "%d")
        }
    }'
exit $rc
