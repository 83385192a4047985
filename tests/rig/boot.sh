#!/bin/sh
# Boots the rig once under QEMU TCG: Xen 4.17 -> Debian Dom0 -> the scenario.
#   boot.sh SCENARIO.sh [SERIAL_LOG]
# The scenario runs in Dom0 as /rig/scenario.sh (cwd /rig) next to lib.sh, all
# scenarios (scenarios/ and bench/, so one can source another with settings), the
# sidecore package (sidecore.deb, from $SC_DEB; or else this build's binaries in
# bin/ and the hotplug scripts in hotplug/), the DomU's
# initramfs (domu-initrd.cpio.gz) and kernel (/rig/vmlinuz), all packed into a
# tar that QEMU attaches as Dom0's /dev/vdb.  The cached dom0.img is used with
# snapshot=on, so every boot starts from the same image; it is attached twice:
# /dev/vda is Dom0's root, /dev/vdc a second, independent copy that scenarios
# serve to DomUs (the guests' read-only tools disk, the driver domain's root).
# /dev/vdd is an empty 256 MiB scratch block device (bench/ gives it to every
# backend it compares).
# Bounded by $RIG_BOOT_TIMEOUT seconds (default 600; the scenario gets that
# minus 120).  Exit 0 when Dom0 reached "RIG: poweroff", 1 otherwise; the
# serial log is the result.
set -eu

RIG_DIR=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$RIG_DIR/../.." && pwd)
RIG_CACHE=${RIG_CACHE:-/var/cache/sidecore-rig}
SC_BUILD=${SC_BUILD:-$SRC/build}
BOUND=${RIG_BOOT_TIMEOUT:-600}

scenario=${1:?usage: boot.sh SCENARIO.sh [SERIAL_LOG]}
serial=${2:-$(mktemp /tmp/rig-serial.XXXXXX)}

[ -f "$RIG_CACHE/stamp" ] || { echo "rig: no cache in $RIG_CACHE (run build.sh)" >&2; exit 1; }
# sidecore goes in as its Debian package when $SC_DEB names one (the make
# targets build it: make deb), else as this build's binaries.
SC_DEB=${SC_DEB:-}
if [ -n "$SC_DEB" ]; then
    [ -f "$SC_DEB" ] || { echo "rig: $SC_DEB missing (make deb)" >&2; exit 1; }
else
    for b in sidecored sidecorectl; do
        [ -x "$SC_BUILD/bin/$b" ] || { echo "rig: $SC_BUILD/bin/$b missing (make)" >&2; exit 1; }
    done
fi

stage=$(mktemp -d /tmp/rig-stage.XXXXXX)
qpid=""
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null || true
    rm -rf "$stage"
}
trap cleanup EXIT INT TERM

p="$stage/payload"
mkdir -p "$p/bin" "$p/hotplug"
if [ -n "$SC_DEB" ]; then
    cp "$SC_DEB" "$p/sidecore.deb"
else
    cp "$SC_BUILD/bin/sidecored" "$SC_BUILD/bin/sidecorectl" "$p/bin/"
    cp "$SRC/tools/hotplug/"* "$p/hotplug/" 2>/dev/null || true
fi
cp -a "$SRC/xenstore-schema" "$p/xenstore-schema"
cp "$scenario" "$p/scenario.sh"
mkdir -p "$p/scenarios" "$p/bench"
cp "$RIG_DIR"/scenarios/*.sh "$p/scenarios/"
cp "$RIG_DIR"/bench/*.sh "$p/bench/"
cp "$RIG_DIR/lib.sh" "$p/lib.sh"
chmod +x "$p/scenario.sh"
echo $((BOUND - 120)) >"$p/timeout"
# The DomU initramfs: the cached busybox tree plus domu-init.sh as /init, and
# what the driver domain (rig_role=dd) runs from its own root: /rig-dd.
cp -a "$RIG_CACHE/domu-tree" "$stage/domu"
install -m 0755 "$RIG_DIR/domu-init.sh" "$stage/domu/init"
mkdir -p "$stage/domu/rig-dd"
cp -a "$p/bin" "$p/hotplug" "$stage/domu/rig-dd/"
[ -z "$SC_DEB" ] || cp "$SC_DEB" "$stage/domu/rig-dd/sidecore.deb"
install -m 0755 "$RIG_DIR/dd-init.sh" "$stage/domu/rig-dd/dd-init.sh"
(cd "$stage/domu" && find . | cpio -o -H newc --quiet | gzip -1) >"$p/domu-initrd.cpio.gz"
cp "$RIG_CACHE/vmlinuz" "$p/vmlinuz"
tar -cf "$stage/payload.tar" -C "$p" .
truncate -s 256M "$stage/scratch.img"
truncate -s %1M "$stage/payload.tar"

: >"$serial"
echo "rig: booting (bound ${BOUND}s), serial log $serial"
t0=$(date +%s)
# noxsave (Dom0 here, every DomU in lib.sh): with XSAVE the Linux PV domains
# enable AVX, and under QEMU 7.2's TCG their short-lived processes died now
# and then of faults in ld.so/libc (registers holding garbage; with
# xen-blkback too): see tests/rig/README.md, "Known flakiness".
timeout -k 10 "$BOUND" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu max -m 3072 -smp 2 \
    -kernel "$RIG_CACHE/xen.elf" \
    -append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 smap=0" \
    -initrd "$RIG_CACHE/vmlinuz console=hvc0 loglevel=4 noxsave,$RIG_CACHE/initrd-dom0.cpio.gz" \
    -drive "file=$RIG_CACHE/dom0.img,if=virtio,format=raw,snapshot=on" \
    -drive "file=$stage/payload.tar,if=virtio,format=raw,readonly=on" \
    -drive "file=$RIG_CACHE/dom0.img,if=virtio,format=raw,snapshot=on" \
    -drive "file=$stage/scratch.img,if=virtio,format=raw,cache=unsafe" \
    -serial "file:$serial" -display none -no-reboot -nic none -monitor none &
qpid=$!
rc=0
wait "$qpid" || rc=$?
qpid=""
echo "rig: QEMU ended (status $rc) after $(( $(date +%s) - t0 )) s"
grep -q "RIG: poweroff" "$serial"
