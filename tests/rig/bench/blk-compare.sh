#!/bin/sh
# Rig benchmark scenario (runs in Dom0): the same DomU workload against four
# backends in one boot: sidecored in poll mode, sidecored in event mode,
# Linux's in-kernel xen-blkback, and QEMU's qdisk (qemu-system-xen).  The
# guest gets Dom0's scratch block device /dev/vdd as xvda (the same target for
# every backend, so none pays for a loop device or a file system the others
# skip) and the read-only tools disk (xvdb, /dev/vdc) from the backend under
# test; it runs fio random-write
# verification and then four fio jobs (bench lines: 4k random read and write at
# queue depth 16, 1 MiB sequential read and write at depth 4, $secs s each).
# Prints "RIG-BENCH BACKEND JOB READ_IOPS READ_KiBs WRITE_IOPS WRITE_KiBs" and
# "RIG-BENCH BACKEND dom0-busy-percent N" (Dom0's busy share of its two vCPUs
# over the guest's life).  Software emulation distorts every cost: indicative
# only.  tests/rig/bench.sh turns the lines into a table.
. ./lib.sh
rig_install_hotplug
secs=10

dom0_busy() { awk '$1=="cpu"{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

# run_guest BACKEND "DISK1', 'DISK2": one guest, its results as RIG-BENCH lines.
run_guest() {
    b=$1; g=bench-$b
    rig_domu_cfg "$g" "$2" "rig_mb=4 rig_skip_mb=1 rig_fio=1 rig_bench=$secs" 1 384
    set -- $(dom0_busy)
    busy0=$1; all0=$2
    if ! rig_domu_start "$g"; then rig_fail "$b: xl create"; return; fi
    rig_domu_wait "$g" 400
    set -- $(dom0_busy)
    echo "RIG-BENCH $b dom0-busy-percent $(( (($1 - busy0) * 100) / ($2 - all0 + 1) ))"
    rig_check "$b: guest's raw write/read" sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ \
        "$(rig_domu_result "$g" write)" "$(rig_domu_result "$g" read)"
    rig_check "$b: fio verify" test "$(rig_domu_result "$g" fio-verify)" = ok
    jobs=0
    for j in randread randwrite seqread seqwrite; do
        line=$(sed -n "s/^DOMU-RESULT bench $j //p" "/tmp/$g.console" | tr -d '\r' | head -n1)
        case "$line" in ""|failed) ;; *) jobs=$((jobs + 1)); echo "RIG-BENCH $b $j $line" ;; esac
    done
    rig_check "$b: all 4 fio jobs ran" test $jobs = 4
}

sc_disks="backend=0, vdev=xvda, script=block-sidecore, target=/dev/vdd', \
'backend=0, vdev=xvdb, access=ro, script=block-sidecore, target=/dev/vdc"
for mode in poll event; do
    if rig_start_sidecored "$mode"; then
        run_guest "sidecore-$mode" "$sc_disks"
        rig_stop_sidecored
    else
        rig_fail "sidecore-$mode: sidecored starts"
    fi
done

# Linux's blkback with xl's default "block" script.
if modprobe xen-blkback; then
    run_guest blkback "backend=0, vdev=xvda, target=/dev/vdd', \
'backend=0, vdev=xvdb, access=ro, target=/dev/vdc"
else
    rig_fail "blkback: modprobe xen-blkback"
fi

# QEMU's qdisk: libxl starts a qemu-system-xen for the guest's PV backends.
run_guest qdisk "backend=0, vdev=xvda, backendtype=qdisk, target=/dev/vdd', \
'backend=0, vdev=xvdb, access=ro, backendtype=qdisk, target=/dev/vdc"
exit $RIG_TAP_FAILED
