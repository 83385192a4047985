#!/bin/bash
# xensimctl_test.sh - the xensim toolstack CLI: create, list, env, destroy,
# and its errors and exit codes (0 ok, 1 failed, 2 usage).
set -u
. "$(dirname "$0")/../tools/simworld.sh"

simworld_start

# Exit code of a command, its output discarded.
rc() { "$@" >/dev/null 2>&1; echo $?; }
quiet() { "$@" >/dev/null; }

id=$("$XENSIMCTL" create web --mem 16)
ok "create prints a domid" test -n "$id"
ok "the domid is a positive number" test "$id" -gt 0 2>/dev/null

list=$("$XENSIMCTL" list)
ok "list shows the domain" grep -Eq "^$id +web +running +16\$" <<<"$list"
ok "list shows dom0" grep -Eq "^0 +Domain-0 +running" <<<"$list"

id2=$("$XENSIMCTL" --dir "$SIMDIR" create db)
ok "create with --dir" test -n "$id2"
is "a second domain gets another domid" "$([ "$id2" != "$id" ] && echo diff)" "diff"

env_out=$("$XENSIMCTL" env web)
is "env by name and by domid agree" "$env_out" "$("$XENSIMCTL" env "$id")"
(
    eval "$env_out"
    [ "$XENSIM_DOMID" = "$id" ] && [ "$XENSIM_DIR" -ef "$SIMDIR" ] &&
        [ "$XENSTORED_PATH" = "$XENSIM_DIR/xs-$id.sock" ]
)
ok "env exports XENSIM_DIR, XENSIM_DOMID, XENSTORED_PATH" test $? -eq 0
name=$(eval "$env_out"; xenstore-read name 2>/dev/null)
is "env output reaches the domain's xenstore" "$name" "web"

is "duplicate name fails with 1" "$(rc "$XENSIMCTL" create web)" 1
is "destroy unknown name fails with 1" "$(rc "$XENSIMCTL" destroy nosuch)" 1
is "destroy unknown domid fails with 1" "$(rc "$XENSIMCTL" destroy 200)" 1
is "env of unknown name fails with 1" "$(rc "$XENSIMCTL" env nosuch)" 1
is "destroying dom0 fails with 1" "$(rc "$XENSIMCTL" destroy 0)" 1
is "unknown command is a usage error" "$(rc "$XENSIMCTL" frobnicate)" 2
is "create without a name is a usage error" "$(rc "$XENSIMCTL" create)" 2
is "bad --mem is a usage error" "$(rc "$XENSIMCTL" create big --mem lots)" 2
is "no directory is a usage error" "$(XENSIM_DIR= rc "$XENSIMCTL" list)" 2
is "a directory without a daemon fails with 1" "$(rc "$XENSIMCTL" --dir "$SIMDIR/none" list)" 1
err=$("$XENSIMCTL" destroy nosuch 2>&1 >/dev/null)
ok "errors name what was not found" grep -q "nosuch" <<<"$err"

ok "destroy by name" "$XENSIMCTL" destroy web
ok "destroy by domid" "$XENSIMCTL" destroy "$id2"
list=$("$XENSIMCTL" list)
fails "list no longer shows web" grep -q " web " <<<"$list"
fails "list no longer shows db" grep -q " db " <<<"$list"
is "destroying it again fails with 1" "$(rc "$XENSIMCTL" destroy web)" 1
ok "the name can be reused" quiet "$XENSIMCTL" create web

done_testing
