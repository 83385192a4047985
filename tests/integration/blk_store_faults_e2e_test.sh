#!/bin/bash
# blk_store_faults_e2e_test.sh - what blkback's store layer does with
# discards, writeback errors and shared block devices, end to end: a guest's
# disk served by sidecored, exported by simblkfuse as a FUSE file whose
# fallocate(PUNCH_HOLE) is a blkif discard and whose fsync is a blkif flush.
#  - a discard of a file-backed disk punches a hole in the backing file (its
#    blocks are freed: st_blocks drops; cut in 64 MiB parts) and reads back
#    as zeros, while another guest's verified I/O goes on without an error;
#  - a discard of a disk on a loop device goes through the asynchronous path
#    (the io_uring block discard command, or the worker where the kernel has
#    none), and again with the worker forced (SIDECORE_BLK_DISCARD=worker):
#    the loop's backing file loses the blocks;
#  - a store whose fsync fails once (simhangfs's fsync-error) makes every
#    later flush of that disk fail, after the store is healthy again, until
#    the frontend reconnects; logged once;
#  - a store that fails chosen reads or writes (EIO, ENOSPC) or answers
#    short: those requests, and only those, are answered as errors and
#    logged with the store's reason, while another guest verifies;
#  - mode "w" on a loop device another process holds O_EXCL fails the vbd
#    with an "in use" error; "w!" serves it; while a "w" disk is served, the
#    device cannot be claimed by anyone else.
# Everything it starts (daemon, FUSE servers and mounts, loop devices, the
# holder) is stopped on any exit.  Needs root, /dev/fuse and loop devices.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

SIMBLKFUSE="$SC_BUILD/bin/simblkfuse"
SIMHANGFS="$SC_BUILD/bin/simhangfs"
FUSE_PID=""
FUSEMNT=""
HANG_PID=""
HANG_MNT=""
HOLD_PID=""
LOOPS=""

skip_all() { echo "1..0 # SKIP $1"; trap - EXIT; simworld_cleanup; exit 0; }

[ "$(id -u)" = 0 ] || skip_all "needs root for loop devices and mounts"
[ -c /dev/fuse ] || skip_all "/dev/fuse is not available"
[ -e /dev/loop-control ] || skip_all "no loop devices"
for tool in losetup fallocate fusermount3 perl; do
    command -v "$tool" >/dev/null || skip_all "$tool is not installed"
done

# ---- cleanup: mounts first (their users block otherwise), then devices ----

fuse_stop() {
    if [ -n "$FUSEMNT" ] && grep -q " $FUSEMNT " /proc/mounts; then
        fusermount3 -u "$FUSEMNT" 2>/dev/null || fusermount3 -u -z "$FUSEMNT" 2>/dev/null
    fi
    if [ -n "$FUSE_PID" ]; then
        for _ in $(seq 1 100); do kill -0 "$FUSE_PID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$FUSE_PID" 2>/dev/null
        wait "$FUSE_PID" 2>/dev/null
    fi
    FUSE_PID=""
    [ -n "$FUSEMNT" ] && rmdir "$FUSEMNT" 2>/dev/null
    FUSEMNT=""
    return 0
}

hangfs_stop() {
    if [ -n "$HANG_PID" ]; then
        kill -TERM "$HANG_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$HANG_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$HANG_PID" 2>/dev/null
        wait "$HANG_PID" 2>/dev/null
        HANG_PID=""
    fi
    if [ -n "$HANG_MNT" ]; then
        grep -q " $HANG_MNT " /proc/mounts &&
            { fusermount3 -u -z "$HANG_MNT" 2>/dev/null || umount -l "$HANG_MNT" 2>/dev/null; }
        rmdir "$HANG_MNT" 2>/dev/null
        HANG_MNT=""
    fi
    return 0
}

faults_cleanup() {
    local l
    fuse_stop
    [ -n "$HOLD_PID" ] && { kill "$HOLD_PID" 2>/dev/null; wait "$HOLD_PID" 2>/dev/null; }
    HOLD_PID=""
    hangfs_stop
    return 0
}
# Loop devices go last, after the daemon let go of them.
loops_cleanup() {
    local l
    for l in $LOOPS; do losetup -d "$l" 2>/dev/null; done
    LOOPS=""
    return 0
}
SIM_CLEANUP_HOOKS="faults_cleanup $SIM_CLEANUP_HOOKS loops_cleanup"

# ---- helpers ----

