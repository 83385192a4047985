#!/bin/sh
# /init of the rig's PV DomU (busybox initramfs packed by boot.sh).  Loads
# xen-blkfront, waits for /dev/xvda, and reports on its console (hvc0, logged
# by Dom0's xenconsoled) lines "DOMU-RESULT KEY VALUE" that scenarios check:
#   size      disk size in 512-byte sectors (/sys/block/xvda/size)
#   features  blkfront's feature line (persistent grants, indirect, ...)
#   queues    number of hardware queues (/sys/block/xvda/mq/*)
#   write     sha256 of the data written      read  sha256 read back
#   round N ok|bad   rig_rounds=N: N more write/read rounds, 1 s apart (for
#             scenarios that disturb the backend meanwhile)
#   detached / reattach-read SHA   rig_hotplug=1: after the first round, wait
#             for xvda to go (xl block-detach) and come back (block-attach),
#             then read the first round's data again
# Kernel command line: rig_mb=N (MiB to write, default 16), rig_skip_mb=N.
# Then powers the domain off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec >/dev/hvc0 2>&1
# insmod does not read /proc/cmdline as modprobe does: pass "module.param=value"
# arguments (e.g. xen_blkfront.max_ring_page_order=2) on by hand.
for m in $(cat /mods/order); do
    n=$(echo "${m%.ko}" | tr - _)
    args=""
    for a in $(cat /proc/cmdline); do
        case $a in "$n".*) args="$args ${a#"$n".}" ;; esac
    done
    insmod /mods/$m $args
done

mb=16; skip=0; rounds=0; hotplug=0
for a in $(cat /proc/cmdline); do
    case $a in
    rig_mb=*) mb=${a#rig_mb=} ;;
    rig_skip_mb=*) skip=${a#rig_skip_mb=} ;;
    rig_rounds=*) rounds=${a#rig_rounds=} ;;
    rig_hotplug=*) hotplug=${a#rig_hotplug=} ;;
    esac
done

i=0
while [ ! -b /dev/xvda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if [ ! -b /dev/xvda ]; then
    echo "DOMU-RESULT size none"
    echo "DOMU-RESULT done"
    poweroff -f
fi
echo "DOMU-RESULT size $(cat /sys/block/xvda/size)"
echo "DOMU-RESULT features $(dmesg | grep -o 'xvda: .*persistent grants.*' | head -n1)"
echo "DOMU-RESULT queues $(ls /sys/block/xvda/mq 2>/dev/null | wc -l)"
echo "DOMU-RESULT ro $(cat /sys/block/xvda/ro)"

# One round: random data to xvda at skip MiB, read back with O_DIRECT.
# Sets w and r to the two sha256 sums.
round() {
    dd if=/dev/urandom of=/tmp/pattern bs=1M count="$mb" iflag=fullblock 2>/dev/null
    w=$(sha256sum /tmp/pattern | cut -d' ' -f1)
    dd if=/tmp/pattern of=/dev/xvda bs=1M seek="$skip" oflag=direct 2>/dev/null ||
        echo "DOMU-RESULT write-error"
    rm -f /tmp/pattern
    r=$(dd if=/dev/xvda bs=1M skip="$skip" count="$mb" iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
}

round
echo "DOMU-RESULT write $w"
echo "DOMU-RESULT read $r"

if [ "$hotplug" = 1 ]; then
    i=0
    while [ -b /dev/xvda ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
    [ -b /dev/xvda ] || echo "DOMU-RESULT detached"
    i=0
    while [ ! -b /dev/xvda ] && [ $i -lt 900 ]; do sleep 0.1; i=$((i + 1)); done
    echo "DOMU-RESULT reattach-read $(dd if=/dev/xvda bs=1M skip="$skip" count="$mb" iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
fi

n=1
while [ $n -le "$rounds" ]; do
    sleep 1
    round
    if [ -n "$w" ] && [ "$w" = "$r" ]; then echo "DOMU-RESULT round $n ok"; else echo "DOMU-RESULT round $n bad"; fi
    n=$((n + 1))
done
echo "DOMU-RESULT done"
poweroff -f
