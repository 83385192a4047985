#!/bin/bash
# error_messages_test.sh - docs/xl.md's "Common failures" table against the
# code: every row marked <!-- msg:ID --> has its quoted message read from the
# page, its failure provoked on xensim (sidecored's start-up refusals,
# devices it refuses, the hotplug scripts, sidecorectl), and the message
# required word for word (<...> in the page matches anything) in the
# daemon's output, the xenstore error node or hotplug-error, or the tool's
# stderr, with the exit status the row states.  Rows marked "xen" need the
# real platform and are skipped; a row with no provoker here fails, so a
# new row comes with its check.
#
# Runs in a network namespace of its own when one can be made (the vif
# hotplug script's TAP interface, the metrics port); the parts that need
# root (a loop device, another user) are skipped without it.
set -u

if [ -z "${SC_ERRMSG_TEST_NETNS:-}" ]; then
    export SC_ERRMSG_TEST_NETNS=none
    for flags in -n -rn; do
        if unshare $flags true 2>/dev/null; then
            SC_ERRMSG_TEST_NETNS=yes exec unshare $flags "$BASH" "$0" "$@"
        fi
    done
fi

cd "$(dirname "$0")/../.." || exit 1
. tests/tools/blk_e2e_lib.sh
DOC=docs/xl.md
ROOT=$(pwd)
[ "$SC_ERRMSG_TEST_NETNS" = yes ] && ip link set dev lo up 2>/dev/null

skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N # skip $1"; }

# doc_ids: "ID" or "ID xen" for each marked row, in the page's order.
doc_ids() { perl -ne 'print "$1\n" while /<!-- msg:([\w-]+(?: xen)?) -->/g' "$DOC"; }

