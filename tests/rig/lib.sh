# Helpers for rig scenarios; sourced by /rig/scenario.sh inside Dom0 (busybox
# + Debian minbase, running as root, cwd /rig).  Results are TAP lines prefixed
# "RIG-TAP: " on Dom0's console; run.sh picks them out of the serial log and
# numbers them.  Every helper returns 0/1 and never exits the scenario.
export PATH=/rig/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin

RIG_TAP_FAILED=0
rig_ok()   { echo "RIG-TAP: ok - $*"; }
rig_fail() { echo "RIG-TAP: not ok - $*"; RIG_TAP_FAILED=1; }
rig_check() { # description, command...
    d=$1; shift
    if "$@"; then rig_ok "$d"; else rig_fail "$d"; fi
}
rig_say() { echo "RIG: $*"; }

# Installs sidecore's hotplug script where libxl looks for relative names.
rig_install_hotplug() {
    mkdir -p /etc/xen/scripts
    install -m 0755 /rig/hotplug/block-sidecore /etc/xen/scripts/block-sidecore
}

SIDECORED_PID=""
# rig_start_sidecored MODE [extra args]: starts it, waits until the control
# socket answers (30 s).  Log in /tmp/sidecored-MODE.log.
rig_start_sidecored() {
    mode=$1; shift
    mkdir -p /run/sidecore
    sidecored --platform xen --mode "$mode" --cores 1 --log-level info "$@" \
        >>"/tmp/sidecored-$mode.log" 2>&1 &
    SIDECORED_PID=$!
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
    grep -a "DOMU-RESULT\|blkfront\|xvda\|WARN\|BUG\|error" "/tmp/$name.console" | sed "s/^/DOMU $name| /"
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
