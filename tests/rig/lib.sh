# Helpers for rig scenarios; sourced by /rig/scenario.sh inside Dom0 (busybox
# + Debian minbase, running as root, cwd /rig).  Results are TAP lines prefixed
# "RIG-TAP: " on Dom0's console; run.sh picks them out of the serial log and
# numbers them.  Every helper returns 0/1 and never exits the scenario.
# rig_check returns what the command returned (0 or 1), so a scenario can
# skip what depends on a failed check.
export PATH=/rig/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin

RIG_TAP_FAILED=0
rig_ok()   { echo "RIG-TAP: ok - $*"; }
rig_fail() { echo "RIG-TAP: not ok - $*"; RIG_TAP_FAILED=1; }
rig_check() { # description, command...
    _rig_d=$1; shift
    if "$@"; then rig_ok "$_rig_d"; else rig_fail "$_rig_d"; return 1; fi
}
rig_say() { echo "RIG: $*"; }
rig_now() { cut -d. -f1 /proc/uptime; } # seconds since Dom0 booted

# Installs sidecore as an admin would: its Debian package (boot.sh puts
# the one `make deb` built in the payload as sidecore.deb), with dpkg, so
# sidecored and sidecorectl come from /usr/sbin and the hotplug scripts from
# /etc/xen/scripts where libxl looks for relative names.  Without a package
# in the payload (boot.sh given only binaries), from /rig/bin and
# /rig/hotplug.  Once per boot: a scenario that sources another calls it twice.
RIG_SIDECORE_INSTALLED=""
rig_install_sidecore() {
    [ -z "$RIG_SIDECORE_INSTALLED" ] || return 0
    RIG_SIDECORE_INSTALLED=1
    mkdir -p /etc/xen/scripts
    if [ -f /rig/sidecore.deb ]; then
        if dpkg -i /rig/sidecore.deb >/tmp/dpkg-sidecore.log 2>&1; then
            rig_ok "sidecore $(dpkg-query -W -f='${Version}' sidecore) installed from its package (dpkg -i)"
        else
            rig_fail "dpkg -i sidecore.deb"
            sed 's/^/RIG: dpkg: /' /tmp/dpkg-sidecore.log
            return 1
        fi
        rig_check "the package put sidecored, sidecorectl and both hotplug scripts in place" \
            test -x /usr/sbin/sidecored -a -x /usr/sbin/sidecorectl \
            -a -x /etc/xen/scripts/block-sidecore -a -x /etc/xen/scripts/vif-sidecore
    else
        rig_say "no sidecore.deb in the payload: binaries from /rig/bin"
        install -m 0755 /rig/hotplug/block-sidecore /etc/xen/scripts/block-sidecore
        install -m 0755 /rig/hotplug/vif-sidecore /etc/xen/scripts/vif-sidecore
    fi
}

SIDECORED_PID=""
# rig_spawn_sidecored MODE [extra args]: starts it in the background and
# returns at once (SIDECORED_PID).  Log in /tmp/sidecored-MODE.log.
rig_spawn_sidecored() {
    mode=$1; shift
    mkdir -p /run/sidecore
    sidecored --platform xen --mode "$mode" --cores 1 --log-level info "$@" \
        >>"/tmp/sidecored-$mode.log" 2>&1 &
    SIDECORED_PID=$!
}

# rig_start_sidecored MODE [extra args]: rig_spawn_sidecored, then waits
# until the control socket answers (30 s).
rig_start_sidecored() {
    rig_spawn_sidecored "$@"
    i=0
    while [ $i -lt 60 ]; do
        sidecorectl status >/dev/null 2>&1 && return 0
        kill -0 "$SIDECORED_PID" 2>/dev/null || break
        sleep 0.5; i=$((i + 1))
    done
    rig_say "sidecored ($mode) did not come up:"; sed 's/^/RIG:   /' "/tmp/sidecored-$mode.log"
    return 1
}

rig_stop_sidecored() {
    [ -n "$SIDECORED_PID" ] || return 0
    kill "$SIDECORED_PID" 2>/dev/null
    i=0
    while kill -0 "$SIDECORED_PID" 2>/dev/null && [ $i -lt 20 ]; do sleep 0.5; i=$((i + 1)); done
    kill -9 "$SIDECORED_PID" 2>/dev/null
    wait "$SIDECORED_PID" 2>/dev/null
    SIDECORED_PID=""
}

