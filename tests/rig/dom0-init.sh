#!/bin/sh
# PID 1 of the rig's Dom0 (installed as /sbin/rig-init by build.sh).  Brings up
# the Xen control plane (xenfs, xenstored, xen-init-dom0, xenconsoled), unpacks
# the payload boot.sh attached as /dev/vdb (a tar: sidecore binaries, hotplug
# script, DomU initramfs, scenario.sh), runs /rig/scenario.sh with a time bound,
# and powers off.  Everything it says goes to hvc0, which Xen copies to the
# serial file boot.sh reads; lines starting "RIG:" are the markers.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
exec </dev/null >/dev/hvc0 2>&1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /run /tmp /var/run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
# The block hotplug script's claim_lock spins forever without these.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -o remount,rw /
hostname rig-dom0
exec </dev/null >/dev/hvc0 2>&1

# PID 1 must not exit (the kernel panics): ask for poweroff and wait for it.
rig_off() {
    echo "RIG: poweroff"
    sync
    busybox poweroff -f
    echo o >/proc/sysrq-trigger 2>/dev/null
    while :; do sleep 1; done
}

echo "RIG: dom0 kernel $(uname -r)"
for m in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd; do
    modprobe "$m" || echo "RIG: modprobe $m failed"
done
mount -t xenfs xenfs /proc/xen || { echo "RIG: FATAL cannot mount xenfs"; rig_off; }
mkdir -p /var/run/xen /var/run/xenstored /var/log/xen/console /var/lib/xen
xenstored --pid-file /var/run/xenstored.pid || { echo "RIG: FATAL xenstored"; rig_off; }
xen-init-dom0 || echo "RIG: xen-init-dom0 failed"
xenconsoled --pid-file=/var/run/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console ||
    echo "RIG: xenconsoled failed"
echo "RIG: dom0 up"
xl info | grep -E '^(xen_version|nr_cpus|total_memory|free_memory|xen_caps)' | sed 's/^/RIG: xl info /'

mkdir -p /rig
if [ -b /dev/vdb ] && tar -xf /dev/vdb -C /rig 2>/dev/null && [ -x /rig/scenario.sh ]; then
    bound=$(cat /rig/timeout 2>/dev/null || echo 600)
    echo "RIG: scenario start (bound ${bound}s)"
    cd /rig && timeout -k 5 "$bound" ./scenario.sh
    echo "RIG: scenario exit $?"
else
    echo "RIG: no scenario payload on /dev/vdb"
fi
rig_off
