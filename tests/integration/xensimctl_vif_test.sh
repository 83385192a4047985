#!/bin/bash
# xensimctl_vif_test.sh - the toolstack's network verbs and the vif hotplug
# script, without a backend: vif-attach writes libxl's layout for a vif with
# libxl's permissions (the frontend's mtu read-only to the guest), picks
# devids from 0 and a random 00:16:3e MAC, converts xl's rate syntax;
# vif-list shows the vifs; vif-detach runs online=0 / Closing / wait for
# Closed (timing out without a backend; --force removes anyway), by devid or
# MAC; destroy --cleanup removes the dirs.  Then tools/hotplug/vif-sidecore,
# run as the backend domain's hotplug script in a private network namespace
# (when one can be made): waits for the TAP interface, bridges it with the
# right MTU, reports hotplug-status, and reports failures as Xen's scripts do.
set -u

# The hotplug part needs a network namespace of its own: re-run inside one.
if [ -z "${SC_VIF_TEST_NETNS:-}" ]; then
    export SC_VIF_TEST_NETNS=none
    for flags in -n -rn; do
        if unshare $flags true 2>/dev/null; then
            SC_VIF_TEST_NETNS=yes exec unshare $flags "$BASH" "$0" "$@"
        fi
    done
fi

. "$(dirname "$0")/../tools/simworld.sh"
SCRIPT=$(cd "$(dirname "$0")/../.." && pwd)/tools/hotplug/vif-sidecore

simworld_start
rc() { "$@" >/dev/null 2>&1; echo $?; }
quiet() { "$@" >/dev/null; }
skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # skip $1"; }

g=$("$XENSIMCTL" create guest)
b=$("$XENSIMCTL" create driver)
o=$("$XENSIMCTL" create other)
be=/local/domain/$b/backend/vif/$g/0
fe=/local/domain/$g/device/vif/0

devid=$("$XENSIMCTL" vif-attach "$g" backend="$b" mac=00:16:3E:0A:0b:0C bridge=xenbr1 \
        rate=10Mb/s@20ms mtu=9000 vifname=sc-guest script=vif-sidecore ip=10.0.0.2)
is "vif-attach prints the first devid, 0" "$devid" 0

# The exact libxl layout, values and permissions (owner first, then readers).
want_be="frontend = \"$fe\" (n$b,r$g)
frontend-id = \"$g\" (n$b,r$g)
online = \"1\" (n$b,r$g)
state = \"1\" (n$b,r$g)
script = \"/etc/xen/scripts/vif-sidecore\" (n$b,r$g)
vifname = \"sc-guest\" (n$b,r$g)
mac = \"00:16:3e:0a:0b:0c\" (n$b,r$g)
ip = \"10.0.0.2\" (n$b,r$g)
rate = \"25000,20000\" (n$b,r$g)
mtu = \"9000\" (n$b,r$g)
bridge = \"xenbr1\" (n$b,r$g)
handle = \"0\" (n$b,r$g)
type = \"vif\" (n$b,r$g)
hotplug-status = \"\" (n$b,r$g)"
norm() { sed -E 's/ [ .]+\(/ (/; s/^ +//' | sort; }
is "backend dir: libxl's keys, owned by the backend, readable by the guest" \
    "$(xs0 xenstore-ls -p "$be" | norm)" "$(norm <<<"$want_be")"
want_fe="backend = \"$be\" (n$g,r$b)
backend-id = \"$b\" (n$g,r$b)
state = \"1\" (n$g,r$b)
handle = \"0\" (n$g,r$b)
mac = \"00:16:3e:0a:0b:0c\" (n$g,r$b)
trusted = \"1\" (n$g,r$b)
mtu = \"9000\" (n$b,r$g)"
is "frontend dir: libxl's keys, owned by the guest, mtu owned by the backend" \
    "$(xs0 xenstore-ls -p "$fe" | norm)" "$(norm <<<"$want_fe")"
is "the dirs themselves carry the same permissions" \
    "$(xs0 xenstore-ls -p "$(dirname "$be")" | head -1 | norm) $(xs0 xenstore-ls -p "$(dirname "$fe")" | head -1 | norm)" \
    "0 = \"\" (n$b,r$g) 0 = \"\" (n$g,r$b)"

