#!/bin/bash
# ctl_trust_e2e_test.sh - local trust: who may do what with sidecored.
# The control socket (--ctl-group, --ctl-mode, --ctl-admin-group):
#   - a group that does not exist, or a mode that is not octal, stops the
#     daemon at start with a message naming it;
#   - the socket file is root's, in the group given, with the mode given;
#   - as another user (setpriv, uid 65534): outside the socket's group it
#     cannot connect (Permission denied); in it, views work and a method
#     that changes state is refused (sidecorectl says what it takes and
#     exits 1); in the admin group too (supplementary), it may change
#     state; root may; refusals are logged, once per connection.
# The xenstore nodes sidecored writes (a connected vbd and a connected vif,
# on xensim): every node of their backend directories has the permissions
# the toolstack gave the directory (owner the backend domain 0, read for
# the frontend), as xenstored's inheritance gives Linux's backends; the
# frontend domain reads them and cannot write, create or remove any.  A
# failed device's error node inherits the backend domain's home's.
# Needs root (to act as other users); the throwaway group it makes is
# removed on exit.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
    echo "1..0 # SKIP needs root (to act as other users) and setpriv"
    exit 0
fi

NOBODY=65534
# The socket's group, by name: a throwaway group (by gid if groupadd is
# missing).  The admin group by gid (a gid need not have a name).
free_gid() {
    local g=$1
    while getent group "$g" >/dev/null; do g=$((g + 1)); done
    echo "$g"
}
SOCK_GROUP="sctrust$$"
SOCK_GID=$(free_gid 42400)
if groupadd -g "$SOCK_GID" "$SOCK_GROUP" 2>/dev/null; then
    group_cleanup() { groupdel "$SOCK_GROUP" 2>/dev/null; return 0; }
    SIM_CLEANUP_HOOKS="$SIM_CLEANUP_HOOKS group_cleanup"
else
    SOCK_GROUP=$SOCK_GID
fi
ADMIN_GID=$(free_gid $((SOCK_GID + 1)))

# as_user GROUPS CMD...: CMD as uid/gid 65534 with supplementary GROUPS
# (a comma-separated list, "" for none).
as_user() {
    local groups=$1; shift
    if [ -n "$groups" ]; then
        setpriv --reuid=$NOBODY --regid=$NOBODY --groups="$groups" -- "$@"
    else
        setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups -- "$@"
    fi
}

simworld_start
chmod 0711 "$SIMDIR" # others may reach the socket; its own mode decides
SOCK="$SIMDIR/sidecored.sock"

# ---- refused settings ----
out=$("$SIDECORED" --ctl-group "no-such-group-$$" 2>&1 </dev/null)
status=$?
is "an unknown --ctl-group stops the daemon (exit 1)" "$status" 1
ok "... with a message naming the group" grep -q "ctl-group 'no-such-group-$$': no such group" <<<"$out"
ok "... and leaves no socket" test ! -e "$SOCK"
out=$("$SIDECORED" --ctl-admin-group "no-such-group-$$" 2>&1 </dev/null)
ok "an unknown --ctl-admin-group too" grep -q "ctl-admin-group 'no-such-group-$$': no such group" <<<"$out"
out=$("$SIDECORED" --ctl-mode 0999 2>&1 </dev/null)
status=$?
is "a --ctl-mode that is not octal is a usage error (exit 2)" "$status" 2
ok "... named" grep -q "ctl-mode: '0999' is not an octal mode" <<<"$out"
ok "--help lists the options" bash -c '"$0" --help | grep -q -- "--ctl-admin-group GROUP"' "$SIDECORED"

# ---- the socket ----
G1=$(guest_new disk) && G2=$(guest_new net) || { echo "Bail out! guests"; exit 1; }
D=$(disk_attach "$G1" null:64M) || { echo "Bail out! vbd-attach"; exit 1; }
"$XENSIMCTL" vif-attach "$G2" mac=00:16:3e:00:0c:01 bridge=scsw0 >/dev/null ||
    { echo "Bail out! vif-attach"; exit 1; }
