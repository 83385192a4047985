#!/bin/sh
# rig-boot-timeout: 900
# Rig scenario: blk-driver-domain.sh with the driver domain given a physical
# CPU of its own (issue 14): pCPU 1 out of Pool-0 into a `null`-scheduler
# cpupool "sidecores", the domain moved there and its vCPU pinned, as
# docs/xl.md tells an admin; its sidecore's steal then stays near 0, and Dom0's
# sidecored reports its own sidecore on the pCPU left to Pool-0.
RIG_DD_PLACE=dedicated
. /rig/scenarios/blk-driver-domain.sh