# fuse_start GUEST DEVID [SIMBLKFUSE-OPTION...]: simblkfuse connected to the
# disk, mounted on $FUSEMNT (one at a time).
fuse_start() {
    FUSEMNT=$(mktemp -d "$SIMDIR/fuse.XXXXXX") || return 1
    rm -f "$SIMDIR/fuse.ready"
    "$SIMBLKFUSE" --dir "$XENSIM_DIR" --domid "$1" --vdev "$2" --ready-fd 3 "${@:3}" "$FUSEMNT" -f \
        3>"$SIMDIR/fuse.ready" 2>>"$SIMDIR/simblkfuse.log" &
    FUSE_PID=$!
    wait_for 15 grep -q ready "$SIMDIR/fuse.ready"
}

# loop_new SIZE: a loop device over a new file in the world; prints the device.
loop_new() {
    local f d
    f=$(disk_file "$1") || return 1
    d=$(losetup -f --show "$f") || return 1
    echo "$d"
}
loop_file() { losetup -n -O BACK-FILE "$1" | sed 's/ *$//'; }

blocks() { stat -c %b "$1"; }
# fill FILE MIB: MIB MiB of random bytes from the start, on disk.
fill() { dd if=/dev/urandom of="$1" bs=1M count="$2" conv=notrunc,fsync status=none; }
# zeros_at FILE OFF_MIB LEN_MIB: the range reads as zeros (page cache dropped).
zeros_at() {
    echo 3 >/proc/sys/vm/drop_caches
    cmp -s -n $(($3 << 20)) <(dd if="$1" bs=1M skip="$2" count="$3" status=none) /dev/zero
}
# fdsync FILE: one 4 KiB write at 1 MiB and fdatasync (a flush of the disk).
fdsync() {
    dd if=/dev/urandom of="$1" bs=4k count=1 seek=256 conv=notrunc,fdatasync status=none
}
err_node() { echo "/local/domain/0/error/backend/vbd/$1/$2/error"; }
err_has() { xs0 xenstore-read "$(err_node "$1" "$2")" 2>/dev/null | grep -q "$3"; }

# hold DEV: a process holding DEV open O_EXCL (as a mount would) until killed.
hold() {
    rm -f "$SIMDIR/held"
    perl -MFcntl -e 'sysopen(my $f, $ARGV[0], O_RDWR | O_EXCL) or die "$ARGV[0]: $!\n";
                     open(my $o, ">", $ARGV[1]) or die; print $o "held\n"; close $o; sleep 60' \
        "$1" "$SIMDIR/held" 2>>"$SIMDIR/hold.log" &
    HOLD_PID=$!
    wait_for 5 test -s "$SIMDIR/held"
}
unhold() { kill "$HOLD_PID" 2>/dev/null; wait "$HOLD_PID" 2>/dev/null; HOLD_PID=""; }
# can_claim DEV: an O_EXCL open of DEV succeeds now.
can_claim() { perl -MFcntl -e 'sysopen(my $f, $ARGV[0], O_RDWR | O_EXCL) or exit 1' "$1"; }

simworld_start
if ! ok "sidecored serving as dom0" sc_start --cores 2; then
    sed 's/^/# /' "$SIMDIR/sidecored.log"
    done_testing
    exit 1
fi

# ---- 1. discard on a file: a hole, zeros, other guests undisturbed ----

g=$(guest_new discard)
img=$(disk_file 160M)
fill "$img" 100
d=$(disk_attach "$g" "$img")
ok "file: simblkfuse connected" fuse_start "$g" "$d"
g2=$(guest_new bystander)
d2=$(disk_attach "$g2" "$(disk_file 64M)")
front_bg "$SIMDIR/by.json" "$g2" "$d2" --verify --seconds 3
b0=$(blocks "$img")
# 1 MiB .. 97 MiB: two parts (the first ends on the 64 MiB mark past 1 MiB)
ok "file: punching 96 MiB through the guest's disk succeeds" \
    fallocate -p -o 1M -l 96M "$FUSEMNT/disk"
b1=$(blocks "$img")
ok "file: the backing file's blocks were freed ($b0 -> $b1 sectors)" \
    test "$b1" -le $((b0 - 96 * 2048 + 2048))
ok "file: the hole reads as zeros through the rings" zeros_at "$FUSEMNT/disk" 1 96
ok "file: the data after it is still there" \
    cmp -s <(dd if="$FUSEMNT/disk" bs=1M skip=97 count=3 status=none) \
    <(dd if="$img" bs=1M skip=97 count=3 status=none)