# its own network namespace: the internal switch's host port stays in there
SC_LAUNCH=(unshare -n)
ok "sidecored starts with --ctl-group, --ctl-mode 0660, --ctl-admin-group" \
    sc_start --cores 1 --ctl-group "$SOCK_GROUP" --ctl-mode 0660 --ctl-admin-group "$ADMIN_GID"
sc_alive || { echo "Bail out! sidecored"; sed 's/^/# /' "$SIMDIR/sidecored.log"; exit 1; }
is "the socket: root's, the group's, mode 660" "$(stat -c '%u %g %a %F' "$SOCK")" \
    "0 $SOCK_GID 660 socket"

# ---- other users ----
out=$(as_user "" "$SIDECORECTL" --socket "$SOCK" status 2>&1)
status=$?
is "outside the socket's group: sidecorectl fails (exit 1)" "$status" 1
ok "... it cannot connect: Permission denied" grep -q "cannot connect to .*Permission denied" <<<"$out"

ok "in the socket's group: a view works (status)" \
    quiet as_user "$SOCK_GID" "$SIDECORECTL" --socket "$SOCK" status
out=$(as_user "$SOCK_GID" "$SIDECORECTL" --socket "$SOCK" devices --json 2>&1)
is "... devices --json lists the disk and the vif" "$(jget 'scalar @$j' <<<"$out")" 2
out=$(as_user "$SOCK_GID" "$SIDECORECTL" --socket "$SOCK" set-tenant "$G1" weight=300 2>&1)
status=$?
is "... a change (set-tenant) is refused (exit 1)" "$status" 1
ok "... saying which method needs what" \
    grep -q "set-tenant: method 'set-tenant' changes state: run as root or as a member of the ctl-admin-group '$ADMIN_GID'" <<<"$out"
out=$(as_user "$SOCK_GID" "$SIDECORECTL" --socket "$SOCK" resize-check "vbd/$G1/$D" 2>&1)
ok "... so is resize-check" grep -q "method 'resize-check' changes state" <<<"$out"
weight() { ctl --socket "$SOCK" guests --json | jget 'my ($g) = grep { $_->{domid} == '"$1"' } @$j; $g ? $g->{weight} // "" : ""'; }
ok "... and nothing changed" test "$(weight "$G1")" != 300
is "refusals are logged, one line per connection (two connections)" \
    "$(grep -c "refused '.*' to pid .* uid $NOBODY" "$SIMDIR/sidecored.log")" 2

out=$(as_user "$SOCK_GID,$ADMIN_GID" "$SIDECORECTL" --socket "$SOCK" set-tenant "$G1" weight=300 2>&1)
status=$?
is "in the admin group (supplementary): set-tenant works" "$status" 0
is "... and took effect" "$(weight "$G1")" 300
ok "root may change state (set-tenant)" quiet ctl --socket "$SOCK" set-tenant "$G1" weight=250
is "... and took effect" "$(weight "$G1")" 250

# ---- the xenstore nodes sidecored wrote ----
front_bg "$SIMDIR/front.json" "$G1" "$D" --seconds 60
"$SC_BUILD/bin/simnetfront" --dir "$SIMDIR" --domid "$G2" --mode sink --seconds 60 --json \
    >"$SIMDIR/net.json" 2>"$SIMDIR/net.err" &
FRONT_PIDS="$FRONT_PIDS $!"
VBD=/local/domain/0/backend/vbd/$G1/$D
VIF=/local/domain/0/backend/vif/$G2/0
state_is() { [ "$(xs0 xenstore-read "$1/state" 2>/dev/null)" = "$2" ]; }
ok "the vbd connects" wait_for 15 state_is "$VBD" 4
ok "the vif connects" wait_for 15 state_is "$VIF" 4

# perms_of DIR: "path perms" for DIR and every node below it.
perms_of() {
    { xs0 xenstore-ls -f -p "$(dirname "$1")" | grep -E "^$1 = "
      xs0 xenstore-ls -f -p "$1"; } | sed -E 's/^([^ ]+) = .*\(([^)]*)\)$/\1 \2/'
}
for dir in "$VBD" "$VIF"; do
    fe=$G1
    [ "$dir" = "$VIF" ] && fe=$G2
    perms_of "$dir" >"$SIMDIR/perms"
    ok "${dir#/local/domain/0/}: xenstore-ls -p lists its nodes (20 or more)" \
        test "$(wc -l <"$SIMDIR/perms")" -ge 20
    is "${dir#/local/domain/0/}: every node owned by domain 0, read for $fe" \
        "$(awk -v want="n0,r$fe" '$2 != want' "$SIMDIR/perms")" ""
