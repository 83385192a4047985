#!/bin/sh
# deb_test.sh - the Debian package in a clean Debian 12 (TAP; root; minutes).
#
# apt installs $SC_DEB (make deb-test builds it) with its dependencies into a
# debootstrap minbase chroot; the files are where docs/operations.md says,
# sidecored and sidecorectl run, systemd-analyze accepts the unit, the
# hotplug scripts are executable; an edited config survives a reinstall;
# remove keeps the config, purge (and autoremove) leaves the file list as it
# was before the install.
#
# The base chroot is cached as $DEB_TEST_CACHE/base-<key>.tar.gz, the key
# being its suite and package list, so a rerun skips debootstrap.  Each run
# unpacks a copy; the copy and its /proc mount go on any exit.  The mirror is
# this machine's apt configuration's.
set -u

SC_DEB=${SC_DEB:-}
DEB_TEST_CACHE=${DEB_TEST_CACHE:-/var/cache/sidecore-deb-test}
SUITE=bookworm
# systemd: for systemd-analyze verify (minbase has no init)
BASE_PKGS="systemd"

TAP_N=0
TAP_FAILED=0
ok() { # name cmd...
    name=$1; shift
    TAP_N=$((TAP_N + 1))
    if "$@"; then
        echo "ok $TAP_N - $name"
    else
        echo "not ok $TAP_N - $name"
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}
diag() { echo "# $*"; }
bail() { echo "Bail out! $*"; exit 1; }

[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (debootstrap, chroot)"; exit 0; }
[ -f "$SC_DEB" ] || bail "SC_DEB must name the .deb (make deb-test)"

root=""
mounted=""
cleanup() {
    for m in $mounted; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
    mounted=""
    if [ -n "$root" ]; then
        # never delete through a mount that would not go
        if grep -q " $root/" /proc/mounts; then
            echo "# deb_test: $root still has mounts; left in place" >&2
        else
            rm -rf "$root"
        fi
        rm -f "$root.before" "$root.after" "$root.apt" "$root.log"
    fi
    root=""
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

t0=$(date +%s)

# ---- the base chroot, from the cache or debootstrap ----
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
         tr ' ' '\n' | grep -v security | head -n1)
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
             /etc/apt/sources.list)
fi
[ -n "$mirror" ] || bail "no Debian mirror in the apt configuration"
security=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
           tr ' ' '\n' | grep security | head -n1)
if [ -z "$security" ] && [ -f /etc/apt/sources.list ]; then
    security=$(awk '$1=="deb" && $0 ~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
               /etc/apt/sources.list)
fi

key=$(echo "$SUITE minbase $BASE_PKGS" | sha256sum | cut -c1-16)
base="$DEB_TEST_CACHE/base-$key.tar.gz"
mkdir -p "$DEB_TEST_CACHE"
root=$(mktemp -d /var/tmp/sidecore-deb-test.XXXXXX)
chmod 755 "$root" # apt's downloads run as _apt
if [ ! -f "$base" ]; then
    diag "debootstrap $SUITE ($BASE_PKGS) from $mirror into the cache"
    debootstrap --variant=minbase --include="$(echo "$BASE_PKGS" | tr ' ' ,)" \
        "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 20 "$root.log"; rm -f "$root.log"; bail "debootstrap failed"; }
    rm -f "$root.log"
    rm -f "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" -czf "$base.new" . && mv "$base.new" "$base"
else
    diag "base chroot from $base"
    tar -C "$root" -xzf "$base" || bail "cannot unpack $base"
fi
t1=$(date +%s)

cp /etc/resolv.conf "$root/etc/resolv.conf"
# The suites this machine builds against: the package's shlibs want the
# libxen of bookworm's updates, as the host has it.
{
    echo "deb $mirror $SUITE main"
    echo "deb $mirror $SUITE-updates main"
    [ -z "$security" ] || echo "deb $security $SUITE-security main"
} >"$root/etc/apt/sources.list"
# apt's _apt user cannot write the unpacked copy's partial/ directories
echo 'APT::Sandbox::User "root";' >"$root/etc/apt/apt.conf.d/00sidecore-deb-test"
mount -t proc proc "$root/proc" || bail "cannot mount proc in the chroot"
mounted="$root/proc"
export DEBIAN_FRONTEND=noninteractive
inroot() { chroot "$root" "$@"; }

inroot apt-get update -q >/dev/null 2>&1 || bail "apt-get update in the chroot failed"

# What the chroot holds, less what apt and dpkg keep about their own work
# (and systemd-analyze's stamp).
snapshot() {
    (cd "$root" && find . -xdev) |
        grep -v -E '^\./(proc|tmp|var/lib/apt|var/lib/dpkg|var/cache|var/log)(/|$)' |
        grep -v -x -e ./etc/ld.so.cache -e ./run/systemd/systemd-units-load | sort
}
snapshot >"$root.before"

