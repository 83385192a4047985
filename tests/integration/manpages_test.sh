#!/bin/bash
# manpages_test.sh - the manuals (docs/man/*.scd) against the programs:
# each source goes through scdoc and groff without a warning; sidecored's
# options in --help and sidecored.8 are the same set, and so are the keys
# its config parser takes (--list-settings) and sidecored.conf.5; the
# commands and options of sidecorectl, xensimd and xensimctl in their
# --help and their manuals likewise.  Every listed key is fed to the
# parser, every listed command to its program, so a list that the code
# does not take fails too.
set -u
. "$(dirname "$0")/../tools/simworld.sh"

MAN=$(cd "$(dirname "$0")/../../docs/man" && pwd)
SIDECORED="$SC_BUILD/bin/sidecored"
SIDECORECTL="$SC_BUILD/bin/sidecorectl"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/manpages.XXXXXX")
man_cleanup() { rm -rf "$TMP"; }
SIM_CLEANUP_HOOKS="man_cleanup"

# Sorted unique words of stdin, one a line.
set_of() { tr ' ' '\n' | sed '/^$/d' | LC_ALL=C sort -u; }

# Passes when two sets (one word a line) are equal; says what differs.
same_set() {
    local name=$1 a=$2 b=$3 an=$4 bn=$5 only_a only_b
    only_a=$(LC_ALL=C comm -23 <(echo "$a") <(echo "$b") | tr '\n' ' ')
    only_b=$(LC_ALL=C comm -13 <(echo "$a") <(echo "$b") | tr '\n' ' ')
    [ -z "$only_a" ] || echo "# only in $an: $only_a"
    [ -z "$only_b" ] || echo "# only in $bn: $only_b"
    ok "$name" test -z "$only_a$only_b" -a -n "$a"
}

# The lines of section $2 ("# NAME" heading) of scdoc source $1.
section() { awk -v s="# $2" '/^# /{on = ($0 == s); next} on' "$1"; }
# Every *--option* of stdin (scdoc bold), without the dashes.
bold_opts() { grep -o '\*--[a-z][a-z0-9.-]*\*' | sed 's/^\*--//; s/\*$//'; }
# The word in bold at the start of each entry of stdin (*word* ...).
entries() { grep -o '^\*[a-z][a-z0-9._-]*\*' | tr -d '*'; }

# ---- every source through scdoc and groff ----
for src in "$MAN"/*.scd; do
    page=$(basename "$src" .scd)
    if scdoc <"$src" >"$TMP/$page" 2>"$TMP/$page.err"; then
        ok "$page: scdoc takes it" true
    else
        sed 's/^/# /' "$TMP/$page.err"
        ok "$page: scdoc takes it" false
        continue
    fi
    warn=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$TMP/$page" 2>&1)
    [ -z "$warn" ] || echo "$warn" | sed 's/^/# /'
    is "$page: groff -man -ww renders it without a warning" "$warn" ""
    name=${page%.*}
    ok "$page: NAME says $name" grep -q "^$name - " <(section "$src" NAME)
    ok "$page: its first line is $name(${page##*.})" \
        test "$(head -n 1 "$src")" = "$name(${page##*.})"
    if [ -f "$SC_BUILD/man/$page" ]; then
        ok "$page: make man's copy is up to date" cmp -s "$TMP/$page" "$SC_BUILD/man/$page"
    else
        ok "$page: not built (make man) # skip" true
    fi
done

# ---- sidecored(8): the options ----
help=$("$SIDECORED" --help)
is "sidecored --help exits 0" "$?" 0
ok "sidecored --help starts with its usage" grep -q '^usage: sidecored ' <<<"$help"
help_opts=$(grep -o '^  --[a-z][a-z0-9.-]*' <<<"$help" | sed 's/^  --//' | set_of)
man_opts=$(section "$MAN/sidecored.8.scd" OPTIONS | grep '^\*--' | bold_opts | set_of)
same_set "sidecored: the options of --help are those of sidecored.8" \
    "$help_opts" "$man_opts" "--help" "sidecored.8"

# ---- sidecored.conf(5): the keys ----
keys=$("$SIDECORED" --list-settings)
is "sidecored --list-settings exits 0" "$?" 0
keys=$(set_of <<<"$keys")
conf="$MAN/sidecored.conf.5.scd"
man_keys=$({
    for s in SETTINGS "DEVICE CLASS SETTINGS" "DEPRECATED NAMES"; do section "$conf" "$s"; done |
        entries
    # a guest's: "*res_iops* = _N_, *reservation_iops* = _N_"
    section "$conf" "GUEST SETTINGS" | grep '^\*' |
        grep -o '\*[a-z_]*\* = ' | tr -d '*= ' | sed 's/^/tenant.DOMID./'
} | set_of)
same_set "sidecored.conf.5 lists the keys the parser takes" "$keys" "$man_keys" \
    "--list-settings" "sidecored.conf.5"
# the file's keys are the options' names, less the per-guest ones
plain_keys=$(grep -v '^tenant\.' <<<"$keys")
same_set "each key is an option, each option but config/ready-fd/help a key" \
    "$plain_keys" "$(grep -vxE 'config|ready-fd|help' <<<"$help_opts")" "the keys" "the options"

# Each key, with a value no setting takes, in a file whose next line is
# unknown: a key the parser knows fails on its value, or on line 2.
unknown=""
while read -r key; do
    k=${key/DOMID/5}
    printf '%s = @bad@\nno-such-key = 1\n' "$k" >"$TMP/key.conf"
    err=$("$SIDECORED" --config "$TMP/key.conf" 2>&1)
    rc=$?
    if [ "$rc" != 2 ] || grep -qE "unknown setting '$k'|is not parsed" <<<"$err"; then
        unknown="$unknown $k"
        echo "# $k: exit $rc: $err"
    fi
done <<<"$keys"
is "the parser takes every listed key" "$unknown" ""
printf 'no-such-key = 1\n' >"$TMP/key.conf"
ok "... and refuses one that is not listed" \
    grep -q "unknown setting 'no-such-key'" <("$SIDECORED" --config "$TMP/key.conf" 2>&1)

# ---- sidecorectl(8) ----
help=$("$SIDECORECTL" --help)
is "sidecorectl --help exits 0" "$?" 0
ok "sidecorectl --help starts with its usage" grep -q '^usage: sidecorectl ' <<<"$help"
tophelp=$("$SIDECORECTL" top --help)
is "sidecorectl top --help exits 0" "$?" 0
# commands: the first word of each two-space line; the views' line is "a | b | c"
help_cmds=$(grep -E '^  [a-z]' <<<"$help" | sed -E 's/^  //; s/  .*//' |
    sed -E 's/ [|] /|/g; s/ .*//' | tr '|' '\n' | set_of)
