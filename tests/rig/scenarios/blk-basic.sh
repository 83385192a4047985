#!/bin/sh
# Rig scenario (runs in Dom0): sidecored serves a file-backed disk to a PV DomU
# running Linux's xen-blkfront, once in poll mode and once in event mode.
# Checks: the in-kernel blkback is not loaded, sidecored runs on real Xen,
# xl create succeeds with script=block-sidecore, the guest sees the right size,
# and data the guest writes reads back identical in the guest and in the file.
. ./lib.sh
rig_install_sidecore
rig_check "in-kernel xen-blkback is not loaded" sh -c '! grep -q "^xen_blkback " /proc/modules'

mb=16
for mode in poll event; do
    if ! rig_start_sidecored "$mode"; then
        rig_fail "$mode: sidecored starts on real Xen"
        continue
    fi
    st=$(sidecorectl status 2>&1)
    echo "$st" | sed "s/^/RIG: sidecorectl status: /"
    rig_check "$mode: sidecored runs, platform xen" sh -c 'echo "$1" | grep -Eq "platform[\" :=]+xen"' _ "$st"

    img=/var/lib/rig/disk-$mode.img
    rm -f "$img"
    truncate -s 64M "$img"
    name=rig-$mode
    rig_domu_cfg "$name" "backend=0, vdev=xvda, script=block-sidecore, target=$img" "rig_mb=$mb rig_skip_mb=1"
    if rig_domu_start "$name"; then rig_ok "$mode: xl create with script=block-sidecore"
    else rig_fail "$mode: xl create with script=block-sidecore"; fi
    # What libxl wrote and sidecored answered, while the guest runs.
    if rig_wait_console "$name" "^DOMU-RESULT size" 120; then
        xenstore-ls -f /local/domain/0/backend/vbd | sed "s/^/RIG: xs: /"
        xenstore-ls -f "/local/domain/$(xl domid "$name")/device/vbd" | sed "s/^/RIG: xs: /"
        sidecorectl devices 2>&1 | sed "s/^/RIG: sidecorectl devices: /"
        rig_check_xenstore "$mode"
    fi
    rig_domu_wait "$name" 240

    size=$(rig_domu_result "$name" size)
    rig_check "$mode: guest sees xvda of 131072 sectors (got '$size')" test "$size" = 131072
    feat=$(rig_domu_result "$name" features)
    rig_say "$mode: blkfront features: $feat; queues $(rig_domu_result "$name" queues)"
    w=$(rig_domu_result "$name" write)
    r=$(rig_domu_result "$name" read)
    rig_check "$mode: guest reads back what it wrote ($mb MiB, sha256)" sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$w" "$r"
    f=$(dd if="$img" bs=1M skip=1 count=$mb 2>/dev/null | sha256sum | cut -d' ' -f1)
    rig_check "$mode: the backing file holds the guest's data" test "$f" = "$w"
    rig_check "$mode: guest finished its checks" grep -q "^DOMU-RESULT done" "/tmp/$name.console"

    rig_stop_sidecored
    sed "s/^/RIG: sidecored-$mode.log: /" "/tmp/sidecored-$mode.log" | tail -n 40
done
exit $RIG_TAP_FAILED
