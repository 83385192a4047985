#!/bin/sh
# Installs the Debian packages sidecore needs to build, test and demo.
# Run as root it installs what is missing (apt-get update once, then install);
# otherwise it lists what is missing and fails.  Arguments name more packages
# (the rig's host tools: tests/rig/build.sh).
set -eu

PACKAGES="gcc clang make pkg-config perl libxen-dev liburing-dev libjansson-dev
libcmocka-dev libfuse3-dev fuse3 xenstore-utils iproute2 procps valgrind libmicrohttpd-dev curl
fio e2fsprogs util-linux mount iperf3 iputils-ping ethtool libclang-rt-dev tmux scdoc groff-base
gnuplot-nox $*"

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    [ "$status" = "installed" ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run 'make deps' as root)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
