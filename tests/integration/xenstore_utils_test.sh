#!/bin/bash
# xenstore_utils_test.sh - Debian's xenstore-utils, unchanged, against
# xensim's xenstored (XENSTORED_PATH=<socket>): read/write/ls/list/rm/
# exists/chmod/watch as dom0 and as a guest domain.
. "$(dirname "$0")/../tools/simworld.sh"

simworld_start

# ---- dom0 basics ----
ok "write two keys" xs0 xenstore-write /t/a 1 /t/b two
is "read them back" "$(xs0 xenstore-read /t/a /t/b | tr '\n' ' ')" "1 two "
ok "exists" xs0 xenstore-exists /t/a
fails "exists of a missing node" xs0 xenstore-exists /t/none
fails "read of a missing node" xs0 xenstore-read /t/none
is "list" "$(xs0 xenstore-list /t | tr '\n' ' ')" "a b "
ok "write creates parents" xs0 xenstore-write /t/sub/c 3 /t/sub/d/e 4
is "ls shows the tree" "$(xs0 xenstore-ls /t)" \
   "$(printf 'a = "1"\nb = "two"\nsub = ""\n c = "3"\n d = ""\n  e = "4"')"
ok "rm a node" xs0 xenstore-rm /t/a
fails "removed node is gone" xs0 xenstore-read /t/a
ok "rm a subtree" xs0 xenstore-rm /t/sub
fails "nodes below the removed one are gone" xs0 xenstore-read /t/sub/d/e
is "only b is left" "$(xs0 xenstore-list /t)" "b"
ok "rm of a missing node under an existing parent is fine (as xenstored)" \
   xs0 xenstore-rm /t/none
fails "rm below a missing parent fails" xs0 xenstore-rm /nothing/here
fails "invalid characters are refused" xs0 xenstore-write '/t/a b' 1

# ---- a guest domain ----
if [ -x "$XENSIMCTL" ] && G=$("$XENSIMCTL" --dir "$SIMDIR" create utilsguest 2>/dev/null); then
    :
else
    # No toolstack: introduce domain 5 on the wire and give it a home.
    G=5
    perl -MIO::Socket::UNIX -e '
        my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!";
        my $p = "5\0000\0000\000";
        print $s pack("LLLL", 8, 0, 0, length($p)) . $p;
        read($s, my $h, 16) == 16 or die "no reply";
        my ($type, $r, $t, $len) = unpack("LLLL", $h);
        read($s, my $body, $len);
        exit($type == 8 ? 0 : 1);' "$SIMDIR/xs-0.sock" || echo "# introduce failed"
    xs0 xenstore-write /local/domain/5/domid 5
    xs0 xenstore-chmod -r /local/domain/5 n5
fi
echo "# guest domain $G"
ok "guest socket exists" test -S "$SIMDIR/xs-$G.sock"
is "guest reads its home relatively" "$(xs_as "$G" xenstore-read domid)" "$G"

ok "guest writes a relative path" xs_as "$G" xenstore-write data/k v
is "it lands under /local/domain/<id>" "$(xs0 xenstore-read "/local/domain/$G/data/k")" v
is "guest's node is owned by the guest" \
   "$(xs0 xenstore-ls -p "/local/domain/$G/data" | grep -o '(.*)')" "(n$G)"
fails "guest cannot write dom0's tree" xs_as "$G" xenstore-write /local/domain/0/x y
fails "guest cannot list /local/domain" xs_as "$G" xenstore-list /local/domain

ok "dom0 writes a shared node" xs0 xenstore-write /shared/x secret
ok "chmod to private" xs0 xenstore-chmod /shared/x n0
fails "guest cannot read a n0 node" xs_as "$G" xenstore-read /shared/x
fails "guest cannot write a n0 node" xs_as "$G" xenstore-write /shared/x y
ok "chmod with an ACL entry for the guest" xs0 xenstore-chmod /shared/x n0 "r$G"
is "ls -p shows the ACL" "$(xs0 xenstore-ls -p /shared | grep -o '(.*)')" "(n0,r$G)"
is "the ACL grants read" "$(xs_as "$G" xenstore-read /shared/x)" secret
fails "read access is not write access" xs_as "$G" xenstore-write /shared/x y
ok "chmod with write for everyone" xs0 xenstore-chmod /shared/x b0
ok "default permission grants write" xs_as "$G" xenstore-write /shared/x fromguest
is "guest's write is visible" "$(xs0 xenstore-read /shared/x)" fromguest
fails "guest cannot give its node to dom0" xs_as "$G" xenstore-chmod data/k n0

# ---- watches ----
WATCH_PIDS=""
kill_watchers() { for p in $WATCH_PIDS; do kill "$p" 2>/dev/null || true; done; }
SIM_CLEANUP_HOOKS="$SIM_CLEANUP_HOOKS kill_watchers"

# Starts xenstore-watch (-n 2) as domain $1 on $2 into file $3, waits for
# the initial event.
start_watch() {
    local dom=$1 path=$2 out=$3
    xs_as "$dom" timeout 10 xenstore-watch -n 2 "$path" >"$out" 2>&1 &
    WATCH_PIDS="$WATCH_PIDS $!"
    LAST_WATCH=$!
    for _ in $(seq 1 100); do
        [ -s "$out" ] && return 0
        sleep 0.05
    done
    return 1
}

ok "dom0 watch starts" start_watch 0 /wt "$SIMDIR/w0.out"
ok "write below the watched node" xs0 xenstore-write /wt/child 1
wait "$LAST_WATCH"
is "initial event, then the write's" "$(cat "$SIMDIR/w0.out")" "$(printf '/wt\n/wt/child')"

ok "guest watch on a relative path starts" start_watch "$G" data "$SIMDIR/wg.out"
ok "dom0 writes into the guest's data" xs0 xenstore-write "/local/domain/$G/data/k2" w
wait "$LAST_WATCH"
is "guest events are relative" "$(cat "$SIMDIR/wg.out")" "$(printf 'data\ndata/k2')"

done_testing
