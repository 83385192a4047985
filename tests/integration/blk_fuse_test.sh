#!/bin/bash
# blk_fuse_test.sh - real block consumers through the rings: a guest's vbd,
# served by sidecored from a sparse file, exported by simblkfuse as a FUSE
# file, with a loop device on it: mkfs.ext4, e2fsck -f, ext4 files checked
# across a remount, and a fio verify job.  Once with persistent grants and
# once without.  Needs root, /dev/fuse and loop devices (skips otherwise).
set -u
. "$(dirname "$0")/../tools/simworld.sh"

SIMBLKFUSE="$SC_BUILD/bin/simblkfuse"
SIDECORED="$SC_BUILD/bin/sidecored"
WORK=""
SC_PID=""
FUSE_PID=""
LOOPDEV=""
EXTMNT=""
FUSEMNT=""

skip_all() { echo "1..0 # SKIP $1"; trap - EXIT; simworld_cleanup; exit 0; }

[ "$(id -u)" = 0 ] || skip_all "needs root for loop devices and mounts"
[ -c /dev/fuse ] || skip_all "/dev/fuse is not available"
[ -e /dev/loop-control ] || skip_all "loop devices are not available (no /dev/loop-control)"
probe=$(mktemp "${TMPDIR:-/tmp}/blkfuse-probe.XXXXXX")
truncate -s 1M "$probe"
if probe_dev=$(losetup -f --show "$probe" 2>/dev/null); then
    losetup -d "$probe_dev"
    rm -f "$probe"
else
    rm -f "$probe"
    skip_all "cannot attach a loop device"
fi

blkfuse_cleanup() {
    if [ -n "$EXTMNT" ] && mountpoint -q "$EXTMNT"; then umount -l "$EXTMNT" 2>/dev/null; fi
    if [ -n "$LOOPDEV" ]; then losetup -d "$LOOPDEV" 2>/dev/null; LOOPDEV=""; fi
    if [ -n "$FUSEMNT" ] && mountpoint -q "$FUSEMNT"; then
        fusermount3 -u -z "$FUSEMNT" 2>/dev/null || umount -l "$FUSEMNT" 2>/dev/null
    fi
    for pid in $FUSE_PID $SC_PID; do
        kill "$pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    FUSE_PID=""
    SC_PID=""
    [ -n "$WORK" ] && rm -rf "$WORK"
    WORK=""
    return 0
}
SIM_CLEANUP_HOOKS="$SIM_CLEANUP_HOOKS blkfuse_cleanup"


simworld_start
WORK=$(mktemp -d "${TMPDIR:-/tmp}/blkfuse.XXXXXX")

# Runs a command with its output in the test's log (shown if it fails).
q() {
    "$@" >"$WORK/cmd.out" 2>&1 && return 0
    local rc=$?
    sed 's/^/# /' "$WORK/cmd.out" | tail -30
    return $rc
}

