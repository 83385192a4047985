#!/bin/sh
# Rig scenario (runs in Dom0): features Linux's blkfront negotiates with
# sidecored when asked for them: two queues (guest with 2 vCPUs,
# xen_blkfront.max_queues=2, sidecored with 2 sidecores), a 4-page ring
# (xen_blkfront.max_ring_page_order=2), with verified I/O; and a read-only
# disk (access=ro) that the guest sees read-only.
. ./lib.sh
rig_install_sidecore
mb=16
rig_start_sidecored poll --cores 2 || { rig_fail "sidecored starts with 2 sidecores"; exit 1; }

g=mq
rm -f /var/lib/rig/$g.img; truncate -s 64M /var/lib/rig/$g.img
rig_domu_cfg $g "backend=0, vdev=xvda, script=block-sidecore, target=/var/lib/rig/$g.img" \
    "rig_mb=$mb rig_skip_mb=1 rig_rounds=2 xen_blkfront.max_queues=2 xen_blkfront.max_ring_page_order=2" 2
rig_check "mq: xl create (2 vCPUs)" rig_domu_start $g
if rig_wait_console $g "^DOMU-RESULT size" 180; then
    fe=/local/domain/$(xl domid $g)/device/vbd/51712
    xenstore-ls -f "$fe" | sed "s/^/RIG: xs: /"
    nq=$(xenstore-read "$fe/multi-queue-num-queues" 2>/dev/null)
    order=$(xenstore-read "$fe/ring-page-order" 2>/dev/null)
    rig_check "mq: blkfront asked for 2 queues (multi-queue-num-queues='$nq')" test "$nq" = 2
    rig_check "mq: blkfront uses a 4-page ring (ring-page-order='$order')" test "$order" = 2
    sidecorectl devices 2>&1 | sed "s/^/RIG: sidecorectl devices: /"
    sidecorectl queues 2>&1 | sed "s/^/RIG: sidecorectl queues: /"
fi
rig_domu_wait $g 240
rig_check "mq: guest has 2 hardware queues" test "$(rig_domu_result $g queues)" = 2
w=$(rig_domu_result $g write); r=$(rig_domu_result $g read)
rig_check "mq: guest reads back what it wrote" sh -c '[ -n "$1" ] && [ "$1" = "$2" ]' _ "$w" "$r"
rig_check "mq: 2 more rounds ok" sh -c '[ "$(grep -ac "^DOMU-RESULT round [0-9]* ok" "$1")" = 2 ]' _ /tmp/$g.console
rig_check "mq: persistent grants and indirect descriptors enabled" \
    sh -c 'echo "$1" | grep -q "persistent grants: enabled; indirect descriptors: enabled"' _ \
    "$(rig_domu_result $g features)"

g=ro
rm -f /var/lib/rig/$g.img; truncate -s 32M /var/lib/rig/$g.img
before=$(sha256sum /var/lib/rig/$g.img | cut -d' ' -f1)
rig_domu_cfg $g "backend=0, vdev=xvda, access=ro, script=block-sidecore, target=/var/lib/rig/$g.img" "rig_mb=4"
rig_check "ro: xl create" rig_domu_start $g
rig_domu_wait $g 180
rig_check "ro: guest sees xvda read-only" test "$(rig_domu_result $g ro)" = 1
rig_check "ro: the backing file is unchanged" test "$(sha256sum /var/lib/rig/$g.img | cut -d' ' -f1)" = "$before"

rig_stop_sidecored
tail -n 30 /tmp/sidecored-poll.log | sed "s/^/RIG: sidecored: /"
exit $RIG_TAP_FAILED