done
# the nodes sidecored wrote are there (and so were checked)
for key in state sectors feature-persistent feature-max-indirect-segments multi-queue-max-queues; do
    ok "vbd: $key written" grep -q "^$VBD/$key n0,r$G1\$" <(perms_of "$VBD")
done
for key in state feature-sg feature-rx-copy sidecore-switch; do
    ok "vif: $key written" grep -q "^$VIF/$key n0,r$G2\$" <(perms_of "$VIF")
done

# The frontend: reads them, writes none.
fe_write_fails() { ! xs_as "$1" xenstore-write "$2" 1 2>/dev/null; }
ok "frontend $G1 reads the vbd's state" quiet xs_as "$G1" xenstore-read "$VBD/state"
for key in state sectors feature-persistent; do
    ok "frontend $G1 cannot write the vbd's $key" fe_write_fails "$G1" "$VBD/$key"
done
ok "frontend $G1 cannot add a node to the vbd's directory" fe_write_fails "$G1" "$VBD/planted"
fails "frontend $G1 cannot remove the vbd's sectors" xs_as "$G1" xenstore-rm "$VBD/sectors"
ok "frontend $G2 reads the vif's feature-sg" quiet xs_as "$G2" xenstore-read "$VIF/feature-sg"
for key in state feature-sg sidecore-switch; do
    ok "frontend $G2 cannot write the vif's $key" fe_write_fails "$G2" "$VIF/$key"
done
fails "frontend $G2 cannot read the vbd of domain $G1" xs_as "$G2" xenstore-read "$VBD/state"
is "the vbd is still connected" "$(xs0 xenstore-read "$VBD/state")" 4

# The error node a failed device gets, where Linux's xenbus_dev_error puts
# it (error/<backend path> under the backend domain's home): created by
# the write, so its directories inherit the home's permissions, as Linux's.
G3=$(guest_new broken) && D3=$(disk_attach "$G3" "$SIMDIR/no-such-file") ||
    { echo "Bail out! broken disk"; exit 1; }
ERR=/local/domain/0/error/backend/vbd/$G3/$D3/error
ok "a disk that cannot be opened gets its error node" wait_for 10 xs0 xenstore-read "$ERR"
home=$(xs0 xenstore-ls -p /local/domain | sed -nE 's/^0 = .*\(([^)]*)\)$/\1/p')
ok "... /local/domain/0 has permissions ($home)" test -n "$home"
is "... the error node and its new directories inherit them" \
    "$(perms_of /local/domain/0/error/backend/vbd/$G3 | awk '{ print $2 }' | sort -u)" "$home"
fails "... frontend $G3 cannot write it" xs_as "$G3" xenstore-write "$ERR" forged

# xensim's xenstored gives new nodes their parent's permissions, and makes
# an unprivileged creator (a driver domain) their owner, as xenstored does:
# what the checks above rely on.
xs0 xenstore-write /trust/inh "" && xs0 xenstore-chmod /trust/inh n0 "b$G3" "r$G1" ||
    { echo "Bail out! xenstore-chmod"; exit 1; }
ok "domain $G3 creates below a directory it may write" \
    xs_as "$G3" xenstore-write /trust/inh/a/b v
ok "domain 0 too" xs0 xenstore-write /trust/inh/c v
is "an unprivileged creator owns the new nodes, the rest inherited" \
    "$(perms_of /trust/inh | sort)" \
    "/trust/inh n0,b$G3,r$G1
/trust/inh/a n$G3,b$G3,r$G1
/trust/inh/a/b n$G3,b$G3,r$G1
/trust/inh/c n0,b$G3,r$G1"

ok "sidecored is still running" sc_alive
ok "no sanitizer report" sc_log_clean
done_testing