# Waits up to $2 tenths of a second for "ready" in file $1.
wait_ready() {
    for _ in $(seq 1 "$2"); do
        grep -q ready "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# Writes N files of random content into the ext4 and their checksums beside.
write_files() {
    local dir=$1 i
    mkdir -p "$dir/sub" || return 1
    for i in 1 2 3 4 5 6; do
        dd if=/dev/urandom of="$dir/sub/f$i" bs=64k count=$((i * 7)) status=none || return 1
    done
    dd if=/dev/urandom of="$dir/big" bs=1M count=24 status=none || return 1
    # Sizes that are not whole blocks end in partial pages.
    head -c 12345 /dev/urandom >"$dir/odd" || return 1
    (cd "$dir" && sha256sum big odd sub/*) >"$WORK/sums"
}

for tool in mkfs.ext4 e2fsck fio losetup fusermount3 sha256sum mountpoint; do
    ok "$tool is installed" q command -v "$tool"
done

# Writes at offsets and lengths that are not whole sectors (read-modify-write
# in simblkfuse; the large one is split into several requests in flight)
# straight into the FUSE file; the disk, read back through the
# rings, and sidecored's backing file must both hold exactly that.
unaligned_writes() {
    local disk=$1 img=$2 exp="$WORK/expected"
    head -c 5000 /dev/urandom >"$WORK/pat1" && head -c 100 /dev/urandom >"$WORK/pat2" &&
        head -c 4096 /dev/urandom >"$WORK/pat3" &&
        head -c $((3 * 1024 * 1024 + 777)) /dev/urandom >"$WORK/pat4" || return 1
    truncate -s 0 "$exp" && truncate -s 4M "$exp"
    local f off
    for f in "pat1 1234" "pat2 70003" "pat3 20000" "pat4 102407"; do
        set -- $f
        off=$2
        dd if="$WORK/$1" of="$disk" bs=1M oflag=seek_bytes seek="$off" conv=notrunc,fsync \
            status=none || return 1
        dd if="$WORK/$1" of="$exp" bs=1M oflag=seek_bytes seek="$off" conv=notrunc \
            status=none || return 1
    done
    echo 3 >/proc/sys/vm/drop_caches
    cmp -n 4M "$disk" "$exp" && cmp -n 4M "$img" "$exp"
}

# One whole run: $1 label, the rest extra simblkfuse options.
run_mode() {
    local label=$1; shift
    local dom devid img="$WORK/disk-$label.img" log="$WORK/fuse-$label.log"
    FUSEMNT="$WORK/fuse-$label"
    EXTMNT="$WORK/ext4-$label"
    mkdir -p "$FUSEMNT" "$EXTMNT"

    dom=$("$XENSIMCTL" create "guest-$label")
    ok "$label: guest created" test -n "$dom"
    truncate -s 256M "$img"
    devid=$("$XENSIMCTL" vbd-attach "$dom" --backend-domid 0 --target "$img" --vdev xvda)
    is "$label: vbd attached as xvda" "$devid" 51712

    "$SIMBLKFUSE" --dir "$SIMDIR" --domid "$dom" --vdev "$devid" -v "$@" \
        --ready-fd 3 "$FUSEMNT" -f 3>"$WORK/fuse-$label.ready" 2>"$log" &
    FUSE_PID=$!
    if ! ok "$label: simblkfuse connected and mounted" wait_ready "$WORK/fuse-$label.ready" 150; then
        sed 's/^/# /' "$log"
        return 1
    fi
    is "$label: the disk file has the backing file's size" \
        "$(stat -c %s "$FUSEMNT/disk")" "$(stat -c %s "$img")"
    local want_pers=1
    [[ " $* " == *" --no-persistent "* ]] && want_pers=0
    ok "$label: persistent grants negotiated as asked ($want_pers)" \
        grep -q "persistent $want_pers," "$log"

    ok "$label: unaligned writes land exactly, in the file and the backend" \
        unaligned_writes "$FUSEMNT/disk" "$img"

    LOOPDEV=$(losetup --direct-io=off -f --show "$FUSEMNT/disk")
    if ! ok "$label: loop device on the FUSE file" test -b "$LOOPDEV"; then
        LOOPDEV=""
        return 1
    fi
    ok "$label: mkfs.ext4" q mkfs.ext4 -q -F "$LOOPDEV"
    ok "$label: e2fsck -f -n after mkfs" q e2fsck -f -n "$LOOPDEV"
    ok "$label: mount the ext4" q mount -t ext4 "$LOOPDEV" "$EXTMNT"
    ok "$label: write files with known content" q write_files "$EXTMNT"
    ok "$label: umount" q umount "$EXTMNT"
    ok "$label: e2fsck -f -n after writing" q e2fsck -f -n "$LOOPDEV"
    # The backend's file itself holds the file system (the data went
    # through the rings, not only into a cache).
    ok "$label: e2fsck -f -n of sidecored's backing file" q e2fsck -f -n "$img"
    ok "$label: mount again" q mount -t ext4 -o ro "$LOOPDEV" "$EXTMNT"
    # Drop the caches so the checksums read through the rings again.
    echo 3 >/proc/sys/vm/drop_caches
    ok "$label: files read back with their checksums" \
        bash -c "cd '$EXTMNT' && sha256sum --quiet -c '$WORK/sums'"
    ok "$label: umount again" q umount "$EXTMNT"

    local fio_job=(--name=v --filename="$LOOPDEV" --rw=randwrite --bs=4k --size=64M
        --verify=crc32c --direct=1 --iodepth=16 --ioengine=libaio --verify_fatal=1 --runtime=30
        --verify_state_save=0)  # no state file left in the working directory
    ok "$label: fio random-write verify job" q timeout $((45 * WAIT_SCALE)) fio "${fio_job[@]}"
    # The job's own verify may read the FUSE file's page cache: read it all
    # again through the rings.
    echo 3 >/proc/sys/vm/drop_caches
    ok "$label: fio verifies the same blocks again after dropping caches" \
        q timeout $((45 * WAIT_SCALE)) fio "${fio_job[@]}" --verify_only

    ok "$label: loop device detached" q losetup -d "$LOOPDEV"
    LOOPDEV=""
    ok "$label: FUSE unmounted" q fusermount3 -u "$FUSEMNT"
    local rc=0
    for _ in $(seq 1 100); do kill -0 "$FUSE_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$FUSE_PID" 2>/dev/null; then
        rc="still running 10 s after the unmount"
    else
        wait "$FUSE_PID" || rc=$?
        FUSE_PID=""
    fi
    is "$label: simblkfuse exits 0 after the unmount" "$rc" 0
    ok "$label: no I/O errors reported" grep -q " errors 0 " "$log"
    sed 's/^/# /' "$log"
    ok "$label: vbd detached" q "$XENSIMCTL" vbd-detach "$dom" "$devid" --timeout 10
    ok "$label: guest destroyed" q "$XENSIMCTL" destroy "$dom"
    rm -f "$img"
}

"$SIDECORED" --cores 2 --ready-fd 3 3>"$WORK/sidecored.ready" 2>"$WORK/sidecored.log" &
SC_PID=$!
if ok "sidecored serving as dom0" wait_ready "$WORK/sidecored.ready" 100; then
    run_mode persistent
    run_mode nonpersistent --no-persistent --direct-io
    ok "sidecored still running" kill -0 "$SC_PID"
else
    sed 's/^/# /' "$WORK/sidecored.log"
fi

done_testing
