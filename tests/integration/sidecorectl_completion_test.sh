#!/bin/bash
# sidecorectl_completion_test.sh - tools/completion/sidecorectl sourced in
# bash: COMPREPLY for the commands (the same set as sidecorectl --help
# lists), a command's options, top's, set-tenant's keys, and the devices
# of a running sidecored (a disk and a vif on xensim) for resize-check and
# vif-rate; nothing, and at once, when no daemon answers.
set -u
. "$(dirname "$0")/../tools/blk_e2e_lib.sh"
SIM_CLEANUP_HOOKS="blk_cleanup"
. "$(dirname "$0")/../../tools/completion/sidecorectl"
export PATH="$SC_BUILD/bin:$PATH"

# The sorted completions of a command line given as words, the last one
# being completed ("" for a new word).
comp() {
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _sidecorectl
    printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
}
words() { tr ' ' '\n' | sed '/^$/d' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'; }

ok "complete -F _sidecorectl is registered" grep -q _sidecorectl <(complete -p sidecorectl)

help=$(sidecorectl --help)
help_cmds=$(grep -E '^  [a-z]' <<<"$help" | sed -E 's/^  //; s/  .*//' |
    sed -E 's/ [|] /|/g; s/ .*//' | tr '|' ' ' | words)
ok "sidecorectl --help lists commands" test -n "$help_cmds"
is "after 'sidecorectl ': the commands of --help" "$(comp sidecorectl "")" "$help_cmds"
is "a prefix: 'sidecorectl st'" "$(comp sidecorectl st)" "status"
is "after the socket option too" "$(comp sidecorectl --socket /x.sock re)" \
    "rebalance resize-check"
is "the global options" "$(comp sidecorectl --)" "--count --help --json --socket --watch"
is "a view's options" "$(comp sidecorectl queues --)" "--count --json --watch"
is "rebalance's options" "$(comp sidecorectl rebalance --)" "--dry-run --json"
is "place's options" "$(comp sidecorectl place 5 --)" \
    "--check --cpus --dry-run --json --pcpus --pool --sched --vcpus"
is "place --sched: the schedulers" "$(comp sidecorectl place 5 --sched n)" "null"
is "place: nothing for the domain" "$(comp sidecorectl place "")" ""
is "vif-rate's option" "$(comp sidecorectl vif-rate vif/1/0 1000,100 --)" "--rx"
tophelp=$(sidecorectl top --help)
top_opts=$(grep -oE '^  -[a-z], --[a-z-]+' <<<"$tophelp" | tr -d ',' | words)
is "top's options: those of top --help" "$(comp sidecorectl top -)" "$top_opts"
is "top -v: its views" "$(comp sidecorectl top -v "")" "cores guests queues"
is "set-tenant's keys after the domid" "$(comp sidecorectl set-tenant 5 vbd.l)" \
    "vbd.lim_bps= vbd.lim_iops="
is "set-tenant: nothing for the domid" "$(comp sidecorectl set-tenant "")" ""

simworld_start
start=$(date +%s%N)
is "no daemon: no device" "$(comp sidecorectl resize-check "")" ""
ok "... at once" test $(( ($(date +%s%N) - start) / 1000000 )) -lt 1500

sc_start --mode poll --cores 1 --vif.tap no || echo "Bail out! sidecored did not start"
g=$(guest_new g1)
d=$(disk_attach "$g" "$(disk_file 16M)")
v=$("$XENSIMCTL" vif-attach "$g" mac=00:16:3e:00:00:01)
wait_for 10 dev_listed "$g" "$d"
wait_for 10 grep -q '"vif 1/0"' <(sidecorectl devices --json)
is "resize-check: the daemon's disks" "$(comp sidecorectl resize-check "")" "vbd/$g/$d"
is "vif-rate: the daemon's vifs" "$(comp sidecorectl vif-rate v)" "vif/$g/$v"
is "--socket before the command is asked" \
    "$(comp sidecorectl --socket "$SIMDIR/sidecored.sock" vif-rate "")" "vif/$g/$v"
is "a socket with no daemon: nothing" \
    "$(comp sidecorectl --socket "$SIMDIR/none.sock" vif-rate "")" ""
is "the second argument is not a device" "$(comp sidecorectl vif-rate "vif/$g/$v" "")" ""

sc_stop
done_testing
