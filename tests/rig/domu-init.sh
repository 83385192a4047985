#!/bin/sh
# /init of the rig's PV DomU (busybox initramfs packed by boot.sh).  Loads
# xen-blkfront, waits for /dev/xvda, and reports on its console (hvc0, logged
# by Dom0's xenconsoled) lines "DOMU-RESULT KEY VALUE" that scenarios check:
#   size      disk size in 512-byte sectors (/sys/block/xvda/size)
#   features  blkfront's feature line (persistent grants, indirect, ...)
#   queues    number of hardware queues (/sys/block/xvda/mq/*)
#   write     sha256 of the data written      read  sha256 read back
#   round N ok SHA|bad   rig_rounds=N: N more write/read rounds, 1 s apart (for
#             scenarios that disturb the backend meanwhile)
#   detached / reattach-read SHA   rig_hotplug=1: after the first round, wait
#             for xvda to go (xl block-detach) and come back (block-attach),
#             then read the first round's data again
#   mkfs / fsck-fresh / fs-files / fsck-used   rig_fs=1: mkfs.ext4 on xvda,
#             e2fsck, files written, re-read after a remount, e2fsck again
#   fio-verify ok|bad   rig_fio=1: fio random writes verified by crc32c
#   bench JOB READ_IOPS READ_KiBs WRITE_IOPS WRITE_KiBs   rig_bench=SECS: fio
#             jobs of SECS seconds each (bench/ compares backends with them)
#   killio-write-start / killio-write RC SECS / killio-verify-start /
#   killio-verify RC SECS / killio-sha SHA / killio-kmsg N   rig_killio=MB: a
#             verified fio job over MB MiB of xvda from 8 MiB on (4k-64k random
#             writes, crc32c, an fsync at the end), its verify pass a second
#             fio run (verify_only), both announced so that Dom0 can disturb
#             the backend within each; then the region's sha256 (O_DIRECT)
#             for Dom0 to compare with the backing file, and the number of
#             kernel messages since the job began that name a disk, blkfront
#             or an error (all of them printed as "DOMU-KMSG| ...")
# rig_fs, rig_fio, rig_bench and rig_killio run mke2fs/e2fsck/fio from the tools disk
# xvdb: a read-only copy of the rig's Debian root, mounted at /tools.
# Kernel command line: rig_mb=N (MiB to write, default 16), rig_skip_mb=N.
# Then powers the domain off.
# rig_role=dd makes this domain the rig's driver domain instead: xvda is its
# root (a writable copy of Dom0's), and /rig-dd/dd-init.sh takes over as PID 1.
# rig_role=net makes it a network guest (net scenarios): it needs only the
# tools disk xvdb (mounted at /tools), loads xen-netfront, waits for eth0,
# gives it rig_ip=ADDR/LEN and reports
#   tools 1|0 / eth0 MAC|none / net-ready
# then runs what Dom0 asks for: Dom0 writes "SEQ BOUND COMMAND" to the
# domain's data/rig-cmd (lib.sh's rig_guest), the guest runs COMMAND with sh
# in the /tools chroot for at most BOUND seconds and answers
#   DOMU-OUT SEQ| line...      its output
#   DOMU-RESULT cmd SEQ STATUS its exit status
# COMMAND "poweroff" ends the domain (DOMU-RESULT done first).
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