is "the guest reads the backend dir" "$(xs_as "$g" xenstore-read "$be/mac")" 00:16:3e:0a:0b:0c
fails "the guest cannot write the backend dir" xs_as "$g" xenstore-write "$be/rate" 1,1
ok "the guest writes its frontend dir" xs_as "$g" xenstore-write "$fe/tx-ring-ref" 8
is "the guest reads its mtu" "$(xs_as "$g" xenstore-read "$fe/mtu")" 9000
fails "the guest cannot change its mtu" xs_as "$g" xenstore-write "$fe/mtu" 65000
ok "the backend domain writes hotplug-status" xs_as "$b" xenstore-write "$be/hotplug-status" connected
is "the backend domain reads the frontend dir" "$(xs_as "$b" xenstore-read "$fe/handle")" 0
fails "the backend domain cannot write the frontend dir" xs_as "$b" xenstore-write "$fe/state" 3
fails "another guest cannot read the backend dir" xs_as "$o" xenstore-read "$be/mac"
fails "another guest cannot read the frontend dir" xs_as "$o" xenstore-read "$fe/mac"

# Defaults: dom0 backend, next devid, random MAC in Xen's OUI, mtu 1500.
is "the next devid is 1" "$("$XENSIMCTL" vif-attach "$g")" 1
be1=/local/domain/0/backend/vif/$g/1
fe1=/local/domain/$g/device/vif/1
mac1=$(xs0 xenstore-read "$be1/mac")
ok "a random MAC in 00:16:3e, the fourth byte below 0x80 ($mac1)" \
    grep -Eq '^00:16:3e:[0-7][0-9a-f](:[0-9a-f]{2}){2}$' <<<"$mac1"
is "the frontend has the same MAC" "$(xs0 xenstore-read "$fe1/mac")" "$mac1"
is "backend 0 by default" "$(xs0 xenstore-read "$fe1/backend-id")" 0
is "handle is the devid" "$(xs0 xenstore-read "$be1/handle") $(xs0 xenstore-read "$fe1/handle")" "1 1"
fails "no mtu key in the backend at the default 1500" xs0 xenstore-read "$be1/mtu"
is "the frontend's mtu is 1500" "$(xs0 xenstore-read "$fe1/mtu")" 1500
fails "no bridge unless given" xs0 xenstore-read "$be1/bridge"
fails "no script unless given" xs0 xenstore-read "$be1/script"
fails "no rate unless given" xs0 xenstore-read "$be1/rate"
is "hotplug-status is written empty" "$(xs0 xenstore-read "$be1/hotplug-status")" ""
is "the third vif is devid 2, by backend name" "$("$XENSIMCTL" vif-attach "$g" backend=driver)" 2
ok "another random MAC" test "$(xs0 xenstore-read "/local/domain/$b/backend/vif/$g/2/mac")" != "$mac1"
is "an explicit devid is taken" "$("$XENSIMCTL" vif-attach "$g" devid=7 backend="$b")" 7
is "handle= is devid's alias, the next devid follows the highest" \
    "$("$XENSIMCTL" vif-attach "$g" handle=9 backend="$b") $("$XENSIMCTL" vif-attach "$g" backend="$b")" "9 10"
is "an absolute script is kept" \
    "$("$XENSIMCTL" vif-attach "$g" devid=11 script=/opt/x >/dev/null; xs0 xenstore-read /local/domain/0/backend/vif/$g/11/script)" /opt/x

rate_of() { # rate=$1 on devid $2: the rate key written
    "$XENSIMCTL" vif-attach "$g" devid="$2" rate="$1" >/dev/null &&
        xs0 xenstore-read "/local/domain/0/backend/vif/$g/$2/rate"
}
is "rate 1MB/s: 50 ms by default" "$(rate_of 1MB/s 20)" 50000,50000
is "rate 100Kb/s@1s" "$(rate_of 100Kb/s@1s 21)" 12500,1000000
is "rate 1GB/s@250us" "$(rate_of 1GB/s@250us 22)" 250000,250
is "rate in libxl's form is kept" "$(rate_of 3000,20000 23)" 3000,20000

is "attaching an attached devid fails with 1" "$(rc "$XENSIMCTL" vif-attach "$g" devid=0)" 1
is "a bad MAC is a usage error" "$(rc "$XENSIMCTL" vif-attach "$g" mac=00:16:3e:0a:0b)" 2
is "a bad rate is a usage error" "$(rc "$XENSIMCTL" vif-attach "$g" rate=10Mb)" 2
is "a zero interval is a usage error" "$(rc "$XENSIMCTL" vif-attach "$g" rate=10Mb/s@0ms)" 2
is "a bad mtu is a usage error" "$(rc "$XENSIMCTL" vif-attach "$g" mtu=20)" 2
is "a vifname over 15 characters is a usage error" \
    "$(rc "$XENSIMCTL" vif-attach "$g" vifname=abcdefghijklmnop)" 2
