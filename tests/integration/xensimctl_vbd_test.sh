#!/bin/bash
# xensimctl_vbd_test.sh - the toolstack's disk verbs: vbd-attach writes the
# libxl layout with libxl's permissions, vbd-list shows it, vbd-detach runs
# the online=0 / Closing / wait-for-Closed sequence (timing out without a
# backend; --force removes anyway), destroy --cleanup removes the dirs.
set -u
. "$(dirname "$0")/../tools/simworld.sh"

simworld_start
rc() { "$@" >/dev/null 2>&1; echo $?; }
quiet() { "$@" >/dev/null; }

g=$("$XENSIMCTL" create guest)
b=$("$XENSIMCTL" create driver)
o=$("$XENSIMCTL" create other)
be=/local/domain/$b/backend/vbd/$g/51712
fe=/local/domain/$g/device/vbd/51712

devid=$("$XENSIMCTL" vbd-attach "$g" --backend-domid "$b" --target /tmp/disk.img --vdev xvda \
        --script /etc/xen/scripts/block)
is "vbd-attach prints the devid of xvda" "$devid" 51712

# The exact libxl layout, values and permissions (owner first, then readers).
want_be="frontend = \"$fe\" (n$b,r$g)
frontend-id = \"$g\" (n$b,r$g)
online = \"1\" (n$b,r$g)
removable = \"0\" (n$b,r$g)
bootable = \"1\" (n$b,r$g)
state = \"1\" (n$b,r$g)
dev = \"xvda\" (n$b,r$g)
type = \"phy\" (n$b,r$g)
mode = \"w\" (n$b,r$g)
device-type = \"disk\" (n$b,r$g)
discard-enable = \"1\" (n$b,r$g)
params = \"/tmp/disk.img\" (n$b,r$g)
script = \"/etc/xen/scripts/block\" (n$b,r$g)"
norm() { sed -E 's/ [ .]+\(/ (/; s/^ +//' | sort; }
is "backend dir: libxl's keys, owned by the backend, readable by the guest" \
    "$(xs0 xenstore-ls -p "$be" | norm)" "$(norm <<<"$want_be")"
want_fe="backend = \"$be\" (n$g,r$b)
backend-id = \"$b\" (n$g,r$b)
state = \"1\" (n$g,r$b)
virtual-device = \"51712\" (n$g,r$b)
device-type = \"disk\" (n$g,r$b)
trusted = \"1\" (n$g,r$b)"
is "frontend dir: libxl's keys, owned by the guest, readable by the backend" \
    "$(xs0 xenstore-ls -p "$fe" | norm)" "$(norm <<<"$want_fe")"
is "the dirs themselves carry the same permissions" \
    "$(xs0 xenstore-ls -p "$(dirname "$be")" | head -1 | norm) $(xs0 xenstore-ls -p "$(dirname "$fe")" | head -1 | norm)" \
    "51712 = \"\" (n$b,r$g) 51712 = \"\" (n$g,r$b)"

is "the guest reads its frontend dir" "$(xs_as "$g" xenstore-read "$fe/backend")" "$be"
is "the guest reads the backend dir" "$(xs_as "$g" xenstore-read "$be/params")" /tmp/disk.img
fails "the guest cannot write the backend dir" xs_as "$g" xenstore-write "$be/params" x
ok "the guest writes its frontend dir" xs_as "$g" xenstore-write "$fe/state" 1
ok "the backend domain writes its backend dir" xs_as "$b" xenstore-write "$be/hotplug-status" connected
is "the backend domain reads the frontend dir" "$(xs_as "$b" xenstore-read "$fe/virtual-device")" 51712
fails "the backend domain cannot write the frontend dir" xs_as "$b" xenstore-write "$fe/state" 3
fails "another guest cannot read the backend dir" xs_as "$o" xenstore-read "$be/params"
fails "another guest cannot read the frontend dir" xs_as "$o" xenstore-read "$fe/backend"

is "xvdb is 51728" "$("$XENSIMCTL" vbd-attach "$g" --backend-domid "$b" --target null:1G --vdev xvdb --mode r)" 51728
is "mode r is written" "$(xs0 xenstore-read /local/domain/$b/backend/vbd/$g/51728/mode)" r
is "a numeric vdev is taken as is" \
    "$("$XENSIMCTL" vbd-attach "$g" --backend-domid 0 --target null:1G --vdev 51744 --type qdisk)" 51744