net_ip=""; mb=16; skip=0; rounds=0; hotplug=0; fs=0; fio=0; bench=0; killio=0; role=guest
for a in $(cat /proc/cmdline); do
    case $a in
    rig_mb=*) mb=${a#rig_mb=} ;;
    rig_skip_mb=*) skip=${a#rig_skip_mb=} ;;
    rig_rounds=*) rounds=${a#rig_rounds=} ;;
    rig_hotplug=*) hotplug=${a#rig_hotplug=} ;;
    rig_fs=*) fs=${a#rig_fs=} ;;
    rig_fio=*) fio=${a#rig_fio=} ;;
    rig_bench=*) bench=${a#rig_bench=} ;;
    rig_killio=*) killio=${a#rig_killio=} ;;
    rig_role=*) role=${a#rig_role=} ;;
    rig_ip=*) net_ip=${a#rig_ip=} ;;
    esac
done

wait_disk() { # name: 1 when /dev/NAME did not appear within 30 s
    i=0
    while [ ! -b "/dev/$1" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    [ -b "/dev/$1" ]
}

if [ "$role" = dd ]; then
    if wait_disk xvda && mount -t ext4 /dev/xvda /newroot; then
        rm -rf /newroot/rig && cp -a /rig-dd /newroot/rig
        umount /proc /sys
        mount --move /dev /newroot/dev
        exec switch_root /newroot /rig/dd-init.sh
    fi
    echo "DD-RESULT no root disk"
    poweroff -f
fi

# The tools disk xvdb at /tools, with /dev, /proc, /sys and a /tmp in it;
# sets tools=1 when it is there.
mount_tools() {
    tools=0
    mkdir -p /tools
    if wait_disk xvdb && mount -t ext4 -o ro,noload /dev/xvdb /tools; then
        mount -o bind /dev /tools/dev
        mount -t proc proc /tools/proc
        mount -t sysfs sysfs /tools/sys
        mount -t tmpfs tmpfs /tools/tmp
        tools=1
    fi
}

# The network guest (rig_role=net): see the head of this file.  Commands poll
# xenstore every 0.3 s (xenstore-read from the tools disk): no xenstore
# watch, so that nothing waits on a connection that a backend restart or a
# vif's hot-unplug could disturb.
net_guest() {
    mount_tools
    echo "DOMU-RESULT tools $tools"
    i=0
    while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    echo "DOMU-RESULT eth0 $(cat /sys/class/net/eth0/address 2>/dev/null || echo none)"
    ip link set lo up
    if [ -e /sys/class/net/eth0 ] && [ -n "$net_ip" ]; then
        ip addr add "$net_ip" dev eth0
        ip link set eth0 up
    fi
    echo "DOMU-RESULT net-ready"
    [ $tools = 1 ] || { echo "DOMU-RESULT done"; poweroff -f; }
    last=""
    while :; do
        c=$(chroot /tools /usr/bin/xenstore-read -R data/rig-cmd 2>/dev/null | tr -d '\r')
        seq=${c%% *}
        if [ -z "$c" ] || [ "$seq" = "$last" ]; then sleep 0.3; continue; fi
        last=$seq
        c=${c#* }
        bound=${c%% *}
        cmd=${c#* }
        if [ "$cmd" = poweroff ]; then
            echo "DOMU-RESULT cmd $seq 0"
            break
        fi
        timeout -s KILL "$bound" chroot /tools /usr/bin/env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            /bin/sh -c "$cmd" </dev/null >/tmp/cmd.out 2>&1
        rc=$?
        sed "s/^/DOMU-OUT $seq| /" /tmp/cmd.out
        echo "DOMU-RESULT cmd $seq $rc"
    done
    umount /tools/tmp /tools/sys /tools/proc /tools/dev /tools 2>/dev/null
    echo "DOMU-RESULT done"
    poweroff -f
}
[ "$role" = net ] && net_guest

if ! wait_disk xvda; then
    echo "DOMU-RESULT size none"
    echo "DOMU-RESULT done"
    poweroff -f
fi
tools=0
if [ "$fs$fio$bench$killio" != 0000 ]; then
    mount_tools
    echo "DOMU-RESULT tools $tools"
    echo "DOMU-RESULT tools-ro $(cat /sys/block/xvdb/ro 2>/dev/null)"
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

# mkfs.ext4, e2fsck, files through the filesystem, e2fsck again.
fs_checks() {
    if chroot /tools mkfs.ext4 -q -F /dev/xvda; then echo "DOMU-RESULT mkfs ok"
    else echo "DOMU-RESULT mkfs failed"; return; fi
    if chroot /tools e2fsck -fn /dev/xvda >/tmp/fsck.log 2>&1; then echo "DOMU-RESULT fsck-fresh clean"
    else echo "DOMU-RESULT fsck-fresh errors"; cat /tmp/fsck.log; fi
    mkdir -p /mnt
    mount -t ext4 /dev/xvda /mnt || { echo "DOMU-RESULT fs-mount failed"; return; }
    mkdir -p /mnt/d
    n=1
    while [ $n -le 8 ]; do
        dd if=/dev/urandom of=/mnt/d/f$n bs=64k count=$((n * 8)) 2>/dev/null
        n=$((n + 1))
    done
    (cd /mnt && sha256sum d/*) >/tmp/sums
    umount /mnt
    mount -t ext4 -o ro /dev/xvda /mnt || { echo "DOMU-RESULT fs-mount failed"; return; }
    if (cd /mnt && sha256sum -c -s /tmp/sums); then echo "DOMU-RESULT fs-files ok"
    else echo "DOMU-RESULT fs-files bad"; fi
    umount /mnt
    if chroot /tools e2fsck -fn /dev/xvda >/tmp/fsck.log 2>&1; then echo "DOMU-RESULT fsck-used clean"
    else echo "DOMU-RESULT fsck-used errors"; cat /tmp/fsck.log; fi
}

fio_job() { # name, fio options...: one terse line; "" when fio failed
    n=$1; shift
    chroot /tools fio --name="$n" --filename=/dev/xvda --direct=1 --ioengine=libaio \
        --output-format=terse --terse-version=3 "$@" 2>/tmp/fio.err
}

if [ $tools = 1 ] && [ "$fs" = 1 ]; then fs_checks; fi
if [ $tools = 1 ] && [ "$fio" = 1 ]; then
    if fio_job verify --rw=randwrite --bs=4k --iodepth=16 --size=32M --offset=8M \
        --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 >/dev/null; then
        echo "DOMU-RESULT fio-verify ok"
    else
        echo "DOMU-RESULT fio-verify bad"; cat /tmp/fio.err
    fi
fi
if [ $tools = 1 ] && [ "$bench" != 0 ]; then
    for job in randread:randread:4k:16 randwrite:randwrite:4k:16 seqread:read:1M:4 seqwrite:write:1M:4; do
        IFS=: read -r name rw bs qd <<JOB
$job
JOB
        line=$(fio_job "$name" --rw="$rw" --bs="$bs" --iodepth="$qd" --size=48M \
               --runtime="$bench" --time_based --ramp_time=1)
        echo "$line" | awk -F';' -v n="$name" \
            'NF > 100 && $5 == 0 {print "DOMU-RESULT bench", n, $8, $7, $49, $48; ok=1}
             END {if (!ok) print "DOMU-RESULT bench", n, "failed"}'
    done
fi

# rig_killio: see the head of this file.  Two fio runs with the same job (fio
# repeats its random offsets and sizes), so that Dom0 knows which phase it
# disturbs: the writes, then verify_only reading every block back.
uptime_s() { awk '{print $1}' /proc/uptime; }
killio_job() { # phase, extra fio options: "DOMU-RESULT killio-PHASE RC SECS"
    echo "DOMU-RESULT killio-$1-start"
    t=$(uptime_s)
    ph=$1; shift
    fio_job killio --rw=randwrite --bsrange=4k-64k --iodepth=16 --size="${killio}M" --offset=8M \
        --verify=crc32c --verify_fatal=1 --verify_state_save=0 "$@" >/tmp/killio.out
    rc=$?
    echo "DOMU-RESULT killio-$ph $rc $(awk -v a="$t" -v b="$(uptime_s)" 'BEGIN {printf "%.1f", b - a}')"
    [ $rc = 0 ] || { cat /tmp/killio.out /tmp/fio.err; }
}
if [ $tools = 1 ] && [ "$killio" != 0 ]; then
    kmsg0=$(dmesg | wc -l)
    killio_job write --do_verify=0 --end_fsync=1
    killio_job verify --verify_only=1
    sync
    echo "DOMU-RESULT killio-sha $(dd if=/dev/xvda bs=1M skip=8 count="$killio" iflag=direct 2>/dev/null |
        sha256sum | awk '{print $1}')"
    dmesg | tail -n +$((kmsg0 + 1)) >/tmp/kmsg
    sed 's/^/DOMU-KMSG| /' /tmp/kmsg
    echo "DOMU-RESULT killio-kmsg $(grep -ciE 'xvd|blkfront|I/O error|error|fail|disabl|blocked for more|BUG|WARNING' /tmp/kmsg)"
fi

n=1
while [ $n -le "$rounds" ]; do
    sleep 1
    round
    if [ -n "$w" ] && [ "$w" = "$r" ]; then echo "DOMU-RESULT round $n ok $w"; else echo "DOMU-RESULT round $n bad"; fi
    n=$((n + 1))
done
echo "DOMU-RESULT done"
poweroff -f