# ---- install ----
cp "$SC_DEB" "$root/tmp/sidecore.deb"
ok "apt-get installs the package and its dependencies" \
    sh -c "chroot '$root' apt-get install -y -q /tmp/sidecore.deb >'$root.apt' 2>&1"
diag "$(grep -c '^Setting up' "$root.apt") packages set up"
# (apt's "Can not write log" wants /dev/pts, which nothing here needs)
grep -E '^(Setting up sidecore|Created|E:|W:)' "$root.apt" | grep -v posix_openpt | sed 's/^/# /'

# Every file of the package where dpkg put it, and the ones the docs name.
missing=$(dpkg-deb -c "$SC_DEB" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' |
          while read -r f; do [ -e "$root$f" ] || echo "$f"; done)
ok "every file of the package is installed" test -z "$missing"
[ -z "$missing" ] || echo "$missing" | sed 's/^/# missing: /'
for f in /usr/sbin/sidecored /usr/sbin/sidecorectl /lib/systemd/system/sidecored.service \
         /etc/sidecore/sidecored.conf /etc/default/sidecored /usr/share/doc/sidecore/xl.md \
         /usr/share/doc/sidecore/operations.md /usr/share/doc/sidecore/copyright; do
    ok "$f installed" test -f "$root$f"
done
for s in block-sidecore vif-sidecore; do
    ok "/etc/xen/scripts/$s executable" test -x "$root/etc/xen/scripts/$s"
done
ok "xensimd is not installed (a test tool)" sh -c "! chroot '$root' sh -c 'command -v xensimd'"
# shellcheck disable=SC2016 # ${Conffiles} is dpkg-query's
conffiles=$(inroot dpkg-query -W -f='${Conffiles}\n' sidecore | awk 'NF {print $1}' | sort | tr '\n' ' ')
ok "the /etc files are conffiles" test "$conffiles" = \
    "/etc/default/sidecored /etc/sidecore/sidecored.conf /etc/xen/scripts/block-sidecore /etc/xen/scripts/vif-sidecore "
ok "the unit's ExecStart is the installed sidecored" \
    grep -q '^ExecStart=/usr/sbin/sidecored --platform xen' "$root/lib/systemd/system/sidecored.service"
ok "the unit is enabled" test -L "$root/etc/systemd/system/multi-user.target.wants/sidecored.service"

# ---- the programs run ----
ok "sidecored --help runs in the chroot" sh -c "chroot '$root' sidecored --help | grep -q -- '--config FILE'"
ok "sidecorectl --help runs in the chroot" sh -c "chroot '$root' sidecorectl --help 2>&1 | grep -q 'usage'"
ok "sidecorectl without a daemon fails cleanly" sh -c "! chroot '$root' sidecorectl status >/dev/null 2>&1"
# verify exits 0 on a bad setting (it warns and ignores it): silence too
out=$(inroot systemd-analyze verify --man=no /lib/systemd/system/sidecored.service 2>&1)
ok "systemd-analyze verify accepts the unit, without a warning" test $? = 0 -a -z "$out"
[ -z "$out" ] || echo "$out" | sed 's/^/# verify: /'

# ---- a reinstall (an upgrade's path through dpkg) keeps an edited config ----
echo "cores = 2" >>"$root/etc/sidecore/sidecored.conf"
ok "reinstalling the package succeeds" sh -c "chroot '$root' dpkg -i /tmp/sidecore.deb </dev/null >/dev/null 2>&1"
ok "an edited config survives the reinstall" grep -q -x 'cores = 2' "$root/etc/sidecore/sidecored.conf"

# ---- remove keeps the config; purge leaves nothing ----
mkdir -p "$root/run/sidecore/sidecored.rings"
: >"$root/run/sidecore/sidecored.rings/1-51712-0"
ok "apt-get remove" sh -c "chroot '$root' apt-get remove -y -q sidecore >/dev/null 2>&1"
ok "remove takes the programs" test ! -e "$root/usr/sbin/sidecored"
ok "remove keeps the config" test -f "$root/etc/sidecore/sidecored.conf"
ok "apt-get purge" sh -c "chroot '$root' apt-get purge -y -q sidecore >/dev/null 2>&1"
ok "purge removes /etc/sidecore" test ! -e "$root/etc/sidecore"
ok "purge removes /run/sidecore" test ! -e "$root/run/sidecore"
ok "apt-get autoremove --purge (the dependencies)" \
    sh -c "chroot '$root' apt-get autoremove --purge -y -q >/dev/null 2>&1"
snapshot >"$root.after"
left=$(diff "$root.before" "$root.after" | grep '^[<>]')
ok "nothing of the package is left behind" test -z "$left"
[ -z "$left" ] || echo "$left" | head -n 40 | sed 's/^/# /'
cleanup
t2=$(date +%s)
diag "base $((t1 - t0)) s, package checks $((t2 - t1)) s, total $((t2 - t0)) s"
echo "1..$TAP_N"
[ "$TAP_FAILED" = 0 ]