# rig_check_xenstore WHAT: sidecorectl check-xenstore over Dom0's backends
# and their guests' frontends against the payload's xenstore-schema/, as a
# TAP check; its findings (one per line) as RIG lines.
rig_check_xenstore() {
    sidecorectl check-xenstore --schema /rig/xenstore-schema >/tmp/check-xenstore 2>&1
    _rig_rc=$?
    sed "s/^/RIG: check-xenstore: /" /tmp/check-xenstore
    rig_check "$1: sidecorectl check-xenstore: the live store matches the schema" test "$_rig_rc" = 0
}

# rig_domu_cfg NAME DISKSPEC EXTRA [VCPUS [MEMORY_MB [MORE_CFG]]]: writes
# /tmp/NAME.cfg for a PV DomU that boots the rig's kernel and busybox
# initramfs (domu-init.sh).  DISKSPEC is the inside of one disk's quotes; two
# disks: "SPEC1', 'SPEC2".
rig_domu_cfg() {
    cat >"/tmp/$1.cfg" <<CFG
name = "$1"
type = "pv"
kernel = "/rig/vmlinuz"
ramdisk = "/rig/domu-initrd.cpio.gz"
extra = "console=hvc0 loglevel=4 noxsave $3"
memory = ${5:-256}
vcpus = ${4:-1}
${6:-}
on_poweroff = "destroy"
on_crash = "destroy"
on_reboot = "destroy"
disk = [ '$2' ]
CFG
}

# rig_domu_start NAME: xl create /tmp/NAME.cfg; 1 (with xl's words) if it failed.
rig_domu_start() {
    rm -f "/var/log/xen/console/guest-$1.log"
    if ! xl create "/tmp/$1.cfg" >"/tmp/$1.create" 2>&1; then
        sed "s/^/RIG: xl create $1: /" "/tmp/$1.create"
        return 1
    fi
}

# rig_domu_wait NAME BOUND: waits until the domain is gone (after BOUND
# seconds destroys it and returns 1), copies its console log to
# /tmp/NAME.console and echoes the result lines to Dom0's console.
rig_domu_wait() {
    name=$1; bound=$2; rc=0
    i=0
    while xl domid "$name" >/dev/null 2>&1; do
        if [ $i -ge $((bound * 2)) ]; then
            rig_say "$name still running after ${bound}s: destroying it"
            xl destroy "$name"
            rc=1
            break
        fi
        sleep 0.5; i=$((i + 1))
    done
    sleep 0.5
    cp "/var/log/xen/console/guest-$name.log" "/tmp/$name.console" 2>/dev/null || : >"/tmp/$name.console"
    grep -a "DOMU-RESULT\|blkfront\|netfront\|xvda\|WARN\|BUG\|error" "/tmp/$name.console" |
        sed "s/^/DOMU $name| /"
    if ! grep -aq "^DOMU-RESULT done" "/tmp/$name.console"; then
        rig_say "$name ended without finishing; the end of its console:"
        tail -n 40 "/tmp/$name.console" | sed "s/^/DOMU $name| /"
    fi
    return $rc
}

# rig_domu_run NAME BOUND: start and wait; 1 if either failed.
rig_domu_run() {
    rig_domu_start "$1" || return 1
    rig_domu_wait "$1" "$2"
}

# rig_wait_console NAME REGEX BOUND: waits until the running guest's console
# log has a line matching REGEX; 1 after BOUND seconds.
rig_wait_console() {
    i=0
    while ! grep -aq "$2" "/var/log/xen/console/guest-$1.log" 2>/dev/null; do
        [ $i -ge $(($3 * 2)) ] && return 1
        sleep 0.5; i=$((i + 1))
    done
}

# rig_domu_result NAME KEY: the value the DomU printed as "DOMU-RESULT KEY VALUE".
rig_domu_result() {
    sed -n "s/^DOMU-RESULT $2 //p" "/tmp/$1.console" | tr -d '\r' | head -n1
}

# ---- network scenarios (net-*.sh) -------------------------------------------