is "an unknown key is a usage error" "$(rc "$XENSIMCTL" vif-attach "$g" model=e1000)" 2
is "an argument without = is a usage error" "$(rc "$XENSIMCTL" vif-attach "$g" xenbr0)" 2
is "a backend domain that does not exist fails with 1" "$(rc "$XENSIMCTL" vif-attach "$g" backend=77)" 1
is "a guest that does not exist fails with 1" "$(rc "$XENSIMCTL" vif-attach 77)" 1
ok "nothing was written by the failures" \
    test "$(xs0 xenstore-list "/local/domain/$g/device/vif" | sort -n | tr '\n' ' ')" = "0 1 2 7 9 10 11 20 21 22 23 "

list=$("$XENSIMCTL" vif-list "$g")
ok "vif-list shows vif 0 with its backend, MAC and states" \
    grep -Eq "^0 +$b +00:16:3e:0a:0b:0c +1 +1 +$be\$" <<<"$list"
ok "vif-list shows vif 1 in dom0" grep -Eq "^1 +0 +$mac1 " <<<"$list"

# Detach with no backend running: online=0 and Closing written, then a timeout.
start=$(date +%s)
is "detach without a backend times out with 1" "$(rc "$XENSIMCTL" vif-detach "$g" 0 --timeout 1)" 1
ok "the timeout was honoured" test $(( $(date +%s) - start )) -le 3
is "online=0 was written" "$(xs0 xenstore-read "$be/online")" 0
is "backend state Closing was written" "$(xs0 xenstore-read "$be/state")" 5
ok "the frontend dir is still there" quiet xs0 xenstore-read "$fe/backend"
ok "detach --force removes anyway" "$XENSIMCTL" vif-detach "$g" 0 --timeout 1 --force
fails "the backend dir is gone" xs0 xenstore-read "$be/mac"
fails "the frontend dir is gone" xs0 xenstore-read "$fe/backend"
is "detaching it again fails with 1" "$(rc "$XENSIMCTL" vif-detach "$g" 0)" 1
is "a bad devid is a usage error" "$(rc "$XENSIMCTL" vif-detach "$g" eth0)" 2
is "an unknown MAC fails with 1" "$(rc "$XENSIMCTL" vif-detach "$g" 00:16:3e:00:00:01)" 1

# Detach by MAC, with a backend that answers: it goes Closed, detach returns at once.
( for _ in $(seq 1 100); do
      [ "$(xs0 xenstore-read "$be1/state" 2>/dev/null)" = 5 ] &&
          { xs0 xenstore-write "$be1/state" 6; exit 0; }
      sleep 0.05
  done ) &
fake=$!
start=$(date +%s)
ok "detach by MAC succeeds once the backend is Closed" "$XENSIMCTL" vif-detach "$g" "${mac1^^}" --timeout 10
wait "$fake"
ok "well before the timeout" test $(( $(date +%s) - start )) -le 5
fails "vif 1's backend dir is gone" xs0 xenstore-read "$be1/mac"
ok "vif-list no longer shows it" bash -c "! \"$XENSIMCTL\" vif-list $g | grep -q '^1 '"

# ---- the hotplug script, as libxl runs it in the backend domain ----
hotplug() { # hotplug DEVID ARGS...: vif-sidecore as the driver domain's hotplug script
    local id=$1; shift
    XENSTORED_PATH="$SIMDIR/xs-$b.sock" XENBUS_PATH="backend/vif/$g/$id" vif="vif$g.$id" \
        SIDECORE_VIF_WAIT=${WAIT:-5} "$SCRIPT" "$@"
}
bstat() { xs0 xenstore-read "/local/domain/$b/backend/vif/$g/$1/hotplug-status"; }
link() { ip -o link show dev "$1" 2>/dev/null; }
mtu_of() { link "$1" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }

if [ "${SC_VIF_TEST_NETNS:-}" = yes ] && ip link add xenbr7 type bridge 2>/dev/null &&
    ip link set dev xenbr7 mtu 9000 && ip tuntap add dev scprobe mode tap 2>/dev/null; then
    ip link del scprobe

    # online before sidecored made its TAP: the script waits for it.
    quiet "$XENSIMCTL" vif-attach "$g" devid=30 backend="$b" bridge=xenbr7 script=vif-sidecore
    ( sleep 0.5; ip tuntap add dev "vif$g.30" mode tap ) &
    maker=$!
    ok "online waits for vif$g.30 and succeeds" hotplug 30 online type_if=vif
    wait "$maker"
    is "hotplug-status=connected" "$(bstat 30)" connected
    ok "the TAP is a port of the bridge" grep -q ' master xenbr7 ' <<<"$(link "vif$g.30")"
    ok "the TAP is up" grep -Eq '<[^>]*\bUP\b' <<<"$(link "vif$g.30")"
    is "it took the bridge's MTU" "$(mtu_of "vif$g.30")" 9000
    ok "online again is harmless" hotplug 30 online type_if=vif

    # The mtu key wins over the bridge's, vifname names the interface.
    quiet "$XENSIMCTL" vif-attach "$g" devid=31 backend="$b" bridge=xenbr7 mtu=1400 vifname=sc-g31
    ip tuntap add dev sc-g31 mode tap
    ok "online with vifname and mtu" hotplug 31 online
    is "the interface named by vifname has the mtu key's MTU" "$(mtu_of sc-g31)" 1400
    ok "... and is on the bridge" grep -q ' master xenbr7 ' <<<"$(link sc-g31)"

    # No bridge: connected, the interface left alone.
    quiet "$XENSIMCTL" vif-attach "$g" devid=32 backend="$b"
    ip tuntap add dev "vif$g.32" mode tap
    ok "online without a bridge" hotplug 32 add
    is "hotplug-status=connected" "$(bstat 32)" connected
    fails "the interface is on no bridge" grep -q ' master ' <<<"$(link "vif$g.32")"
    is "its MTU untouched" "$(mtu_of "vif$g.32")" 1500

    # Failures: hotplug-error and hotplug-status=error, exit 1.
    quiet "$XENSIMCTL" vif-attach "$g" devid=33 backend="$b" bridge=xenbr7
    start=$(date +%s)
    is "no TAP within SIDECORE_VIF_WAIT: exit 1" "$(WAIT=1 rc hotplug 33 online)" 1
    ok "after the wait" test $(( $(date +%s) - start )) -le 3
    is "hotplug-status=error" "$(bstat 33)" error
    ok "hotplug-error names the interface" \
        grep -q "interface vif$g.33 did not appear" <<<"$(xs0 xenstore-read "/local/domain/$b/backend/vif/$g/33/hotplug-error")"
    quiet "$XENSIMCTL" vif-attach "$g" devid=34 backend="$b" bridge=nosuchbr
    ip tuntap add dev "vif$g.34" mode tap
    is "a bridge that does not exist: exit 1" "$(rc hotplug 34 online)" 1
    want="Could not find bridge device nosuchbr: create it"
    want="$want (ip link add nosuchbr type bridge) or fix the vif's bridge="
    is "hotplug-error says so, as vif-bridge does, and what to do" \
        "$(xs0 xenstore-read "/local/domain/$b/backend/vif/$g/34/hotplug-error") $(bstat 34)" \
        "$want error"
    fails "the TAP was not touched" grep -q ' master ' <<<"$(link "vif$g.34")"

    # An HVM guest's emulated NIC (qemu's tap): bridged, no hotplug-status.
    ip tuntap add dev "vif$g.32-emu" mode tap
    ok "add type_if=tap bridges \$INTERFACE" env INTERFACE="vif$g.32-emu" \
        XENSTORED_PATH="$SIMDIR/xs-$b.sock" XENBUS_PATH="backend/vif/$g/31" "$SCRIPT" add type_if=tap
    ok "... onto the vif's bridge" grep -q ' master xenbr7 ' <<<"$(link "vif$g.32-emu")"
    is "... with the vif's mtu" "$(mtu_of "vif$g.32-emu")" 1400

    # offline: off the bridge and down; gone already is fine.
    ok "offline" hotplug 30 offline type_if=vif
    fails "the TAP left the bridge" grep -q ' master ' <<<"$(link "vif$g.30")"
    fails "and is down" grep -Eq '<[^>]*\bUP\b' <<<"$(link "vif$g.30")"
    ip link del "vif$g.30"
    ok "offline when the TAP is gone succeeds" hotplug 30 offline
    is "an unknown command is an error" "$(rc hotplug 30 restart)" 1
    fails "no XENBUS_PATH is an error" env -u XENBUS_PATH "$SCRIPT" online
else
    skip "vif-sidecore: no private network namespace with bridges and TAPs here"
fi

# destroy --cleanup: device dirs of the guest and backend dirs serving it.
ok "destroy --cleanup" "$XENSIMCTL" destroy "$g" --cleanup
fails "the guest's vif dirs are gone" xs0 xenstore-ls "/local/domain/$g/device"
fails "the backend dirs for the guest are gone in the driver domain" xs0 xenstore-ls "/local/domain/$b/backend/vif/$g"
fails "... and in dom0" xs0 xenstore-ls "/local/domain/0/backend/vif/$g"

done_testing
