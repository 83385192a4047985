#!/bin/sh
# rig-boot-timeout: 900
# Rig scenario: blk-driver-domain.sh with the driver domain given a physical
# CPU of its own (issue 14): `sidecorectl place rig-dd --pcpus 1` takes pCPU 1
# out of Pool-0 into a cpupool "sidecores" (credit2 here: Debian's Xen has no
# null scheduler), moves the domain there and pins its vCPU, and `--check`
# says it is good; its sidecore's steal then stays near 0, and Dom0's
# sidecored reports its own sidecore on the pCPU left to Pool-0.
RIG_DD_PLACE=dedicated
. /rig/scenarios/blk-driver-domain.sh