front_wait "$FRONT_PID"
is "file: the other guest's verified run meanwhile exits 0" "$?" 0
ok "file: ... with no error" report_ok "$SIMDIR/by.json"
fuse_stop

# ---- 2. discard on a block device (loop): the asynchronous path ----

loop_discard() {
    local label=$1 lo lf gl dl b0 b1
    lo=$(loop_new 64M) && LOOPS="$LOOPS $lo"
    lf=$(loop_file "$lo")
    fill "$lo" 32
    gl=$(guest_new "loop-$label")
    dl=$(disk_attach "$gl" "$lo")
    ok "$label: simblkfuse connected to the loop-backed disk" fuse_start "$gl" "$dl" || return
    sync
    b0=$(blocks "$lf")
    ok "$label: punching 16 MiB through the guest's disk succeeds" \
        fallocate -p -o 4M -l 16M "$FUSEMNT/disk"
    b1=$(blocks "$lf")
    ok "$label: the loop's backing file lost the blocks ($b0 -> $b1 sectors)" \
        test "$b1" -le $((b0 - 16 * 2048 + 2048))
    ok "$label: the range reads as zeros" zeros_at "$FUSEMNT/disk" 4 16
    ok "$label: the data after it is intact" \
        cmp -s <(dd if="$FUSEMNT/disk" bs=1M skip=20 count=4 status=none) \
        <(dd if="$lo" bs=1M skip=20 count=4 iflag=direct status=none)
    fuse_stop
    ok "$label: vbd detached" quiet "$XENSIMCTL" vbd-detach "$gl" "$dl" --timeout 10
}
loop_discard "loop"
if grep -q "discard worker started" "$SIMDIR/sidecored.log"; then
    echo "# this kernel has no io_uring block discard: the worker ran"
else
    echo "# discards went through IORING_OP_URING_CMD (BLOCK_URING_CMD_DISCARD)"
fi

# ---- 3. a failed fsync is sticky until the frontend reconnects ----

HANG_MNT=$(mktemp -d "${TMPDIR:-/tmp}/simhangfs.XXXXXX")
"$SIMHANGFS" "$HANG_MNT" --size 16M --ready-fd 3 3>"$SIMDIR/hangfs.ready" \
    2>>"$SIMDIR/simhangfs.log" &
HANG_PID=$!
ok "sticky: simhangfs mounted" wait_for 5 grep -q ready "$SIMDIR/hangfs.ready"
gf=$(guest_new sticky)
df=$(disk_attach "$gf" "$HANG_MNT/disk")
ok "sticky: simblkfuse connected" fuse_start "$gf" "$df"
ok "sticky: a write and flush succeed on a healthy store" fdsync "$FUSEMNT/disk"
echo fsync-error >"$HANG_MNT/ctl"
fails "sticky: the flush fails while the store's fsync fails" fdsync "$FUSEMNT/disk"
echo ok >"$HANG_MNT/ctl"
fails "sticky: the store is healthy again, yet the next flush still fails" \
    fdsync "$FUSEMNT/disk"
fails "sticky: ... and the one after" fdsync "$FUSEMNT/disk"
is "sticky: logged once" "$(grep -c "a flush failed" "$SIMDIR/sidecored.log")" 1
fuse_stop
ok "sticky: simblkfuse reconnected" fuse_start "$gf" "$df"
ok "sticky: after the reconnect, flushes succeed again" fdsync "$FUSEMNT/disk"
ok "sticky: the reconnect is logged" grep -q "flushes may succeed again" "$SIMDIR/sidecored.log"
fuse_stop

# ---- 3b. faults at chosen offsets: errors for those requests, nobody else's ----

