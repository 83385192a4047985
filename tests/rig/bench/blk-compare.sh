#!/bin/sh
# Rig benchmark scenario (runs in Dom0): the same DomU workload against
# several backends in one boot: sidecored in poll mode, sidecored in event
# mode, Linux's in-kernel xen-blkback and QEMU's qdisk.
# The guest gets Dom0's scratch block device /dev/vdd as xvda (the same target
# for every backend, so none pays for a loop device or a file system the
# others skip) and the read-only tools disk (xvdb, /dev/vdc) from the backend
# under test; it runs fio random-write verification and then four fio jobs (bench lines: 4k random read and write at
# queue depth 16, 1 MiB sequential read and write at depth 4, $secs s each).
# Prints "RIG-BENCH BACKEND JOB READ_IOPS READ_KiBs WRITE_IOPS WRITE_KiBs" and
# "RIG-BENCH BACKEND dom0-busy-percent N" (Dom0's busy share of its two vCPUs
# over the guest's life).  Software emulation distorts every cost: indicative
# only.  tests/rig/bench.sh turns the lines into a table.  A scenario that
# sources this one may set RIG_BACKENDS to a subset (sidecore-poll
# sidecore-event sidecore-poll-dedicated sidecore-event-dedicated blkback
# qdisk) and RIG_BENCH_SECS.
# The -dedicated runs (issue 14) give the sidecore a physical CPU of its own:
# sidecored --cpus 1 puts it on Dom0's vCPU 1, pinned to pCPU 1, while Dom0's
# vCPU 0 and the guest's vCPU are pinned to pCPU 0 (Dom0 cannot leave Pool-0,
# so pinning, not a cpupool); the plain runs let Xen's credit2 place all
# three vCPUs on the two pCPUs.  Each sidecore run also prints its steal over
# the guest's life: "RIG-BENCH BACKEND steal-percent N".
. ./lib.sh
rig_install_sidecore
secs=${RIG_BENCH_SECS:-10}
backends=${RIG_BACKENDS:-sidecore-poll sidecore-event sidecore-poll-dedicated sidecore-event-dedicated blkback qdisk}
wanted() { case " $backends " in *" $1 "*) return 0 ;; esac; return 1; }

dom0_busy() { awk '$1=="cpu"{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }

# sc_steal_ns: Dom0's sidecore's steal so far (sidecorectl cores --json), or "".
sc_steal_ns() {
    sidecorectl cores --json 2>/dev/null | tr -d ' \n' | sed -n 's/.*"steal_ns":\([0-9][0-9]*\).*/\1/p'
}
now_ms() { awk '{printf "%.0f", $1 * 1000}' /proc/uptime; }

# run_guest BACKEND "DISK1', 'DISK2" [CONFIG LINE]: one guest, its results as
# RIG-BENCH lines.
run_guest() {
    b=$1; g=bench-$b
    rig_domu_cfg "$g" "$2" "rig_mb=4 rig_skip_mb=1 rig_fio=1 rig_bench=$secs" 1 384 "${3:-}"
    steal0=$(sc_steal_ns); t0=$(now_ms)
    set -- $(dom0_busy)
    busy0=$1; all0=$2
    if ! rig_domu_start "$g"; then rig_fail "$b: xl create"; return; fi
    rig_domu_wait "$g" 400
    set -- $(dom0_busy)
    echo "RIG-BENCH $b dom0-busy-percent $(( (($1 - busy0) * 100) / ($2 - all0 + 1) ))"
    steal1=$(sc_steal_ns); t1=$(now_ms)
    [ -z "$steal0" ] || [ -z "$steal1" ] ||
        echo "RIG-BENCH $b steal-percent $(( (steal1 - steal0) / 10000 / (t1 - t0 + 1) ))"
    if [ "$(rig_domu_result "$g" tools)" != 1 ] || ! grep -aq "^DOMU-RESULT done" "/tmp/$g.console"; then
        rig_say "$b: the guest has no tools disk or did not finish; what Dom0 knows:"
        sed "s/^/RIG: $g: /" /tmp/$g.create
        tail -n 30 "/var/log/xen/qemu-dm-$g.log" 2>/dev/null | sed "s/^/RIG: qemu-dm-$g.log: /"
        tail -n 30 /var/log/xen/xl-$g.log 2>/dev/null | sed "s/^/RIG: xl-$g.log: /"
    fi
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
    wanted "sidecore-$mode" || continue
    if rig_start_sidecored "$mode"; then
        run_guest "sidecore-$mode" "$sc_disks"
        rig_stop_sidecored
    else
        rig_fail "sidecore-$mode: sidecored starts"
    fi
done

# The sidecore on a physical CPU of its own (see above); undone after.
for mode in poll event; do
    wanted "sidecore-$mode-dedicated" || continue
    b=sidecore-$mode-dedicated
    if ! xl vcpu-pin Domain-0 1 1 || ! xl vcpu-pin Domain-0 0 0; then
        rig_fail "$b: Dom0's vCPUs pinned (1 -> pCPU 1, 0 -> pCPU 0)"
        continue
    fi
    if rig_start_sidecored "$mode" --cpus 1; then
        rig_say "$b: $(sidecorectl cores 2>&1 | tr '\n' ' ')"
        [ "$mode" = event ] ||  # event mode's threads are per queue, not sidecores
        rig_check "$b: Dom0's sidecored reports its sidecore on vCPU 1, pCPU 1, pinned (libxenctrl)" \
            sh -c 'sidecorectl cores --json | tr -d " \n" |
                   grep -q "\"vcpu\":1,.*\"placement\":{\"pcpu\":1,[^}]*\"pinned\":true"'
        run_guest "$b" "$sc_disks" 'cpus = "0"'
        rig_stop_sidecored
    else
        rig_fail "$b: sidecored starts"
    fi
    xl vcpu-pin Domain-0 all all
done

# Linux's blkback with xl's default "block" script.
if ! wanted blkback; then :
elif modprobe xen-blkback; then
    run_guest blkback "backend=0, vdev=xvda, target=/dev/vdd', \
'backend=0, vdev=xvdb, access=ro, target=/dev/vdc"
    rmmod xen-blkback || rig_say "blkback: rmmod xen-blkback failed"
else
    rig_fail "blkback: modprobe xen-blkback"
fi

# QEMU's qdisk: libxl starts a qemu-system-xen for the guest's PV backends.
# Debian 12's QEMU 7.2 refuses access=ro ("failed to create 'qdisk' device:
# realization of device xen-disk failed: Block node is read-only"), so
# sidecored (event mode: it sleeps while the disk is idle) serves the tools
# disk here; qdisk (backend/qdisk) and sidecored (backend/vbd) do not meet.
# (Before the rig's kernels had noxsave, this run crashed Dom0's programs:
# tests/rig/README.md, "Known flakiness".)
if wanted qdisk; then
    if rig_start_sidecored event; then
        run_guest qdisk "backend=0, vdev=xvda, backendtype=qdisk, target=/dev/vdd', \
'backend=0, vdev=xvdb, access=ro, script=block-sidecore, target=/dev/vdc"
        rig_stop_sidecored
    else
        rig_fail "qdisk: sidecored starts (for the tools disk)"
    fi
fi
exit $RIG_TAP_FAILED