# rig_net_prepare: what Dom0 needs before sidecored serves vifs: the tun and
# bridge modules, and Linux's xen-netback kept out (unloaded, and modprobe
# told to refuse it), so that nothing but sidecored can take a vif.
rig_net_prepare() {
    rig_install_sidecore
    mkdir -p /etc/modprobe.d
    echo "install xen_netback /bin/false" >/etc/modprobe.d/rig-no-netback.conf
    grep -q "^xen_netback " /proc/modules && rmmod xen_netback
    modprobe tun || rig_say "modprobe tun failed"
    modprobe bridge || rig_say "modprobe bridge failed"
    ip link set lo up
}

# rig_no_netback: 0 when Linux's xen-netback is neither loaded nor bound.
rig_no_netback() {
    ! grep -q "^xen_netback " /proc/modules && [ ! -e /sys/bus/xen-backend/drivers/vif ]
}

# rig_bridge NAME ADDR/LEN: a Linux bridge in Dom0 (no STP, no forward delay)
# with that address, up.
rig_bridge() {
    ip link add "$1" type bridge stp_state 0 forward_delay 0 &&
        ip addr add "$2" dev "$1" && ip link set "$1" up
}

# rig_net_cfg NAME ADDR/LEN VIFSPEC [VCPUS [MEMORY_MB [CMDLINE]]]:
# /tmp/NAME.cfg for a network guest (domu-init.sh's rig_role=net): the
# read-only tools disk xvdb (Dom0's /dev/vdc, served by sidecored) and one vif
# (VIFSPEC, the inside of its quotes); the guest gives eth0 ADDR/LEN.
# CMDLINE: more of the kernel's command line (xen_netfront.max_queues=2).
rig_net_cfg() {
    rig_domu_cfg "$1" "backend=0, vdev=xvdb, access=ro, script=block-sidecore, target=/dev/vdc" \
        "rig_role=net rig_ip=$2 ${6:-}" "${4:-1}" "${5:-256}" "vif = [ '$3' ]"
}

# rig_guest NAME BOUND COMMAND: runs COMMAND (sh -c, in the /tools chroot of
# the running network guest NAME) for at most BOUND seconds; its output goes
# to /tmp/NAME.out and, prefixed "DOMU NAME| ", to Dom0's console.  Returns
# its exit status; 124 when the guest did not answer within BOUND + 15 s.
rig_guest() {
    _g_name=$1; _g_bound=$2; shift 2
    _g_seq=$(( $(cat "/tmp/$_g_name.seq" 2>/dev/null || echo 0) + 1 ))
    echo "$_g_seq" >"/tmp/$_g_name.seq"
    : >"/tmp/$_g_name.out"
    _g_id=$(xl domid "$_g_name" 2>/dev/null) || { rig_say "rig_guest: no domain $_g_name"; return 125; }
    # -R: as it is (no \-escapes), newlines too; the guest reads it with -R
    xenstore-write -R "/local/domain/$_g_id/data/rig-cmd" "$_g_seq $_g_bound $*"
    if ! rig_wait_console "$_g_name" "^DOMU-RESULT cmd $_g_seq " $((_g_bound + 15)); then
        rig_say "$_g_name did not answer command $_g_seq ($*) within $((_g_bound + 15)) s"
        return 124
    fi
    _g_log=/var/log/xen/console/guest-$_g_name.log
    sed -n "s/^DOMU-OUT $_g_seq| //p" "$_g_log" | tr -d '\r' >"/tmp/$_g_name.out"
    _g_rc=$(sed -n "s/^DOMU-RESULT cmd $_g_seq //p" "$_g_log" | tr -d '\r' | head -n1)
    sed "s/^/DOMU $_g_name| /" "/tmp/$_g_name.out"
    return "${_g_rc:-1}"
}

# rig_guest_off NAME BOUND: asks the network guest to power off and waits
# (rig_domu_wait: destroyed after BOUND seconds).
rig_guest_off() {
    rig_guest "$1" 10 poweroff >/dev/null
    rig_domu_wait "$1" "$2"
}

# rig_vif_state NAME DEVID SIDE [BACKEND_DOMID]: the xenstore state of the
# guest's vif DEVID, SIDE fe or be; the backend in domain 0 unless given.
rig_vif_state() {
    _v_id=$(xl domid "$1" 2>/dev/null) || return 1
    if [ "$3" = fe ]; then xenstore-read "/local/domain/$_v_id/device/vif/$2/state" 2>/dev/null
    else xenstore-read "/local/domain/${4:-0}/backend/vif/$_v_id/$2/state" 2>/dev/null; fi
}