# wr_at/rd_at BLOCK: one 4 KiB direct write/read of the guest's disk at BLOCK.
wr_at() {
    dd if=/dev/urandom of="$FUSEMNT/disk" bs=4k count=1 seek="$1" oflag=direct conv=notrunc \
        status=none 2>>"$SIMDIR/dd.log"
}
rd_at() {
    dd if="$FUSEMNT/disk" of=/dev/null bs=4k count=1 skip="$1" iflag=direct status=none \
        2>>"$SIMDIR/dd.log"
}
logged() { grep -q "$1" "$SIMDIR/sidecored.log"; }
ok "faults: simblkfuse connected (direct I/O)" fuse_start "$gf" "$df" --direct-io
gb=$(guest_new fault-bystander)
db=$(disk_attach "$gb" "$(disk_file 64M)")
front_bg "$SIMDIR/fby.json" "$gb" "$db" --verify --seconds 4
echo "fail write ENOSPC 2097152 65536" >"$HANG_MNT/ctl"
fails "faults: a write into the store's ENOSPC range fails" wr_at 512
ok "faults: ... logged with the store's reason" wait_for 3 logged "No space left on device"
ok "faults: a write beside the range succeeds" wr_at 528
ok "faults: reads of the range succeed" rd_at 512
echo "fail read EIO 4194304 4096" >"$HANG_MNT/ctl"
fails "faults: a read of the store's EIO block fails" rd_at 1024
ok "faults: ... logged with the store's reason" wait_for 3 logged "Input/output error"
ok "faults: the block beside it reads" rd_at 1025
ok "faults: the ENOSPC rule was replaced: that range takes writes again" wr_at 512
echo "short rw" >"$HANG_MNT/ctl"
fails "faults: a read the store answers short fails" rd_at 8
fails "faults: a write the store answers short fails" wr_at 8
ok "faults: ... logged as a short transfer" wait_for 3 logged "short transfer"
ok "faults: the store counted every fault it made" \
    eval '[ "$(grep -o "faulted=[0-9]*" "$HANG_MNT/ctl" | cut -d= -f2)" -ge 4 ]'
echo ok >"$HANG_MNT/ctl"
ok "faults: healthy again, the guest reads and writes" eval 'rd_at 8 && wr_at 8 && rd_at 1024'
front_wait "$FRONT_PID"
is "faults: the other guest's verified run meanwhile exits 0" "$?" 0
ok "faults: ... with no error" report_ok "$SIMDIR/fby.json"
ok "faults: sidecored still serving, the faulty disk still connected" \
    eval 'sc_alive && [ "$(xs0 xenstore-read "/local/domain/0/backend/vbd/$gf/$df/state")" = 4 ]'
fuse_stop
ok "sticky: vbd detached" quiet "$XENSIMCTL" vbd-detach "$gf" "$df" --timeout 10
hangfs_stop

# ---- 4. mode w claims a block device, w! shares it ----

lx=$(loop_new 16M) && LOOPS="$LOOPS $lx"
gx=$(guest_new modes)
ok "modes: another process holds $lx O_EXCL" hold "$lx"
dw=$(disk_attach "$gx" "$lx" --mode w)
ok "modes: w on a claimed device fails with an \"in use\" error" \
    wait_for 5 err_has "$gx" "$dw" "in use"
front "$gx" "$dw" --ios 10 --timeout-ms 2000 >/dev/null 2>&1
isnt_zero=$?
ok "modes: ... and its guest cannot use it" test "$isnt_zero" -ne 0
quiet "$XENSIMCTL" vbd-detach "$gx" "$dw" --timeout 5
ds=$(disk_attach "$gx" "$lx" --mode 'w!')
front "$gx" "$ds" --verify --ios 300 >"$SIMDIR/shared.json"
is "modes: w! serves the same device meanwhile" "$?" 0
ok "modes: ... with no error" report_ok "$SIMDIR/shared.json"
ok "modes: vbd (w!) detached" quiet "$XENSIMCTL" vbd-detach "$gx" "$ds" --timeout 10
unhold
dw2=$(disk_attach "$gx" "$lx" --mode w)
front "$gx" "$dw2" --verify --ios 300 >"$SIMDIR/excl.json"
is "modes: once released, w serves it" "$?" 0
fails "modes: ... and nobody else can claim it while it is served" can_claim "$lx"
ok "modes: vbd (w) detached" quiet "$XENSIMCTL" vbd-detach "$gx" "$dw2" --timeout 10
ok "modes: detached, the claim is gone" wait_for 5 can_claim "$lx"

# ---- 5. the worker forced: the same block discard without io_uring ----

sc_stop
is "sidecored exits 0 on SIGTERM (no sanitizer report)" "$?" 0
export SIDECORE_BLK_DISCARD=worker
if ok "sidecored restarted with the discard worker forced" sc_start --cores 2; then
    loop_discard "worker"
    ok "worker: the discards ran in the store's worker thread" \
        grep -q "discard worker started" "$SIMDIR/sidecored.log"
fi
unset SIDECORE_BLK_DISCARD
ok "sidecored still running" sc_alive
sc_stop
is "sidecored (worker forced) exits 0 on SIGTERM" "$?" 0
[ "$TAP_FAILED" -eq 0 ] || sed 's/^/# /' "$SIMDIR/sidecored.log" | tail -40

done_testing
