#!/bin/sh
# Runs the real-Xen rig: builds it (cached in $RIG_CACHE, see build.sh), then
# boots it once per scenario (tests/rig/scenarios/*.sh, or those named on the
# command line) and prints TAP on stdout: the scenario's own checks ("RIG-TAP:"
# lines from the serial log) plus, per scenario, that Dom0 came up and that the
# boot ended cleanly.  Serial logs are kept in $RIG_LOGS (default /tmp/rig-logs).
# Needs root and sidecore's package ($SC_DEB, which the make targets build) or
# else the host build of sidecored (build/bin, or $SC_BUILD/bin).
# Time bounds: each boot $RIG_BOOT_TIMEOUT s when set, else the scenario's own
# "# rig-boot-timeout: SECONDS" line, else 600; the build has its own bound of
# 900 s.  Exit 0 when every check passed, 1 otherwise.
set -u

RIG_DIR=$(cd "$(dirname "$0")" && pwd)
RIG_LOGS=${RIG_LOGS:-/tmp/rig-logs}
BOOT_TIMEOUT_SET=${RIG_BOOT_TIMEOUT:-}

n=0
failed=0
tap() { # ok|not ok, description
    n=$((n + 1))
    echo "$1 $n - $2"
    [ "$1" = ok ] || failed=1
}

t0=$(date +%s)
if timeout 900 "$RIG_DIR/build.sh" >&2; then
    tap ok "rig built or cached ($(( $(date +%s) - t0 )) s)"
else
    tap "not ok" "rig build"
    echo "1..$n"
    exit 1
fi

if [ $# -gt 0 ]; then scenarios="$*"; else scenarios=$(ls "$RIG_DIR"/scenarios/*.sh); fi
mkdir -p "$RIG_LOGS"
for s in $scenarios; do
    name=$(basename "$s" .sh)
    log="$RIG_LOGS/$name.serial"
    own=$(sed -n 's/^# rig-boot-timeout: *\([0-9][0-9]*\).*/\1/p' "$s" | head -n1)
    RIG_BOOT_TIMEOUT=${BOOT_TIMEOUT_SET:-${own:-600}}
    export RIG_BOOT_TIMEOUT
    t1=$(date +%s)
    "$RIG_DIR/boot.sh" "$s" "$log" >&2
    boot_rc=$?
    secs=$(( $(date +%s) - t1 ))
    if grep -aq "^RIG: dom0 up" "$log"; then tap ok "$name: Xen and Dom0 up"
    else tap "not ok" "$name: Xen and Dom0 up (see $log)"; fi
    checks=0
    # The scenario's checks, in order, numbered here.
    while IFS= read -r line; do
        line=$(printf '%s' "$line" | tr -d '\r')
        case "$line" in
        "RIG-TAP: ok - "*) tap ok "$name: ${line#RIG-TAP: ok - }" ;;
        "RIG-TAP: not ok - "*) tap "not ok" "$name: ${line#RIG-TAP: not ok - }" ;;
        *) continue ;;
        esac
        checks=$((checks + 1))
    done <<EOF
$(grep -a "^RIG-TAP: " "$log")
EOF
    [ $checks -gt 0 ] || tap "not ok" "$name: the scenario reported no checks (see $log)"
    if grep -aq "^RIG: scenario exit 0" "$log"; then tap ok "$name: scenario exited 0"
    else tap "not ok" "$name: scenario exit: $(grep -a '^RIG: scenario exit' "$log" | tr -d '\r' || echo none)"; fi
    if [ $boot_rc = 0 ]; then tap ok "$name: powered off cleanly in ${secs} s"
    else tap "not ok" "$name: no clean poweroff within ${RIG_BOOT_TIMEOUT} s (took ${secs} s)"; fi
done
echo "1..$n"
exit $failed