# rig_vif_connected NAME DEVID BOUND [BACKEND_DOMID]: until both ends of the
# vif are in state 4 (Connected); 1 after BOUND seconds.
rig_vif_connected() {
    _v_i=0
    until [ "$(rig_vif_state "$1" "$2" fe)" = 4 ] && [ "$(rig_vif_state "$1" "$2" be "${4:-0}")" = 4 ]; do
        [ $_v_i -ge $(($3 * 2)) ] && return 1
        sleep 0.5; _v_i=$((_v_i + 1))
    done
}

# rig_net_dump NAME [MODE]: on a failure, what explains it: both ends of the
# guest's vifs in xenstore, Dom0's links and bridges, sidecored's view and
# log (/tmp/sidecored-MODE.log), the end of the guest's console.
rig_net_dump() {
    _d_id=$(xl domid "$1" 2>/dev/null)
    if [ -n "$_d_id" ]; then
        xenstore-ls -f "/local/domain/0/backend/vif/$_d_id" 2>&1 | sed "s/^/RIG: xs: /"
        xenstore-ls -f "/local/domain/$_d_id/device/vif" 2>&1 | sed "s/^/RIG: xs: /"
    fi
    ip -d -s link 2>&1 | sed "s/^/RIG: ip link: /"
    bridge link 2>&1 | sed "s/^/RIG: bridge link: /"
    sidecorectl devices 2>&1 | sed "s/^/RIG: sidecorectl devices: /"
    sidecorectl queues 2>&1 | sed "s/^/RIG: sidecorectl queues: /"
    tail -n 60 "/tmp/sidecored-${2:-poll}.log" 2>/dev/null | sed "s/^/RIG: sidecored: /"
    tail -n 40 "/var/log/xen/console/guest-$1.log" 2>/dev/null | sed "s/^/DOMU $1| /"
}

# rig_iperf_sum FILE: from iperf3's client output, the receiver's line
# ("... MBytes ... bits/sec ... receiver"); empty when there is none.
rig_iperf_sum() {
    grep -a "receiver$" "$1" | tail -n1 | sed 's/^\[[^]]*\] *//'
}

# rig_iperf_ok FILE PROTO: 0 when iperf3 finished and the receiver got data:
# tcp: a non-zero byte count; udp: lost/total with total > 0 and lost < total.
rig_iperf_ok() {
    _i_l=$(rig_iperf_sum "$1")
    [ -n "$_i_l" ] && grep -aq "iperf Done" "$1" || return 1
    if [ "$2" = udp ]; then
        echo "$_i_l" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) {
            split($i, a, "/"); ok = a[2] > 0 && a[1] < a[2]}} END {exit !ok}'
    else
        echo "$_i_l" | awk '{for (i = 2; i <= NF; i++) if ($i ~ /Bytes$/) ok = $(i - 1) > 0}
            END {exit !ok}'
    fi
}

# Verified transfers with nc (netcat-openbsd) of MB MiB of random data; each
# sets RIG_XFER to "SENT_SHA256 RECEIVED_SHA256" and returns 0 when both are
# there and equal.  The listener starts first and is bounded like the sender.
RIG_XFER=""
_rig_sha() { sed -n 's/^\([0-9a-f]\{64\}\)  .*/\1/p' "$1" | head -n1; }

# rig_xfer_up NAME DOM0_IP PORT MB: from the guest to Dom0.
rig_xfer_up() {
    rm -f /tmp/xfer-up.bin
    timeout 120 nc -d -l "$3" >/tmp/xfer-up.bin &
    _x_pid=$!
    sleep 0.5
    # a sender that failed leaves the listener nothing to wait for
    rig_guest "$1" 110 "head -c $(($4 << 20)) /dev/urandom >/tmp/out.bin && sha256sum /tmp/out.bin &&
        timeout 100 nc -N $2 $3 </tmp/out.bin" || kill "$_x_pid" 2>/dev/null
    _x_sent=$(_rig_sha "/tmp/$1.out")
    wait "$_x_pid"
    _x_got=$(sha256sum /tmp/xfer-up.bin | cut -d' ' -f1)
    RIG_XFER="$_x_sent $_x_got"
    [ -n "$_x_sent" ] && [ "$_x_sent" = "$_x_got" ]
}