is "qdisk goes under backend/qdisk with type qdisk" \
    "$(xs0 xenstore-read /local/domain/0/backend/qdisk/$g/51744/type)" qdisk
is "attaching an attached vdev fails with 1" \
    "$(rc "$XENSIMCTL" vbd-attach "$g" --backend-domid "$b" --target x --vdev xvda)" 1
is "a bad vdev is a usage error" \
    "$(rc "$XENSIMCTL" vbd-attach "$g" --backend-domid "$b" --target x --vdev sda)" 2
is "a missing --target is a usage error" \
    "$(rc "$XENSIMCTL" vbd-attach "$g" --backend-domid "$b" --vdev xvdc)" 2
is "a bad --mode is a usage error" \
    "$(rc "$XENSIMCTL" vbd-attach "$g" --backend-domid "$b" --target x --vdev xvdc --mode rw)" 2
is "a backend domain that does not exist fails with 1" \
    "$(rc "$XENSIMCTL" vbd-attach "$g" --backend-domid 77 --target x --vdev xvdc)" 1

list=$("$XENSIMCTL" vbd-list "$g")
ok "vbd-list shows xvda with its backend" grep -Eq "^51712 +$b +1 +1 +$be\$" <<<"$list"
ok "vbd-list shows xvdb" grep -q "^51728 " <<<"$list"

# Detach with no backend running: online=0 and Closing written, then a timeout.
start=$(date +%s)
is "detach without a backend times out with 1" "$(rc "$XENSIMCTL" vbd-detach "$g" 51712 --timeout 1)" 1
ok "the timeout was honoured" test $(( $(date +%s) - start )) -le 3
is "online=0 was written" "$(xs0 xenstore-read "$be/online")" 0
is "backend state Closing was written" "$(xs0 xenstore-read "$be/state")" 5
ok "the frontend dir is still there" quiet xs0 xenstore-read "$fe/backend"
ok "detach --force removes anyway" "$XENSIMCTL" vbd-detach "$g" 51712 --timeout 1 --force
fails "the backend dir is gone" xs0 xenstore-read "$be/params"
fails "the frontend dir is gone" xs0 xenstore-read "$fe/backend"
is "detaching it again fails with 1" "$(rc "$XENSIMCTL" vbd-detach "$g" 51712)" 1

# Detach with a backend that answers: it goes Closed, detach returns at once.
be2=/local/domain/$b/backend/vbd/$g/51728
( for _ in $(seq 1 100); do
      [ "$(xs_as "$b" xenstore-read "$be2/state" 2>/dev/null)" = 5 ] &&
          { xs_as "$b" xenstore-write "$be2/state" 6; exit 0; }
      sleep 0.05
  done ) &
fake=$!
start=$(date +%s)
ok "detach succeeds once the backend is Closed" "$XENSIMCTL" vbd-detach "$g" xvdb --timeout 10
wait "$fake"
ok "well before the timeout" test $(( $(date +%s) - start )) -le 5
fails "xvdb's backend dir is gone" xs0 xenstore-read "$be2/params"

# destroy --cleanup: device dirs of the guest and backend dirs serving it.
is "attach xvdd before destroying" \
    "$("$XENSIMCTL" vbd-attach "$g" --backend-domid "$b" --target null:1G --vdev xvdd)" 51760
ok "destroy --cleanup" "$XENSIMCTL" destroy "$g" --cleanup
fails "the guest's device dirs are gone" xs0 xenstore-read "/local/domain/$g/device/vbd/51760/backend"
fails "... all of them" xs0 xenstore-ls "/local/domain/$g/device"
fails "the backend dirs for the guest are gone in the driver domain" xs0 xenstore-ls "/local/domain/$b/backend/vbd/$g"
fails "... and in dom0" xs0 xenstore-ls "/local/domain/0/backend/qdisk/$g"
ok "the driver domain's backend dir itself stays" quiet xs0 xenstore-ls "/local/domain/$b/backend/vbd"
fails "the guest is gone" bash -c "\"$XENSIMCTL\" list | grep -q ' guest '"

done_testing
