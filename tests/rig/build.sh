#!/bin/sh
# Builds the real-Xen rig into $RIG_CACHE (default /var/cache/sidecore-rig) from
# Debian packages: xen.elf (Debian's Xen 4.17, gunzipped for QEMU's multiboot
# loader), vmlinuz (Debian's 6.1 kernel, Dom0 and PV DomU), dom0.img (a
# debootstrap minbase root with the Xen tools, as ext4), initrd-dom0.cpio.gz
# (busybox: load virtio/ext4, mount dom0.img, switch_root to /sbin/rig-init),
# and busybox + the blkfront/netfront modules for the DomU initramfs that boot.sh
# packs.
# Reused when $RIG_CACHE/stamp matches this script's inputs; rebuilt otherwise
# (or with --force).  Needs root (debootstrap, chroot).  Exit 0 or 1.
set -eu

RIG_DIR=$(cd "$(dirname "$0")" && pwd)
RIG_CACHE=${RIG_CACHE:-/var/cache/sidecore-rig}
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

# What the Dom0 root holds.  sidecored itself is built on the host (Debian 12
# too, same libxen 4.17 sonames) and handed to Dom0 with each boot.
# fio and e2fsprogs also serve the DomUs: the rig's guests mount a read-only
# copy of this root as their tools disk (domu-init.sh).  qemu-system-xen is
# QEMU's qdisk backend, for the side-by-side comparison (bench/).  iperf3,
# ping, ethtool and nc are for the net scenarios, in Dom0 and (through the
# tools disk) in the DomUs; iproute2 makes Dom0's bridge.
DOM0_PKGS="xen-utils-4.17,xenstore-utils,liburing2,libjansson4,libfuse3-3,libmicrohttpd12,iproute2,kmod,busybox,e2fsprogs,procps,util-linux,fio,qemu-system-xen,iperf3,iputils-ping,ethtool,netcat-openbsd"
HOST_PKGS="qemu-system-x86 debootstrap busybox-static cpio e2fsprogs kmod"
DOM0_IMG_MB=${RIG_DOM0_IMG_MB:-2048}

# The host's tools (QEMU runs the rig; the others build it), even when the
# cache is current: a cache copied to a new machine needs QEMU too.
# shellcheck disable=SC2086
"$RIG_DIR/../tools/install-deps.sh" $HOST_PKGS >&2

# The inputs that decide whether the cache is current.
stamp_want=$(cat "$RIG_DIR/build.sh" "$RIG_DIR/dom0-init.sh" | sha256sum | cut -c1-16)
if [ $FORCE = 0 ] && [ -f "$RIG_CACHE/stamp" ] &&
   [ "$(cat "$RIG_CACHE/stamp")" = "$stamp_want" ]; then
    echo "rig: cache $RIG_CACHE is current"
    exit 0
fi

log() { echo "rig: $*"; }
t0=$(date +%s)


# The mirror comes from this machine's apt configuration, never from the project.
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null |
         tr ' ' '\n' | grep -v security | head -n1)
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
             /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "rig: no Debian mirror in the apt configuration" >&2; exit 1; }

work="$RIG_CACHE.new"
rm -rf "$work"
mkdir -p "$work/debs" "$work/x"
root="$work/root"

log "debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include="$DOM0_PKGS" bookworm "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
t1=$(date +%s)

# The hypervisor matches the tools Dom0 got; the kernel is the newest 6.1.
xenver=$(chroot "$root" dpkg-query -W -f='${Version}' xen-utils-4.17)
kpkg=$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: \(linux-image-6\.1\.[^ ]*\)$/\1/p' | head -n1)
[ -n "$kpkg" ] || { echo "rig: no linux-image-6.1 package in apt" >&2; exit 1; }
log "fetching xen-hypervisor-4.17-amd64=$xenver and $kpkg"
(cd "$work/debs" && apt-get download -q -o APT::Sandbox::User=root "xen-hypervisor-4.17-amd64=$xenver" "$kpkg" >/dev/null)
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$work/x"; done
gunzip -c "$work"/x/boot/xen-4.17-amd64.gz >"$work/xen.elf"
cp "$work"/x/boot/vmlinuz-* "$work/vmlinuz"
kver=$(ls "$work/x/lib/modules")
echo "$kver" >"$work/kver"

mkdir -p "$root/lib/modules"
cp -a "$work/x/lib/modules/$kver" "$root/lib/modules/"
chroot "$root" depmod -a "$kver"

# Modules by name, dependencies first, as paths inside $root ("builtin" lines dropped).
mods_of() {
    for m in "$@"; do
        chroot "$root" modprobe -S "$kver" --show-depends "$m" | awk '$1=="insmod"{print $2}'
    done | awk '!seen[$0]++'
}

pack_busybox_tree() { # dir, modules...
    d=$1; shift
    mkdir -p "$d/bin" "$d/sbin" "$d/dev" "$d/proc" "$d/sys" "$d/mods" "$d/newroot" "$d/tmp"
    cp /bin/busybox "$d/bin/busybox"
    for a in sh mount umount insmod switch_root mkdir cat echo sleep poweroff dd sha256sum \
             ls grep sed awk head tail wc cmp tr stat blockdev mknod chroot cp rm dmesg sync \
             ip timeout; do
        ln -sf busybox "$d/bin/$a"
    done
    : >"$d/mods/order"
    for p in $(mods_of "$@"); do
        cp "$root$p" "$d/mods/"
        basename "$p" >>"$d/mods/order"
    done
}

log "Dom0 initramfs"
ird="$work/initrd-dom0"
pack_busybox_tree "$ird" virtio_pci virtio_blk ext4
cat >"$ird/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /mods/order); do insmod /mods/$m 2>/dev/null; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mount -t ext4 -o rw /dev/vda /newroot || { echo "RIG: cannot mount /dev/vda"; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev 2>/dev/null || umount /dev
exec switch_root /newroot /sbin/rig-init
EOF
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd-dom0.cpio.gz"

# The DomU side: busybox, the blkfront, netfront and ext4 modules; boot.sh adds
# the init script.
log "DomU initramfs tree"
pack_busybox_tree "$work/domu-tree" xen-blkfront xen-netfront ext4

log "Dom0 image"
install -m 0755 "$RIG_DIR/dom0-init.sh" "$root/sbin/rig-init"
mkdir -p "$root/rig" "$root/var/lib/rig" "$root/var/log/xen/console"
echo rig-dom0 >"$root/etc/hostname"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/usr/share/doc" "$root/usr/share/man"
mke2fs -q -t ext4 -L rigdom0 -d "$root" "$work/dom0.img" "${DOM0_IMG_MB}M"
t2=$(date +%s)

rm -rf "$root" "$work/x" "$work/debs" "$ird"
echo "$stamp_want" >"$work/stamp"
rm -rf "$RIG_CACHE"
mv "$work" "$RIG_CACHE"
log "built in $((t2 - t0)) s (debootstrap $((t1 - t0)) s); $(du -sh "$RIG_CACHE" | cut -f1) in $RIG_CACHE"