man_cmds=$({ section "$MAN/sidecorectl.8.scd" VIEWS; section "$MAN/sidecorectl.8.scd" COMMANDS; } |
    entries | set_of)
same_set "sidecorectl: the commands of --help are those of sidecorectl.8" \
    "$help_cmds" "$man_cmds" "--help" "sidecorectl.8"
help_opts=$(cat <<<"$help$tophelp" | grep -o -- '--[a-z][a-z0-9-]*' | sed 's/^--//' | set_of)
man_opts=$(bold_opts <"$MAN/sidecorectl.8.scd" | set_of)
same_set "sidecorectl: the options of --help (and top --help) are those of sidecorectl.8" \
    "$help_opts" "$man_opts" "--help" "sidecorectl.8"
tops=$(grep -oE '^  -[a-z], --[a-z-]+' <<<"$tophelp" | sed 's/, /:/' | set_of)
mantops=$(grep -oE '^\*-[a-z]\*, \*--[a-z-]+\*' "$MAN/sidecorectl.8.scd" | sed 's/\*, \*/:/' |
    tr -d '*' | set_of)
same_set "sidecorectl top: the short options go with the same long ones" "$tops" "$mantops" \
    "top --help" "sidecorectl.8"
bad=""
for c in $help_cmds; do
    out=$("$SIDECORECTL" --socket "$TMP/none.sock" "$c" 2>&1 </dev/null)
    grep -q "unknown command" <<<"$out" && bad="$bad $c"
done
is "sidecorectl knows every command of its --help" "$bad" ""

# ---- xensimd(1) ----
help=$("$XENSIMD" --help)
is "xensimd --help exits 0" "$?" 0
ok "xensimd --help starts with its usage" grep -q '^usage: xensimd ' <<<"$help"
same_set "xensimd: the options of --help are those of xensimd.1" \
    "$(grep -o -- '--[a-z][a-z0-9-]*' <<<"$help" | sed 's/^--//' | set_of)" \
    "$(bold_opts <"$MAN/xensimd.1.scd" | set_of)" "--help" "xensimd.1"

# ---- xensimctl(1) ----
help=$("$XENSIMCTL" --help)
is "xensimctl --help exits 0" "$?" 0
ok "xensimctl --help starts with its usage" grep -q '^usage: xensimctl ' <<<"$help"
help_cmds=$(grep -oE '^  [a-z][a-z-]+' <<<"$help" | sed 's/^  //' | set_of)
man_cmds=$(section "$MAN/xensimctl.1.scd" COMMANDS | entries | set_of)
same_set "xensimctl: the commands of --help are those of xensimctl.1" \
    "$help_cmds" "$man_cmds" "--help" "xensimctl.1"
same_set "xensimctl: the options of --help are those of xensimctl.1" \
    "$(grep -o -- '--[a-z][a-z0-9-]*' <<<"$help" | sed 's/^--//' | set_of)" \
    "$(bold_opts <"$MAN/xensimctl.1.scd" | set_of)" "--help" "xensimctl.1"
# vif-attach's block of --help: from its line to the next command's
help_keys=$(awk '/^  vif-attach /{on=1} on && /^  [a-z]/ && !/^  vif-attach /{on=0} on' <<<"$help" |
    grep -oE '\[[a-z]+=' | tr -d '[=' | set_of)
man_keys=$(grep -oE '^	- \*[a-z]+=\*' "$MAN/xensimctl.1.scd" | sed -E 's/.*\*([a-z]+)=\*/\1/' |
    set_of)
ok "xensimctl.1 has every vif-attach key of --help" \
    test -z "$(LC_ALL=C comm -23 <(echo "$help_keys") <(echo "$man_keys"))"
simworld_start
bad=""
for k in $man_keys; do
    out=$("$XENSIMCTL" vif-attach 0 "$k=@bad@" 2>&1)
    grep -q "unknown key" <<<"$out" && bad="$bad $k"
done
is "xensimctl vif-attach takes every key of xensimctl.1" "$bad" ""
out=$("$XENSIMCTL" vif-attach 0 "nokey=1" 2>&1)
ok "... and refuses one it does not list" grep -q "unknown key" <<<"$out"

done_testing
