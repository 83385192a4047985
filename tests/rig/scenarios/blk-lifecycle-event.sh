#!/bin/sh
# rig-boot-timeout: 1200
# Rig scenario: blk-lifecycle.sh with sidecored in event mode (a thread per
# queue, woken by event channels) instead of polling sidecores.
RIG_MODE=event
. /rig/scenarios/blk-lifecycle.sh
