#!/bin/sh
# Rig scenario (runs in Dom0): a filesystem and fio on Linux's xen-blkfront
# through sidecored, in poll and in event mode.  The guest gets two disks from
# sidecored: xvda, a file-backed scratch disk, and xvdb, the read-only tools
# disk (a copy of the rig's Debian root on Dom0's /dev/vdc) it runs mke2fs,
# e2fsck and fio from.  Checks: mkfs.ext4, e2fsck clean when fresh and after
# files were written, the files read back after a remount, fio random writes
# verified by crc32c, and the tools disk is read-only to the guest.
. ./lib.sh
rig_install_sidecore

for mode in poll event; do
    if ! rig_start_sidecored "$mode"; then
        rig_fail "$mode: sidecored starts"
        continue
    fi
    img=/var/lib/rig/fs-$mode.img
    rm -f "$img"
    truncate -s 128M "$img"
    g=fs-$mode
    rig_domu_cfg "$g" "backend=0, vdev=xvda, script=block-sidecore, target=$img', \
'backend=0, vdev=xvdb, access=ro, script=block-sidecore, target=/dev/vdc" \
        "rig_mb=4 rig_skip_mb=1 rig_fs=1 rig_fio=1" 1 384
    rig_check "$mode: xl create with a scratch disk and the read-only tools disk" rig_domu_start "$g"
    rig_domu_wait "$g" 400

    rig_check "$mode: guest mounted the tools disk" test "$(rig_domu_result $g tools)" = 1
    rig_check "$mode: the tools disk (access=ro) is read-only in the guest" \
        test "$(rig_domu_result $g tools-ro)" = 1
    rig_check "$mode: raw write/read before mkfs" sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ \
        "$(rig_domu_result $g write)" "$(rig_domu_result $g read)"
    rig_check "$mode: mkfs.ext4 in the guest" test "$(rig_domu_result $g mkfs)" = ok
    rig_check "$mode: e2fsck -f of the fresh filesystem is clean" test "$(rig_domu_result $g fsck-fresh)" = clean
    rig_check "$mode: files written, remounted, read back identical" test "$(rig_domu_result $g fs-files)" = ok
    rig_check "$mode: e2fsck -f after the writes is clean" test "$(rig_domu_result $g fsck-used)" = clean
    rig_check "$mode: fio randwrite with crc32c verify" test "$(rig_domu_result $g fio-verify)" = ok
    # The filesystem the guest made is in the file, and Dom0's e2fsck agrees.
    rig_check "$mode: Dom0's e2fsck of the backing file is clean" e2fsck -fn "$img"
    rig_check "$mode: guest finished" grep -aq "^DOMU-RESULT done" "/tmp/$g.console"
    rig_stop_sidecored
    tail -n 30 "/tmp/sidecored-$mode.log" | sed "s/^/RIG: sidecored-$mode.log: /"
done
exit $RIG_TAP_FAILED