# doc_msg ID: the row's message, the last `quoted` span before its marker;
# of `hotplug-error = "..."` only the part in double quotes.
doc_msg() {
    ID=$1 perl -ne '
        next unless /^(.*)<!-- msg:\Q$ENV{ID}\E(?: xen)? -->/;
        my @q = $1 =~ /`([^`]*)`/g;
        my $m = $q[-1];
        $m = $1 if $m =~ /^hotplug-error = "(.*)"$/;
        $m =~ s/^error node //;
        print $m; exit' "$DOC"
}

# has_msg ID FILE: FILE holds the row's message on one line.
has_msg() {
    local want
    want=$(doc_msg "$1")
    [ -n "$want" ] || { echo "# no message for $1 in $DOC"; return 1; }
    if WANT=$want perl -e '
        my $re = join "[^\n]+?", map { quotemeta } split /<[^<>]+>/, $ENV{WANT}, -1;
        local $/; open my $f, "<", $ARGV[0] or exit 1;
        exit(<$f> =~ /$re/ ? 0 : 1)' "$2"; then
        return 0
    fi
    printf '#   want: %s\n' "$want"
    sed 's/^/#   got:  /' "$2" | head -8
    return 1
}

# expect ID RC: the provoker ran with exit status $RC_GOT and output in
# $OUT; checks both.
expect() {
    local id=$1 rc=$2
    is "$id: exit status $rc" "$RC_GOT" "$rc"
    ok "$id: the message of docs/xl.md" has_msg "$id" "$OUT"
}

# run_cmd CMD...: runs it, stdout and stderr to $OUT, status to $RC_GOT.
run_cmd() {
    "$@" >"$OUT" 2>&1
    RC_GOT=$?
}

# A second sidecored beside the one serving (its own socket unless given).
sidecored_once() { run_cmd timeout 20 "$SIDECORED" --ctl "$SIMDIR/other.sock" "$@"; }

err_node() { echo "/local/domain/0/error/backend/vbd/$1/$2/error"; }
# node_to_out PATH: waits (5 s) for the xenstore node, copies it to $OUT.
node_to_out() {
    wait_for 5 xs0 xenstore-read "$1"
    xs0 xenstore-read "$1" >"$OUT" 2>&1
    RC_GOT=$?
}
# device_refused ID GUEST DEVID: the error node and the log line.
device_refused() {
    local id=$1 g=$2 d=$3
    node_to_out "$(err_node "$g" "$d")"
    ok "$id: the error node of vbd $g/$d has the message of docs/xl.md" has_msg "$id" "$OUT"
    grep "vbd $g/$d: " "$SIMDIR/sidecored.log" >"$OUT"
    ok "$id: ... and the log too" has_msg "$id" "$OUT"
}

# ---- provokers: one per row, named after its ID ----

p_unknown_option() { sidecored_once --frobnicate; expect unknown-option 2; }
p_bad_value() { sidecored_once --cores many; expect bad-value 2; }
p_config_setting() {
    printf 'cores = 1\nbogus = 1\n' >"$SIMDIR/bad.conf"
    sidecored_once --config "$SIMDIR/bad.conf"
    expect config-setting 2
    ok "config-setting: ... naming the file and line 2" grep -q "$SIMDIR/bad.conf:2:" "$OUT"
}
p_config_missing() { sidecored_once --config "$SIMDIR/none.conf"; expect config-missing 2; }
p_ctl_in_use() {
    run_cmd timeout 20 "$SIDECORED" --cores 1
    expect ctl-in-use 1
    ok "ctl-in-use: the serving daemon still answers" quiet ctl status
}
p_ctl_not_socket() {
    echo keep >"$SIMDIR/plain"
    sidecored_once --ctl "$SIMDIR/plain"
    expect ctl-not-socket 1
    is "ctl-not-socket: the file is left alone" "$(cat "$SIMDIR/plain")" keep
}
p_ctl_create() { sidecored_once --ctl "$SIMDIR/no/such/x.sock"; expect ctl-create 1; }
p_ctl_group() { sidecored_once --ctl-group "no-such-group-$$"; expect ctl-group 1; }
p_metrics_in_use() {
    local addr
    addr=$(ctl status --json | jget '$j->{metrics} // ""')
    addr=${addr#http://}
    addr=${addr%%/*}
    if [ -z "$addr" ]; then
        skip "metrics-in-use: the daemon serves no metrics (status --json)"
        return
    fi
    sidecored_once --metrics "$addr"
    expect metrics-in-use 1
}
p_cpus() { sidecored_once --cores 1 --cpus 1023; expect cpus 1; }
p_no_xen() {
    if [ -e /dev/xen/gntdev ]; then
        skip "no-xen: this host is a Xen domain"
        return
    fi
    run_cmd env -u XENSIM_DIR timeout 20 "$SIDECORED" --ctl "$SIMDIR/other.sock" --platform auto
    expect no-xen 1
}
p_no_world() {
    XENSIM_DIR=$SIMDIR/no-world sidecored_once
    expect no-world 1
}

p_store_open() {
    local d
    d=$(disk_attach "$G" "$SIMDIR/no-such-disk.img")
    device_refused store-open "$G" "$d"
}
LOOP=""
HOLDER=""
loop_cleanup() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null && wait "$HOLDER" 2>/dev/null
    HOLDER=""
    [ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
    LOOP=""
    return 0
}
SIM_CLEANUP_HOOKS="loop_cleanup $SIM_CLEANUP_HOOKS"
p_store_busy() {
    local d
    if [ "$(id -u)" != 0 ] || ! LOOP=$(losetup -f --show "$(disk_file 16M)" 2>/dev/null); then
        LOOP=""
        skip "store-busy: needs root and a loop device"
        return
    fi
    # an exclusive claim on the block device, as a mount or another writer holds
    perl -MFcntl -e 'sysopen(my $f, $ARGV[0], O_RDONLY | O_EXCL) or die "$!\n";
        print "held\n"; STDOUT->flush; sleep 60' "$LOOP" >"$SIMDIR/holder" 2>&1 &
    HOLDER=$!
    wait_for 5 grep -q held "$SIMDIR/holder"
    d=$(disk_attach "$G" "$LOOP")
    device_refused store-busy "$G" "$d"
    loop_cleanup
}
p_mem_budget() {
    local d
    d=$(disk_attach "$G" "$(disk_file 16M)")
    front "$G" "$d" --queues 1 --ring-order 4 --ios 10 --timeout-ms 3000 >/dev/null 2>&1
    device_refused mem-budget "$G" "$d"
}
p_hotplug_failed() {
    local d
    d=$(disk_attach "$G" "$(disk_file 16M)" --script block-sidecore)
    xs0 xenstore-write "$(be_path "$G" "$d")/hotplug-status" error
    front "$G" "$d" --queues 1 --ring-order 0 --no-persistent --ios 10 --timeout-ms 3000 \
        >/dev/null 2>&1
    device_refused hotplug-failed "$G" "$d"
}
# bad-mode: a mode key no toolstack writes, seen when the daemon adopts the
# device at start (it reads mode once, when it first sees the device).
p_bad_mode() {
    local d
    sc_stop
    d=$(disk_attach "$G" "$(disk_file 16M)")
    xs0 xenstore-write "$(be_path "$G" "$d")/mode" x
    ok "bad-mode: sidecored restarts" sc_start "${SC_ARGS[@]}"
    device_refused bad-mode "$G" "$d"
}

# the hotplug scripts, run as libxl runs them in the backend domain
hotplug() { # SCRIPT XENBUS_PATH ARGS...
    local script=$1 path=$2; shift 2
    run_cmd env XENSTORED_PATH="$SIMDIR/xs-0.sock" XENBUS_PATH="$path" SIDECORE_VIF_WAIT=1 \
        "$ROOT/tools/hotplug/$script" "$@"
}
# hp_check ID PATH: exit 1, hotplug-status=error, the message in
# hotplug-error and on stderr
hp_check() {
    local id=$1 path=$2
    is "$id: exit status 1" "$RC_GOT" 1
    ok "$id: the message of docs/xl.md on stderr" has_msg "$id" "$OUT"
    is "$id: hotplug-status" "$(xs0 xenstore-read "$path/hotplug-status" 2>/dev/null)" error
    xs0 xenstore-read "$path/hotplug-error" >"$OUT" 2>&1
    ok "$id: ... and in hotplug-error" has_msg "$id" "$OUT"
}
p_hp_target() {
    local d
    d=$(disk_attach "$G" "$SIMDIR/typo.img" --script block-sidecore)
    hotplug block-sidecore "backend/vbd/$G/$d" add
    hp_check hp-target "backend/vbd/$G/$d"
}
p_hp_bridge() {
    if [ "$SC_ERRMSG_TEST_NETNS" != yes ] ||
        ! ip tuntap add dev "vif$G.2" mode tap 2>/dev/null; then
        skip "hp-bridge: needs a network namespace of its own with TAP interfaces"
        return
    fi
    quiet "$XENSIMCTL" vif-attach "$G" devid=2 backend=0 bridge=nosuchbr
    hotplug vif-sidecore "backend/vif/$G/2" online type_if=vif
    hp_check hp-bridge "backend/vif/$G/2"
}
p_hp_vif_wait() {
    quiet "$XENSIMCTL" vif-attach "$G" devid=1 backend=0 bridge=xenbr0
    hotplug vif-sidecore "backend/vif/$G/1" online type_if=vif
    hp_check hp-vif-wait "backend/vif/$G/1"
}

p_ctl_not_running() {
    run_cmd "$SIDECORECTL" --socket "$SIMDIR/none.sock" status
    expect ctl-not-running 1
}
p_ctl_perm() {
    if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
        skip "ctl-perm: needs root and setpriv to be another user"
        return
    fi
    # the socket keeps its default mode 0660, root's; its directory lets anyone through
    chmod 0711 "$SIMDIR"
    run_cmd setpriv --reuid=65534 --regid=65534 --clear-groups "$SIDECORECTL" \
        --socket "$XENSIM_DIR/sidecored.sock" status
    chmod 0700 "$SIMDIR"
    expect ctl-perm 1
}
p_ctl_no_device() {
    run_cmd "$SIDECORECTL" resize-check "vbd/$G/12345"
    expect ctl-no-device 1
    ok "ctl-no-device: ... naming it" grep -q "no vbd 'vbd/$G/12345'" "$OUT"
}
p_ctl_bad_tenant() {
    run_cmd "$SIDECORECTL" set-tenant "$G" weight=0
    expect ctl-bad-tenant 1
}
p_ctl_unknown_command() { run_cmd "$SIDECORECTL" frobnicate; expect ctl-unknown-command 2; }

# ---- the run ----

OUT=""
RC_GOT=""
simworld_start
OUT=$SIMDIR/out
# vbd only: no vif gets a TAP interface of sidecored's, so the vif hotplug
# rows see what an unserved vif looks like; a budget small enough for a
# 16-page ring with persistent grants to be refused.
SC_ARGS=(--cores 1 --types vbd --mem-budget 8M --metrics 127.0.0.1:0)
ok "sidecored starts" sc_start "${SC_ARGS[@]}" ||
    { sed 's/^/# /' "$SIMDIR/sidecored.log"; echo "Bail out! sidecored"; exit 1; }
G=$("$XENSIMCTL" create guest)

ids=$(doc_ids)
ok "docs/xl.md marks rows to check" test "$(wc -l <<<"$ids")" -ge 20
while read -r id xen <&7; do
    fn=p_${id//-/_}
    if [ -n "$xen" ]; then
        skip "$id: real Xen only"
    elif declare -F "$fn" >/dev/null; then
        "$fn"
    else
        ok "$id: has a provoker in this test" false
    fi
done 7<<<"$ids"

ok "the daemon served throughout" sc_alive
ok "no sanitizer report" sc_log_clean
done_testing