# rig_xfer_down NAME DOM0_IP PORT MB: from Dom0 to the guest.
rig_xfer_down() {
    head -c $(($4 << 20)) /dev/urandom >/tmp/xfer-down.bin
    _x_sent=$(sha256sum /tmp/xfer-down.bin | cut -d' ' -f1)
    timeout 120 nc -N -l "$3" </tmp/xfer-down.bin >/dev/null &
    _x_pid=$!
    sleep 0.5
    rig_guest "$1" 110 "rm -f /tmp/in.bin; timeout 100 nc -d $2 $3 >/tmp/in.bin; sha256sum /tmp/in.bin"
    _x_got=$(_rig_sha "/tmp/$1.out")
    kill "$_x_pid" 2>/dev/null
    wait "$_x_pid" 2>/dev/null
    RIG_XFER="$_x_sent $_x_got"
    [ -n "$_x_sent" ] && [ "$_x_sent" = "$_x_got" ]
}

# rig_xfer_g2g FROM TO TO_IP PORT MB: from one guest to another.
rig_xfer_g2g() {
    rig_guest "$2" 10 "rm -f /tmp/in.bin /tmp/in.done
        (timeout 120 nc -d -l $4 >/tmp/in.bin; echo \$? >/tmp/in.done) </dev/null >/dev/null 2>&1 &"
    sleep 1
    rig_guest "$1" 110 "head -c $(($5 << 20)) /dev/urandom >/tmp/out.bin && sha256sum /tmp/out.bin &&
        timeout 100 nc -N $3 $4 </tmp/out.bin"
    _x_sent=$(_rig_sha "/tmp/$1.out")
    rig_guest "$2" 40 "i=0; while [ ! -e /tmp/in.done ] && [ \$i -lt 150 ]; do sleep 0.2; i=\$((i + 1)); done
        echo nc-exit \$(cat /tmp/in.done); sha256sum /tmp/in.bin"
    _x_got=$(_rig_sha "/tmp/$2.out")
    RIG_XFER="$_x_sent $_x_got"
    [ -n "$_x_sent" ] && [ "$_x_sent" = "$_x_got" ]
}

# rig_iperf NAME LABEL ARGS...: iperf3 -c ARGS in the guest (a few seconds);
# checks it with rig_iperf_ok (udp when ARGS has -u) and says the receiver's
# line.  0 when it passed.
rig_iperf() {
    _p_g=$1; _p_label=$2; shift 2
    _p_proto=tcp
    case " $* " in *" -u "*) _p_proto=udp ;; esac
    rig_guest "$_p_g" 60 "iperf3 -c $*"
    cp "/tmp/$_p_g.out" "/tmp/$_p_g.iperf"
    rig_say "iperf3 $_p_label: $(rig_iperf_sum "/tmp/$_p_g.iperf")"
    rig_iperf_ok "/tmp/$_p_g.iperf" "$_p_proto"
}

# rig_domu_result_live NAME KEY: rig_domu_result of a guest still running.
rig_domu_result_live() {
    sed -n "s/^DOMU-RESULT $2 //p" "/var/log/xen/console/guest-$1.log" 2>/dev/null | tr -d '\r' | head -n1
}

# rig_net_guest_up NAME MAC BOUND [BACKEND_DOMID]: after xl create, the
# network guest booted (net-ready within BOUND s), its eth0 has MAC and its
# vif 0 is Connected on both ends (60 s more; the backend in domain 0 unless
# given): one check each; 1 when any failed.
rig_net_guest_up() {
    _u_rc=0
    rig_check "$1: the guest booted and is ready" rig_wait_console "$1" "^DOMU-RESULT net-ready" "$3" ||
        _u_rc=1
    _u_eth=$(rig_domu_result_live "$1" eth0)
    rig_check "$1: the guest has eth0 with MAC $2 (got '$_u_eth')" test "$_u_eth" = "$2" || _u_rc=1
    rig_check "$1: vif connected (state 4 in the frontend and the backend)" rig_vif_connected "$1" 0 60 "${4:-0}" ||
        _u_rc=1
    return $_u_rc
}
